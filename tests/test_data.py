"""The CelebA-layout reader: happy path, selection, and one test per bad-input case."""

import time

import numpy as np
import pytest
import torch

from mgmtn.data.celeba import load_image, read_index
from mgmtn.data.dataset import CelebADataset
from mgmtn.data.layout import ATTR_FILE, IMAGE_DIR, PARTITION_FILE
from mgmtn.errors import DataError


def test_reads_labels_partitions_and_selects(tiny_celeba):
    index = read_index(tiny_celeba)
    assert len(index) == 6 and index.labels.dtype == np.uint8
    assert index.labels[2, 2] == 1 and index.labels.sum() == 6
    assert index.partition.tolist() == [0, 0, 0, 0, 1, 2]
    assert index.landmarks is None and index.keypoints is None
    train = read_index(tiny_celeba, split="train", limit=3)
    assert train.ids == ["000001.jpg", "000002.jpg", "000003.jpg"]
    assert read_index(tiny_celeba, split="val").ids == ["000005.jpg"]


def test_missing_partition_file_falls_back_to_celeba_id_ranges(tiny_celeba):
    (tiny_celeba / PARTITION_FILE).unlink()
    with pytest.warns(UserWarning, match="id ranges"):
        index = read_index(tiny_celeba)
    assert set(index.partition.tolist()) == {0}


def test_dataset_returns_tensors(tiny_celeba):
    dataset = CelebADataset(read_index(tiny_celeba), image_size=16)
    item = dataset[1]
    assert item["image"].shape == (3, 16, 16) and item["labels"].dtype == torch.float32
    assert item["labels"][1] == 1 and len(dataset) == 6


def _edit_line(path, line_number, new_text):
    lines = path.read_text().splitlines()
    lines[line_number - 1] = new_text
    path.write_text("\n".join(lines) + "\n")


def _row(image_id, values):
    return image_id + " " + " ".join(str(v) for v in values)


BAD_CASES = {
    "missing folder": (lambda root: root.rename(root.with_name("gone")), r"tiny: dataset folder not found"),
    "missing attribute file": (lambda root: (root / ATTR_FILE).unlink(), rf"{ATTR_FILE}: file not found"),
    "missing image folder": (lambda root: (root / IMAGE_DIR).rename(root / "x"), rf"{IMAGE_DIR}: image folder not found"),
    "wrong header": (lambda root: _edit_line(root / ATTR_FILE, 2, "Bald Male"), r"line 2: header does not match"),
    "count disagrees": (lambda root: _edit_line(root / ATTR_FILE, 1, "7"), r"line 1: says 7 rows but the file has 6"),
    "count not a number": (lambda root: _edit_line(root / ATTR_FILE, 1, "six"), r"line 1: expected the number of rows"),
    "short row": (lambda root: _edit_line(root / ATTR_FILE, 5, _row("000003.jpg", [1] * 39)),
                  r"line 5: expected an id and 40 values, got 39 values after the id '000003.jpg'"),
    "misspelled attribute": (lambda root: _edit_line(root / ATTR_FILE, 2, (root / ATTR_FILE).read_text().splitlines()[1]
                                                     .replace("Smiling", "Smilling")),
                             r"line 2: header does not match .*unknown Smilling; missing Smiling"),
    "repeated image id": (lambda root: _edit_line(root / ATTR_FILE, 4, _row("000001.jpg", [1] * 40)),
                          r"line 4: image id 000001.jpg repeats line 3"),
    "value outside 1/-1": (lambda root: _edit_line(root / ATTR_FILE, 4, _row("000002.jpg", [1] * 20 + [0] + [1] * 19)),
                           r"line 4: Male is 0, expected 1 or -1"),
    "not a number": (lambda root: _edit_line(root / ATTR_FILE, 3, _row("000001.jpg", ["y"] + [1] * 39)),
                     r"line 3: not a number"),
    "huge value": (lambda root: _edit_line(root / ATTR_FILE, 3, _row("000001.jpg", [10 ** 30] + [1] * 39)),
                   r"line 3: not a number"),
    "line after a blank line": (lambda root: _edit_line(root / ATTR_FILE, 4, "\n" + _row("000002.jpg", [3] * 40)),
                                r"line 5: 5_o_Clock_Shadow is 3"),
    "image missing": (lambda root: (root / IMAGE_DIR / "000004.jpg").unlink(),
                      r"1 images listed in list_attr_celeba.txt are missing \(first: 000004.jpg\)"),
    "partition out of range": (lambda root: _edit_line(root / PARTITION_FILE, 3, "000003.jpg 3"),
                               r"list_eval_partition.txt, line 3: partition 3 is not 0, 1 or 2"),
    "partition row missing": (lambda root: _edit_line(root / PARTITION_FILE, 6, ""),
                              r"1 images of list_attr_celeba.txt have no partition \(first: 000006.jpg\)"),
}


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_input_names_file_and_line(tiny_celeba, case):
    damage, message = BAD_CASES[case]
    damage(tiny_celeba)
    with pytest.raises(DataError, match=message):
        read_index(tiny_celeba)


def test_undecodable_image_is_named(tiny_celeba):
    (tiny_celeba / IMAGE_DIR / "000002.jpg").write_bytes(b"not a jpeg")
    index = read_index(tiny_celeba)
    with pytest.raises(DataError, match=r"000002.jpg: cannot decode image"):
        load_image(index.image_path(1))
    with pytest.raises(DataError, match=r"000002.jpg: cannot decode image"):
        CelebADataset(index, image_size=16)[1]


def test_real_subset_counts_and_speed(celeba_subset):
    start = time.perf_counter()
    index = read_index(celeba_subset)
    elapsed = time.perf_counter() - start
    assert index.describe()["per_partition"] == {"train": 20000, "val": 4535, "test": 0}
    assert elapsed < 30
    assert 0.35 < index.labels[:, 20].mean() < 0.5  # Male
