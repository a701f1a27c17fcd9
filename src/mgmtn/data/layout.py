"""File names of the CelebA layout and writers for its text files.

Every dataset in the project (real CelebA, converted LFWA, synthetic faces)
is a folder in this layout, so one reader serves them all. The writers
produce files that the official CelebA parsers also accept.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from mgmtn.attributes import ATTRIBUTES
from mgmtn.ownership import writing

IMAGE_DIR = "img_align_celeba"
ATTR_FILE = "list_attr_celeba.txt"
PARTITION_FILE = "list_eval_partition.txt"
LANDMARK_FILE = "list_landmarks_align_celeba.txt"
KEYPOINT_FILE = "list_keypoints_wflw98.txt"
IDENTITY_FILE = "identity_CelebA.txt"

LANDMARK_NAMES = ("lefteye", "righteye", "nose", "leftmouth", "rightmouth")
NUM_KEYPOINTS = 98

LANDMARK_HEADER = tuple(f"{name}_{axis}" for name in LANDMARK_NAMES for axis in "xy")
KEYPOINT_HEADER = tuple(f"{axis}{i}" for i in range(NUM_KEYPOINTS) for axis in "xy")

PARTITIONS = {"train": 0, "val": 1, "test": 2}
# What ``mgmtn annotate`` adds to a dataset folder (box caches): a dataset's writer may replace them too.
BOX_CACHE_FILES = ("boxes_*", ".boxes_*.tmp")


@contextmanager
def atomic_write(path: Path, mode: str = "w") -> Iterator:
    """Write to a temporary file beside ``path`` and rename it into place on success.

    A crash or an exception mid-write leaves any earlier ``path`` untouched. A
    full disk or a folder that cannot be written ends in one ``MgmtnError``
    naming ``path`` ("no space left on device writing PATH"), not an OSError.
    """
    path = Path(path)
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, mode) as handle:
                yield handle
                handle.flush()
                os.fsync(handle.fileno())
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes owner-only files; give the usual permissions
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _write_table(path: Path, header: Sequence[str], ids: Sequence[str], rows: list[str]) -> None:
    with atomic_write(path) as f:
        f.write(f"{len(ids)}\n{' '.join(header)}\n")
        f.writelines(f"{image_id} {row}\n" for image_id, row in zip(ids, rows))


def write_attributes(root: Path, ids: Sequence[str], labels: np.ndarray) -> None:
    """``labels`` is (N, 40) with 0/1; CelebA stores 1/-1."""
    labels = np.asarray(labels)
    if labels.shape != (len(ids), len(ATTRIBUTES)):
        raise ValueError(f"labels must be ({len(ids)}, 40), got {labels.shape}")
    rows = [" ".join(f"{v:2d}" for v in row) for row in np.where(labels > 0, 1, -1)]
    _write_table(Path(root) / ATTR_FILE, ATTRIBUTES, ids, rows)


def write_partition(root: Path, ids: Sequence[str], partition: Sequence[int]) -> None:
    """One line per image: ``<id> <0|1|2>`` (train, val, test); no header, as in CelebA."""
    with atomic_write(Path(root) / PARTITION_FILE) as f:
        f.writelines(f"{image_id} {int(p)}\n" for image_id, p in zip(ids, partition))


def write_identities(root: Path, ids: Sequence[str], people: Sequence[int]) -> None:
    """One line per image: ``<id> <person number>``, as CelebA's ``identity_CelebA.txt`` (no header)."""
    with atomic_write(Path(root) / IDENTITY_FILE) as f:
        f.writelines(f"{image_id} {int(k)}\n" for image_id, k in zip(ids, people))


def write_landmarks(root: Path, ids: Sequence[str], landmarks: np.ndarray) -> None:
    """``landmarks`` is (N, 5, 2) pixel coordinates in CelebA's order, rounded as CelebA does."""
    rows = [" ".join(f"{int(round(v)):4d}" for v in pts.reshape(-1)) for pts in np.asarray(landmarks)]
    _write_table(Path(root) / LANDMARK_FILE, LANDMARK_HEADER, ids, rows)


def write_keypoints(root: Path, ids: Sequence[str], keypoints: np.ndarray) -> None:
    """``keypoints`` is (N, 98, 2) exact pixel coordinates in WFLW order."""
    rows = [" ".join(f"{v:.2f}" for v in pts.reshape(-1)) for pts in np.asarray(keypoints)]
    _write_table(Path(root) / KEYPOINT_FILE, KEYPOINT_HEADER, ids, rows)
