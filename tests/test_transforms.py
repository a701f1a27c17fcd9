"""Augmentation moves the image and the group boxes together: masks land on the painted pixels."""

import numpy as np
import pytest
import torch
from PIL import Image

from mgmtn.data.transforms import (EvalTransform, TrainTransform, crop_matrix, hflip_matrix, resize_matrix,
                                   rotation_matrix, transform_points, warp)
from mgmtn.masks import boxes_to_quads, render_masks

SIZE = (178, 218)
RED_BOX = (40, 60, 110, 150)  # asymmetric and off-centre, so a wrong flip or turn shows


def painted(box=RED_BOX, size=SIZE) -> tuple[Image.Image, np.ndarray]:
    """A grey image with a solid red rectangle, and eight boxes: the red one first."""
    image = Image.new("RGB", size, (128, 128, 128))
    image.paste((255, 0, 0), box)
    boxes = np.tile(np.array(box, np.float64), (8, 1))
    boxes[1:] += np.arange(1, 8)[:, None]  # the other groups elsewhere, to exercise the shapes
    return image, boxes


def red_pixels(image: Image.Image) -> np.ndarray:
    rgb = np.asarray(image).astype(int)
    return (rgb[..., 0] > 190) & (rgb[..., 1] < 64) & (rgb[..., 2] < 64)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return (a & b).sum() / (a | b).sum()


def assert_mask_on_red(image: Image.Image, quads: np.ndarray, threshold: float = 0.9):
    mask = render_masks(quads, image.size)[0]
    assert iou(mask, red_pixels(image)) > threshold


@pytest.mark.parametrize("name, matrix, out_size", [
    ("flip", hflip_matrix(SIZE[0]), SIZE),
    ("rotate 30", rotation_matrix(30.0, SIZE), SIZE),
    ("crop", crop_matrix(25, 40), (120, 150)),
    ("resize", resize_matrix(SIZE, (100, 100)), (100, 100)),
    ("all", hflip_matrix(120) @ rotation_matrix(-20.0, (120, 150)) @ crop_matrix(25, 40), (120, 150)),
])
def test_each_operation_moves_image_and_boxes_alike(name, matrix, out_size):
    image, boxes = painted()
    out = warp(image, matrix, out_size)
    quads = transform_points(boxes_to_quads(boxes), matrix)
    assert_mask_on_red(out, quads, threshold=0.95)


def test_rotation_is_counter_clockwise_like_pil():
    image, boxes = painted()
    ours = warp(image, rotation_matrix(30.0, SIZE), SIZE)
    pils = image.rotate(30.0, resample=Image.Resampling.BILINEAR)
    assert iou(red_pixels(ours), red_pixels(pils)) > 0.97


@pytest.mark.parametrize("seed", range(12))
def test_train_transform_keeps_masks_on_the_painted_box(seed):
    image, boxes = painted()
    transform = TrainTransform(p_rotate=0.7, p_flip=0.5)
    out, quads = transform.apply(image, boxes, np.random.default_rng(seed))
    assert out.size == (227, 227) and quads.shape == (8, 4, 2)
    assert_mask_on_red(out, quads)


def test_eval_transform_resizes_image_and_boxes():
    image, boxes = painted()
    out, quads = EvalTransform(size=112).apply(image, boxes)
    assert out.size == (112, 112)
    assert_mask_on_red(out, quads)


def test_identity_leaves_image_and_boxes_unchanged():
    image, boxes = painted(size=(128, 128))
    transform = TrainTransform(resize=128, crop=128, p_rotate=0.0, p_flip=0.0)
    out, quads = transform.apply(image, boxes, np.random.default_rng(0))
    np.testing.assert_array_equal(np.asarray(out), np.asarray(image))
    np.testing.assert_allclose(quads, boxes_to_quads(boxes), atol=1e-9)


def test_same_generator_state_gives_the_same_sample():
    image, boxes = painted()
    transform = TrainTransform(resize=128, crop=112, mask_size=28)
    first = transform(image, boxes, np.random.default_rng(7))
    again = transform(image, boxes, np.random.default_rng(7))
    torch.testing.assert_close(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    others = [transform(image, boxes, np.random.default_rng(seed))[0] for seed in range(5)]
    assert any(not torch.equal(first[0], other) for other in others)


def test_call_returns_normalised_tensor_and_masks():
    image, boxes = painted()
    tensor, masks = TrainTransform(resize=128, crop=112, mask_size=56)(image, boxes, np.random.default_rng(0))
    assert tensor.shape == (3, 112, 112) and tensor.dtype == torch.float32
    grey = (128 / 255 - 0.485) / 0.229
    assert tensor[0].min().item() <= grey + 1e-3  # ImageNet normalisation, not raw [0, 1]
    assert masks.shape == (8, 56, 56) and masks.dtype == bool and masks[0].any()
    tensor, masks = EvalTransform(size=112)(image, None)
    assert tensor.shape == (3, 112, 112) and masks is None


@pytest.mark.parametrize("ratio", [0.64, 0.81, 1.0, 1.21, 1.44])
def test_area_ratio_knob_scales_mask_area_exactly(ratio):
    image, boxes = painted(box=(20, 20, 60, 60), size=(100, 100))
    transform = TrainTransform(resize=100, crop=100, p_rotate=0.0, p_flip=0.0, area_ratio=ratio)
    _, masks = transform(image, boxes, np.random.default_rng(0))
    assert masks[0].sum() == round(1600 * ratio)
