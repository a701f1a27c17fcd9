"""The torch ``Dataset`` over a CelebA-layout index: images, labels and, when boxes are given, group masks."""

from __future__ import annotations

import numpy as np
import torch

from mgmtn.data.celeba import CelebAIndex, load_image
from mgmtn.data.image_cache import ResizedImages
from mgmtn.data.transforms import EvalTransform
from mgmtn.errors import DataError


class CelebADataset(torch.utils.data.Dataset):
    """Images and 0/1 labels of an index, with optional group boxes moved by the transform.

    ``transform(image, boxes, rng) -> (tensor, masks or None)`` receives a
    generator seeded from (seed, epoch, item), so an epoch is reproducible
    whatever the number of workers and a resumed run sees the same augmentations.

    ``images``: the index's images already resized (``mgmtn.data.image_cache``),
    read instead of the files; boxes are scaled into their pixels. With the
    cache at the transform's resize size, items equal those read from disk.
    """

    def __init__(self, index: CelebAIndex, image_size: int | None = None, transform=None,
                 boxes: np.ndarray | None = None, seed: int = 0, images: ResizedImages | None = None):
        if transform is None and image_size is None:
            raise ValueError("give either image_size or a transform")
        if boxes is not None and len(boxes) != len(index):
            raise DataError(f"{len(boxes)} box rows for {len(index)} images of {index.root}")
        if images is not None and not all(image_id in images for image_id in index.ids):
            raise DataError(f"the image cache does not hold every image of {index.root}")
        self.index, self.boxes, self.seed, self.epoch, self.images = index, boxes, seed, 0, images
        self.transform = transform or EvalTransform(size=image_size)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> dict:
        rng = np.random.default_rng((self.seed, self.epoch, i))
        boxes = None if self.boxes is None else self.boxes[i]
        if self.images is None:
            picture = load_image(self.index.image_path(i))
        else:
            picture = self.images.image(self.index.ids[i])
            boxes = None if boxes is None else boxes * np.tile(self.images.scale(self.index.ids[i]), 2)
        image, masks = self.transform(picture, boxes, rng)
        item = {"image": image, "labels": torch.from_numpy(self.index.labels[i].astype(np.float32)), "row": i}
        if masks is not None:
            item["masks"] = torch.as_tensor(masks, dtype=torch.float32)
        return item

