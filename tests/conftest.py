"""Shared fixtures: a tiny hand-built CelebA-layout folder, and the real subset when present."""

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from mgmtn.data.layout import IMAGE_DIR, write_attributes, write_partition  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
CELEBA_SUBSET = SHARED_DATA / "celeba-subset"


@pytest.fixture
def tiny_celeba(tmp_path: Path) -> Path:
    """Six 20x24 images with known labels: rows 0-3 train, 4 val, 5 test."""
    root = tmp_path / "tiny"
    (root / IMAGE_DIR).mkdir(parents=True)
    ids = [f"{i:06d}.jpg" for i in range(1, 7)]
    for k, image_id in enumerate(ids):
        Image.new("RGB", (20, 24), (40 * k, 0, 0)).save(root / IMAGE_DIR / image_id)
    labels = np.zeros((6, 40), dtype=np.uint8)
    labels[np.arange(6), np.arange(6)] = 1
    write_attributes(root, ids, labels)
    write_partition(root, ids, [0, 0, 0, 0, 1, 2])
    return root


@pytest.fixture
def celeba_subset() -> Path:
    if not (CELEBA_SUBSET / "list_attr_celeba.txt").exists():
        pytest.skip(f"real CelebA subset not found at {CELEBA_SUBSET}")
    return CELEBA_SUBSET
