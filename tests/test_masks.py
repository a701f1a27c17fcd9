"""Keypoints -> group boxes, boxes -> masks, and the per-dataset box cache."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mgmtn.attributes import GROUP_NAMES
from mgmtn.data.celeba import read_index
from mgmtn.data.layout import IMAGE_DIR, write_attributes, write_keypoints, write_landmarks, write_partition
from mgmtn.errors import DataError
from mgmtn.masks import (aligned_fallback, annotate, box_path, boxes_or_fallback, boxes_to_quads, group_boxes, load_boxes,
                         render_masks, scale_boxes)
from mgmtn.masks import cache

G = {name: k for k, name in enumerate(GROUP_NAMES)}


def _ellipse(centre, a, b, start, stop, n):
    angles = np.radians(np.linspace(start, stop, n))
    return np.stack([centre[0] + a * np.cos(angles), centre[1] + b * np.sin(angles)], axis=1)


def wflw_face(eye_mid=(89.0, 110.0), s=38.0) -> np.ndarray:
    """A symmetric hand-placed WFLW-98 face: eye centres s apart, chin 1.9 s below the eye line."""
    def at(points):
        return np.asarray(eye_mid) + s * np.asarray(points, dtype=np.float64)

    left_brow = np.concatenate([np.stack([np.linspace(-0.9, -0.2, 5), np.full(5, -0.35)], 1),
                                np.stack([np.linspace(-0.3, -0.8, 4), np.full(4, -0.25)], 1)])
    parts = [
        _ellipse((0, 0), 1.15, 1.9, 180, 0, 33),  # contour 0-32, chin 16
        left_brow, left_brow * [-1, 1],  # brows 33-41, 42-50
        np.stack([np.zeros(4), np.linspace(0, 0.58, 4)], 1),  # nose bridge 51-54
        np.stack([np.linspace(-0.22, 0.22, 5), [0.71, 0.75, 0.79, 0.75, 0.71]], 1),  # nose base 55-59
        _ellipse((-0.5, 0), 0.19, 0.07, 180, -135, 8), _ellipse((0.5, 0), 0.19, 0.07, 180, -135, 8),  # eyes
        _ellipse((0, 1.15), 0.46, 0.17, 180, -150, 12), _ellipse((0, 1.15), 0.35, 0.06, 180, -135, 8),  # mouth
        np.array([(-0.5, 0.0), (0.5, 0.0)]),  # pupils 96, 97
    ]
    return at(np.concatenate(parts))


WFLW_TO_68 = (list(range(0, 33, 2)) + [33, 34, 35, 36, 37, 42, 43, 44, 45, 46] + list(range(51, 60))
              + [60, 61, 63, 64, 65, 67, 68, 69, 71, 72, 73, 75] + list(range(76, 96)))


def five_points(face98: np.ndarray) -> np.ndarray:
    return face98[[96, 97, 54, 76, 82]]


def contains(box, points) -> bool:
    points = np.atleast_2d(points)
    return bool(((points >= box[:2]) & (points <= box[2:])).all())


def iou(a, b) -> float:
    inter = np.prod(np.clip(np.minimum(a[2:], b[2:]) - np.maximum(a[:2], b[:2]), 0, None))
    return inter / (np.prod(a[2:] - a[:2]) + np.prod(b[2:] - b[:2]) - inter)


# ---------------------------------------------------------------- keypoints -> boxes

def test_hand_made_face_has_98_points_in_wflw_order():
    face = wflw_face()
    assert face.shape == (98, 2)
    assert face[16, 1] == face[:33, 1].max()  # chin is the lowest contour point
    assert len(WFLW_TO_68) == 68


def test_each_box_holds_its_facial_region():
    face, s = wflw_face(), 38.0
    boxes = group_boxes(face)
    assert boxes.shape == (8, 4)
    assert (boxes[:, 2:] > boxes[:, :2]).all()
    assert contains(boxes[G["Mouth"]], face[76:96])
    assert contains(boxes[G["Mouth"]], face[55:60])  # moustache area up to the nose base
    assert contains(boxes[G["Nose"]], face[51:60])
    assert contains(boxes[G["Eyes"]], face[33:51]) and contains(boxes[G["Eyes"]], face[60:76])
    assert contains(boxes[G["Cheeks"]], face[[76, 82]]) and contains(boxes[G["Cheeks"]], face[[4, 28]])
    assert contains(boxes[G["Ear"]], face[[0, 4, 28, 32]])
    assert boxes[G["Ear"], 0] < face[:, 0].min() and boxes[G["Ear"], 2] > face[:, 0].max()
    assert contains(boxes[G["Lower_Face"]], face[6:27])
    assert boxes[G["Lower_Face"], 3] > face[16, 1] + s  # necklace and necktie sit below the chin
    assert boxes[G["Hair"], 1] < face[33:51, 1].min() - 2 * s  # up to the top of the head
    assert boxes[G["Hair"], 3] <= face[60:76, 1].max()  # down the sides to the eye line
    assert contains(boxes[G["Object"]], face)
    np.testing.assert_allclose(boxes[G["Object"]], [*boxes[:7, :2].min(0), *boxes[:7, 2:].max(0)])


def test_boxes_scale_and_move_with_the_face():
    face = wflw_face()
    boxes = group_boxes(face)
    np.testing.assert_allclose(group_boxes(face * 1.5), boxes * 1.5, atol=1e-9)
    np.testing.assert_allclose(group_boxes(face + [7, -3]), boxes + [7, -3, 7, -3], atol=1e-9)


def test_boxes_follow_the_roll_of_the_face():
    face = wflw_face()
    centre = face[[96, 97]].mean(0)
    c, s = np.cos(np.radians(30)), np.sin(np.radians(30))
    rolled = (face - centre) @ np.array([[c, s], [-s, c]]) + centre
    boxes = group_boxes(rolled)
    assert contains(boxes[G["Mouth"]], rolled[76:96]) and contains(boxes[G["Eyes"]], rolled[33:51])
    assert contains(boxes[G["Eyes"]], rolled[60:76]) and contains(boxes[G["Object"]], rolled)


def test_68_and_5_point_boxes_agree_with_98():
    face = wflw_face()
    boxes98 = group_boxes(face)
    np.testing.assert_allclose(group_boxes(face[WFLW_TO_68]), boxes98, atol=0.05 * 38)
    boxes5 = group_boxes(five_points(face))
    for g, name in enumerate(GROUP_NAMES):
        assert iou(boxes5[g], boxes98[g]) > 0.75, name


def test_batches_clipping_and_bad_point_counts():
    faces = np.stack([wflw_face(), wflw_face(s=30.0), wflw_face((60.0, 90.0))])
    np.testing.assert_allclose(group_boxes(faces)[1], group_boxes(faces[1]))
    clipped = group_boxes(faces, image_size=(178, 218))
    assert clipped.min() >= 0 and (clipped[..., [0, 2]] <= 178).all() and (clipped[..., [1, 3]] <= 218).all()
    assert clipped[2, G["Hair"], 1] == 0 and clipped[2, G["Lower_Face"], 3] == 218
    with pytest.raises(ValueError, match="98 .* 68 .* 5"):
        group_boxes(np.zeros((10, 2)))


@pytest.mark.parametrize("ratio", [0.64, 0.81, 1.0, 1.21, 1.44])
def test_scale_boxes_gives_the_exact_area_ratio(ratio):
    boxes = group_boxes(wflw_face())
    area = np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)
    for scaled in (scale_boxes(boxes, ratio), scale_boxes(torch.from_numpy(boxes), ratio).numpy()):
        np.testing.assert_allclose(np.prod(scaled[:, 2:] - scaled[:, :2], axis=1), area * ratio)
        np.testing.assert_allclose(scaled[:, :2] + scaled[:, 2:], boxes[:, :2] + boxes[:, 2:])


# ---------------------------------------------------------------- boxes -> masks

def test_render_masks_fills_exactly_the_box_pixels():
    boxes = np.array([[2, 4, 10, 8], [0, 0, 16, 12], [5, 5, 5, 9]])
    masks = render_masks(boxes_to_quads(boxes), (16, 12))
    assert masks.shape == (3, 12, 16) and masks.dtype == bool
    expected = np.zeros((12, 16), bool)
    expected[4:8, 2:10] = True
    np.testing.assert_array_equal(masks[0], expected)
    assert masks[1].all() and not masks[2].any()
    reversed_winding = boxes_to_quads(boxes)[:, ::-1]
    np.testing.assert_array_equal(render_masks(reversed_winding, (16, 12)), masks)
    half = render_masks(boxes_to_quads(boxes), (8, 6), frame_size=(16, 12))
    np.testing.assert_array_equal(half[0], expected[::2, ::2])


# ---------------------------------------------------------------- box cache

@pytest.fixture
def synthetic_folder(tmp_path: Path) -> Path:
    """Seven 120x150 images with exact WFLW keypoints and CelebA landmarks."""
    root = tmp_path / "faces"
    (root / IMAGE_DIR).mkdir(parents=True)
    ids = [f"{i:06d}.jpg" for i in range(1, 8)]
    faces = np.stack([wflw_face((60.0 + k, 70.0), 25.0 + k) for k in range(len(ids))])
    for image_id in ids:
        Image.new("RGB", (120, 150), (128, 100, 90)).save(root / IMAGE_DIR / image_id)
    write_attributes(root, ids, np.zeros((len(ids), 40), np.uint8))
    write_partition(root, ids, [0, 0, 0, 0, 0, 1, 2])
    write_keypoints(root, ids, faces)
    write_landmarks(root, ids, faces[:, [96, 97, 54, 76, 82]])
    return root


@pytest.mark.parametrize("name", ["synthetic", "celeba5"])
def test_annotate_writes_the_boxes_of_every_image(synthetic_folder, name):
    summary = annotate(synthetic_folder, name, progress=False)
    assert (summary.images, summary.found, summary.fallbacks, summary.computed) == (7, 7, 0, 7)
    assert summary.path == box_path(synthetic_folder, name) and summary.path.exists()
    index = read_index(synthetic_folder)
    points = index.keypoints if name == "synthetic" else index.landmarks
    expected = np.rint(group_boxes(points, (120, 150))).astype(np.int16)
    with np.load(summary.path) as data:
        np.testing.assert_array_equal(data["boxes"], expected)
        assert data["ids"].tolist() == index.ids and data["found"].all()
        assert (data["sizes"] == (120, 150)).all() and str(data["annotator"]) == name
    np.testing.assert_array_equal(load_boxes(synthetic_folder, name), expected)
    val_test = index.split("val")
    np.testing.assert_array_equal(load_boxes(synthetic_folder, name, index=val_test), expected[[5]])


def test_interrupted_annotation_resumes_from_its_checkpoint(synthetic_folder, monkeypatch):
    monkeypatch.setattr(cache, "CHUNK_SIZE", 2)
    monkeypatch.setattr(cache, "CHECKPOINT_SECONDS", 0.0)
    calls = {"n": 0}
    real = cache.boxes_or_fallback

    def crash_on_fifth(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(cache, "boxes_or_fallback", crash_on_fifth)
    out = box_path(synthetic_folder, "synthetic")
    with pytest.raises(KeyboardInterrupt):
        annotate(synthetic_folder, "synthetic", progress=False)
    assert not out.exists()
    with np.load(cache._partial_path(out)) as partial:
        assert partial["done"].sum() == 4
    summary = annotate(synthetic_folder, "synthetic", progress=False)
    assert summary.computed == 3 and summary.images == 7
    assert not cache._partial_path(out).exists()
    monkeypatch.setattr(cache, "boxes_or_fallback", real)
    fresh = annotate(synthetic_folder, "synthetic", progress=False, resume=False, out=out.with_name("fresh.npz"))
    np.testing.assert_array_equal(load_boxes(synthetic_folder, "synthetic"),
                                  load_boxes(synthetic_folder, "synthetic", path=fresh.path))


def test_load_boxes_names_the_file_at_fault(synthetic_folder, tmp_path):
    with pytest.raises(DataError, match="boxes_synthetic.npz: box cache not found"):
        load_boxes(synthetic_folder, "synthetic")
    other = tmp_path / "other.npz"
    np.savez(other, boxes=np.zeros((2, 8, 4), np.int16), ids=np.array(["000001.jpg", "000002.jpg"]))
    with pytest.raises(DataError, match="other.npz: holds boxes for 2 images but 5 of the 7"):
        load_boxes(synthetic_folder, "synthetic", path=other)


def test_boxes_of_a_read_only_dataset_go_to_the_cache_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("MGMTN_HOME", str(tmp_path / "home"))
    data = tmp_path / "celeba"
    data.mkdir()
    assert box_path(data, "dlib") == data / "boxes_dlib.npz"
    data.chmod(0o555)
    try:
        path = box_path(data, "dlib")
    finally:
        data.chmod(0o755)
    assert path.parent.parent == tmp_path / "home" / "boxes" and path.name == "boxes_dlib.npz"


def test_a_face_without_keypoints_gets_the_aligned_fallback_boxes():
    size = (178, 218)
    np.testing.assert_array_equal(boxes_or_fallback(None, size), group_boxes(aligned_fallback(size), size))
    points = aligned_fallback(size) + 5
    np.testing.assert_array_equal(boxes_or_fallback(points, size), group_boxes(points, size))
