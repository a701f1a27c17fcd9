"""The shared loop's data side: every epoch draws its own augmentations, also in worker processes."""

import torch

from mgmtn.data.celeba import read_index
from mgmtn.data.dataset import CelebADataset
from mgmtn.data.transforms import TrainTransform
from mgmtn.engine import _set_epoch, make_loader


def test_each_epoch_draws_new_augmentations_in_workers(tiny_celeba):
    dataset = CelebADataset(read_index(tiny_celeba), transform=TrainTransform(resize=24, crop=16, p_rotate=1.0),
                            seed=0)
    loader = make_loader(dataset, batch_size=6, shuffle=False, workers=1)
    epochs = []
    for epoch in (0, 1, 0):
        _set_epoch(loader, epoch, seed=0)
        epochs.append(next(iter(loader))["image"])
    assert not torch.equal(epochs[0], epochs[1])
    assert torch.equal(epochs[0], epochs[2])
