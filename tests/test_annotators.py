"""Keypoint annotators: dlib on real CelebA faces, the offline FaRL failure, the fallback geometry."""

import importlib.util
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mgmtn.data.celeba import read_index
from mgmtn.data.layout import IMAGE_DIR, write_attributes, write_landmarks, write_partition
from mgmtn.errors import MgmtnError
from mgmtn.masks import aligned_fallback, annotate, get_annotator, group_boxes, load_boxes


@pytest.fixture(scope="module")
def dlib_annotator():
    return get_annotator("dlib")


@pytest.fixture
def real_images(celeba_subset: Path) -> list[Path]:
    return sorted((celeba_subset / IMAGE_DIR).iterdir())


def test_farl_fails_at_once_offline_naming_the_alternatives():
    if importlib.util.find_spec("facer") is not None:
        pytest.skip("pyfacer is installed here; the offline failure cannot be shown")
    start = time.perf_counter()
    with pytest.raises(MgmtnError) as error:
        get_annotator("farl", root="/nonexistent/folder/is/never/read")
    assert time.perf_counter() - start < 1.0
    message = str(error.value)
    assert "\n" not in message and "pyfacer" in message
    assert all(name in message for name in ("'dlib'", "'celeba5'", "'synthetic'"))


def test_unknown_or_unusable_annotators_say_why(tiny_celeba):
    with pytest.raises(MgmtnError, match="unknown annotator 'mediapipe'; choose one of synthetic"):
        get_annotator("mediapipe")
    with pytest.raises(MgmtnError, match="list_keypoints_wflw98.txt, which is missing"):
        get_annotator("synthetic", root=tiny_celeba)
    with pytest.raises(MgmtnError, match="pass root="):
        get_annotator("celeba5")
    write_landmarks(tiny_celeba, read_index(tiny_celeba).ids, np.tile(aligned_fallback((20, 24)), (6, 1, 1)))
    celeba5 = get_annotator("celeba5", root=tiny_celeba)
    assert celeba5(0).shape == (5, 2)
    with pytest.raises(MgmtnError, match="cannot annotate a bare image; use 'dlib'"):
        celeba5(Image.new("RGB", (20, 24)))


def test_aligned_fallback_is_celeba_geometry_scaled_to_the_image():
    np.testing.assert_allclose(aligned_fallback((178, 218))[0], (69, 111))
    np.testing.assert_allclose(aligned_fallback((356, 109))[4], (212, 76))
    boxes = group_boxes(aligned_fallback((178, 218)), (178, 218))
    assert boxes[-1, 0] < 69 and boxes[-1, 2] > 108  # the Object box spans the eyes


def test_dlib_finds_68_points_on_real_faces(dlib_annotator, real_images):
    for path in real_images[:5]:
        image = Image.open(path)
        points = dlib_annotator(image)
        assert points is not None and points.shape == (68, 2) and points.dtype == np.float32
        assert (points >= 0).all() and (points <= image.size).all()
        assert points[36:48, 1].mean() < points[48:68, 1].mean()  # eyes above the mouth


def test_dlib_returns_none_without_a_face(dlib_annotator):
    assert dlib_annotator(Image.new("RGB", (178, 218), (90, 90, 90))) is None


def test_dlib_found_rate_on_200_real_images(dlib_annotator, real_images):
    found = sum(dlib_annotator(Image.open(path)) is not None for path in real_images[:200])
    assert found / 200 >= 0.9


def test_annotate_with_dlib_in_worker_processes_uses_the_fallback(real_images, tmp_path: Path):
    root = tmp_path / "mixed"
    (root / IMAGE_DIR).mkdir(parents=True)
    ids = [path.name for path in real_images[:6]] + ["999999.jpg"]
    for path in real_images[:6]:
        shutil.copy(path, root / IMAGE_DIR / path.name)
    Image.new("RGB", (178, 218), (90, 90, 90)).save(root / IMAGE_DIR / "999999.jpg")  # no face
    write_attributes(root, ids, np.zeros((len(ids), 40), np.uint8))
    write_partition(root, ids, [0] * len(ids))
    summary = annotate(root, "dlib", workers=2, progress=False)
    assert summary.images == 7 and summary.fallbacks >= 1
    boxes = load_boxes(root, "dlib")
    fallback = np.rint(group_boxes(aligned_fallback((178, 218)), (178, 218)))
    np.testing.assert_array_equal(boxes[-1], fallback)
    with np.load(summary.path) as data:
        assert not data["found"][-1]
    index = read_index(root)
    expected = get_annotator("dlib", index=index)(0)
    np.testing.assert_array_equal(boxes[0], np.rint(group_boxes(expected, (178, 218))))
