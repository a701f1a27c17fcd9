"""Face detection and alignment into CelebA's frame (mgmtn.data.align), and masks mapped back to a photo."""

import numpy as np
import pytest
from PIL import Image

from mgmtn.data.align import (ALIGNED_SIZE, CELEBA_TEMPLATE, FaceAligner, derive_template, five_points,
                              needs_alignment, similarity)
from mgmtn.data.transforms import hflip_matrix, rotation_matrix, transform_points
from mgmtn.evaluate import _masks_on_photo
from photos import face_images, paste


def test_similarity_recovers_a_rotation_scale_and_shift():
    truth = rotation_matrix(12.0, (100, 100)) @ np.diag([1.7, 1.7, 1.0])
    truth[:2, 2] += (30.0, -8.0)
    points = np.random.default_rng(0).uniform(0, 100, (5, 2))
    np.testing.assert_allclose(similarity(points, transform_points(points, truth)), truth, atol=1e-9)


def test_similarity_never_reflects():
    points = np.random.default_rng(1).uniform(0, 100, (5, 2))
    matrix = similarity(points, transform_points(points, hflip_matrix(100)))
    assert np.linalg.det(matrix[:2, :2]) > 0


def test_auto_aligns_only_images_not_already_aligned():
    aligned, photo = Image.new("RGB", ALIGNED_SIZE), Image.new("RGB", (250, 250))
    assert not needs_alignment(aligned, "auto") and needs_alignment(photo, "auto")
    assert needs_alignment(aligned, "always") and not needs_alignment(photo, "none")
    with pytest.raises(ValueError, match="align must be one of"):
        needs_alignment(photo, "sometimes")


def test_five_points_reads_eyes_nose_and_mouth_corners():
    points = np.zeros((68, 2))
    points[36:42], points[42:48], points[30], points[48], points[54] = (1, 2), (3, 4), (5, 6), (7, 8), (9, 10)
    np.testing.assert_array_equal(five_points(points), [(1, 2), (3, 4), (5, 6), (7, 8), (9, 10)])


def test_template_is_what_dlib_sees_on_aligned_celeba_faces(celeba_subset):
    template, found = derive_template(face_images(celeba_subset, 20))
    assert found >= 17
    assert np.abs(template - CELEBA_TEMPLATE).max() < 2.0


@pytest.fixture(scope="module")
def aligner():
    return FaceAligner()


def test_a_face_pasted_turned_and_offset_is_aligned_onto_the_template(celeba_subset, aligner):
    face = face_images(celeba_subset, 1, step=1)[0]
    photo = paste(face, (520, 420), (150, 90), scale=1.4, angle=10.0)
    found = aligner(photo)
    assert len(found) == 1
    x0, y0, x1, y1 = found[0].box
    assert 150 < (x0 + x1) / 2 < 150 + 1.4 * 218 and 90 < (y0 + y1) / 2 < 90 + 1.4 * 218
    aligned = five_points(aligner.annotator.faces(found[0].image(photo))[0][1])
    # No similarity brings this face's own points closer to the template than its least-squares fit does.
    own = five_points(aligner.annotator.faces(face)[0][1])
    best = transform_points(own, similarity(own, CELEBA_TEMPLATE))
    error, floor = (np.linalg.norm(p - CELEBA_TEMPLATE, axis=1).mean() for p in (aligned, best))
    assert error < floor + 2.0, (error, floor)


def test_masks_map_back_to_where_the_face_sits_in_the_photo():
    masks = np.zeros((8, 16, 16), np.float32)
    masks[0, 4:8, 8:12] = 1  # a block in mask pixels of a 32 px model input: x 16-24, y 8-16 there
    shift = np.array([[1.0, 0, -100], [0, 1.0, -50], [0, 0, 1]])  # the input's origin is photo pixel (100, 50)
    on_photo = _masks_on_photo(masks, shift, side=32, photo_size=(200, 120))
    assert on_photo.shape == (8, 120, 200) and on_photo[1:].max() == 0
    ys, xs = np.nonzero(on_photo[0] > 0.5)
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == (116, 123, 58, 65)
