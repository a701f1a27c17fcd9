"""The synthetic face generator: layout, determinism, label statistics, and where each attribute is drawn."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mgmtn.attributes import ATTRIBUTES, GROUP_NAMES, attribute_index, group_of
from mgmtn.data.layout import ATTR_FILE, IMAGE_DIR, KEYPOINT_FILE, LANDMARK_FILE, PARTITION_FILE
from mgmtn.data.synth import Pose, generate, render_face, sample_labels, sample_pose
from mgmtn.data.synth.contrast import attribute_pair
from mgmtn.data.synth.labels import BALD_EXCLUDES, HAIR_COLOURS, HAIR_TEXTURES, marginal_rates
from mgmtn.masks.regions import group_boxes

SIZE = (178, 218)


def _table(path: Path) -> tuple[list[str], list[str], np.ndarray]:
    """Header names, ids and values of a CelebA text file with a count line and a header."""
    lines = path.read_text().splitlines()
    rows = [line.split() for line in lines[2:]]
    assert int(lines[0]) == len(rows)
    return lines[1].split(), [r[0] for r in rows], np.array([r[1:] for r in rows], dtype=float)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return generate(tmp_path_factory.mktemp("synth") / "faces", n=10, seed=3, split=(0.6, 0.2, 0.2),
                    progress=False)


def test_writes_the_celeba_layout(dataset):
    names, ids, labels = _table(dataset / ATTR_FILE)
    assert names == list(ATTRIBUTES)
    assert ids == [f"{i:06d}.jpg" for i in range(1, 11)]
    assert set(np.unique(labels)) <= {-1.0, 1.0}
    partition = [line.split() for line in (dataset / PARTITION_FILE).read_text().splitlines()]
    assert [p[0] for p in partition] == ids
    assert [int(p[1]) for p in partition] == [0] * 6 + [1] * 2 + [2] * 2
    for image_id in ids:
        with Image.open(dataset / IMAGE_DIR / image_id) as image:
            assert image.format == "JPEG" and image.mode == "RGB" and image.size == SIZE
    _, kp_ids, keypoints = _table(dataset / KEYPOINT_FILE)
    keypoints = keypoints.reshape(len(ids), 98, 2)
    assert kp_ids == ids
    assert (keypoints >= 0).all() and (keypoints <= SIZE).all()
    _, lm_ids, five = _table(dataset / LANDMARK_FILE)
    assert lm_ids == ids
    np.testing.assert_allclose(five.reshape(-1, 5, 2), keypoints[:, [96, 97, 54, 76, 82]], atol=0.51)


def test_landmarks_sit_like_a_celeba_crop():
    _, points = render_face(_plain(), Pose(), np.random.default_rng(0))
    eyes, nose, mouth = points[96:98], points[54], points[[76, 82]]
    np.testing.assert_allclose(eyes, [(69, 111), (108, 111)], atol=1.5)
    np.testing.assert_allclose(nose, (89, 135), atol=1.5)
    np.testing.assert_allclose(mouth, [(72, 152), (106, 152)], atol=2.0)
    assert abs(points[16, 1] - 185) < 3


@pytest.mark.parametrize("angle, scale, dx, dy", [(-15, 1.12, -6, 5), (15, 1.12, 6, 5), (15, 0.88, -6, -5)])
def test_keypoints_stay_inside_at_extreme_poses(angle, scale, dx, dy):
    labels = _plain()
    labels[attribute_index("Chubby")] = 1
    _, points = render_face(labels, Pose(angle, scale, dx, dy), np.random.default_rng(0))
    assert (points >= 0).all() and (points < SIZE).all()


def test_other_sizes(tmp_path):
    root = generate(tmp_path, n=2, size=(128, 160), progress=False)
    with Image.open(root / IMAGE_DIR / "000001.jpg") as image:
        assert image.size == (128, 160)


def _folder_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_any_workers(tmp_path):
    one = _folder_bytes(generate(tmp_path / "a", n=6, seed=7, progress=False))
    assert one == _folder_bytes(generate(tmp_path / "b", n=6, seed=7, progress=False))
    assert one == _folder_bytes(generate(tmp_path / "c", n=6, seed=7, workers=2, progress=False))
    other = _folder_bytes(generate(tmp_path / "d", n=6, seed=8, progress=False))
    assert one[ATTR_FILE] != other[ATTR_FILE]
    assert one[f"{IMAGE_DIR}/000001.jpg"] != other[f"{IMAGE_DIR}/000001.jpg"]


def test_label_noise_flips_stored_labels_only(tmp_path):
    clean = generate(tmp_path / "clean", n=20, seed=1, progress=False)
    noisy = generate(tmp_path / "noisy", n=20, seed=1, label_noise=0.2, progress=False)
    flipped = (_table(clean / ATTR_FILE)[2] != _table(noisy / ATTR_FILE)[2]).mean()
    assert 0.15 < flipped < 0.25
    assert (clean / IMAGE_DIR / "000005.jpg").read_bytes() == (noisy / IMAGE_DIR / "000005.jpg").read_bytes()


@pytest.mark.parametrize("kwargs, message", [
    ({"n": 0}, "n must be"), ({"split": (0.5, 0.5, 0.5)}, "split"), ({"size": (40, 218)}, "size"),
    ({"label_noise": 0.7}, "label_noise"), ({"workers": 0}, "workers"),
])
def test_invalid_arguments(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        generate(tmp_path, **{"n": 2, "progress": False, **kwargs})


@pytest.fixture(scope="module")
def many_labels() -> np.ndarray:
    return sample_labels(np.random.default_rng(0), 2000)


def test_label_rates_follow_celeba(many_labels):
    rate = dict(zip(ATTRIBUTES, many_labels.mean(axis=0)))
    male = many_labels[:, attribute_index("Male")] == 1
    assert abs(rate["Male"] - 0.42) <= 0.05
    assert abs(rate["No_Beard"] - 0.83) <= 0.05
    assert rate["Bald"] <= 0.05
    assert many_labels[male, attribute_index("Wearing_Lipstick")].mean() < 0.05
    np.testing.assert_allclose(many_labels.mean(axis=0), marginal_rates(), atol=0.05)


def test_labels_are_drawable(many_labels):
    col = {name: many_labels[:, attribute_index(name)] == 1 for name in ATTRIBUTES}
    assert many_labels[:, [attribute_index(n) for n in HAIR_COLOURS]].sum(axis=1).max() <= 1
    assert not (col["Straight_Hair"] & col["Wavy_Hair"]).any()
    assert not any((col["Bald"] & col[name]).any() for name in BALD_EXCLUDES)
    assert not ((col["Goatee"] | col["Mustache"]) & col["No_Beard"]).any()
    # the couplings survive: smiles lift cheekbones, make-up comes with lipstick
    cheekbones = col["High_Cheekbones"]
    assert cheekbones[col["Smiling"]].mean() > cheekbones[~col["Smiling"]].mean() + 0.4
    assert col["Wearing_Lipstick"][col["Heavy_Makeup"]].mean() > 0.9


def _plain() -> np.ndarray:
    """A young, attractive, beardless face with nothing else on."""
    labels = np.zeros(len(ATTRIBUTES), dtype=np.uint8)
    for name in ("Young", "Attractive", "No_Beard"):
        labels[attribute_index(name)] = 1
    return labels


def _busy() -> np.ndarray:
    """A young man with sideburns, a beard, a double chin and a tie: cues checked against each other."""
    return sample_labels(np.random.default_rng(15), 1)[0]


def _pair(base: np.ndarray, name: str, seed: int):
    """Renders with ``name`` off and on as float arrays, with their keypoints."""
    return [(np.asarray(image, dtype=float), points) for image, points in attribute_pair(base, name, seed)]


def _mass_in(diff: np.ndarray, box: np.ndarray) -> float:
    x0, y0 = np.floor(box[:2]).astype(int)
    x1, y1 = np.ceil(box[2:]).astype(int)
    return float(diff[y0:y1, x0:x1].sum())


@pytest.mark.parametrize("base", [_plain, _busy], ids=["plain", "busy"])
@pytest.mark.parametrize("name", ATTRIBUTES)
def test_each_attribute_is_drawn_in_its_region(name, base):
    """Switching one attribute changes pixels, mostly inside its group's box.

    The boxes are the package's own group regions (mgmtn.masks), computed
    from the exact keypoints, i.e. what a mask-guided model is shown.
    """
    (off, points_off), (on, points_on) = _pair(base(), name, seed=attribute_index(name))
    diff = np.abs(on - off).sum(axis=2)
    assert (diff > 30).sum() >= 20, f"{name} is not visible"
    boxes = [group_boxes(p, SIZE) for p in (points_off, points_on)]
    box = np.concatenate([np.minimum(*boxes)[:, :2], np.maximum(*boxes)[:, 2:]], axis=1)  # both renders
    group = group_of()[name]
    if group != "Object":
        inside = _mass_in(diff, box[GROUP_NAMES.index(group)]) / diff.sum()
        assert inside > 0.6, f"{name}: only {inside:.0%} of the change is in the {group} region"
        return
    # Object attributes change the face as a whole: upper, middle and lower thirds of it.
    top, bottom = points_on[33:51, 1].min(), points_on[16, 1]
    thirds = np.linspace(top, bottom, 4)
    shares = [diff[int(a):int(b)].sum() / diff.sum() for a, b in zip(thirds[:-1], thirds[1:])]
    assert sum(s > 0.05 for s in shares) >= 2, f"{name} changes only one part of the face: {shares}"
    if name != "Blurry":
        inside = _mass_in(diff, box[GROUP_NAMES.index("Object")]) / diff.sum()
        assert inside > 0.5, f"{name}: only {inside:.0%} of the change is on the face"
