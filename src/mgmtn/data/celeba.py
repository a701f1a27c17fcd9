"""Reader for a dataset folder in the CelebA layout.

Real CelebA, the faces of ``mgmtn synth`` and any dataset converted to it
share this layout, so the rest of the package reads data
through ``read_index`` alone. Every malformed input raises ``DataError`` with
the file and line at fault, because a user facing 200k rows cannot find a
bad one from a bare traceback.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from mgmtn.attributes import ATTRIBUTES
from mgmtn.data.layout import (ATTR_FILE, IDENTITY_FILE, IMAGE_DIR, KEYPOINT_FILE, KEYPOINT_HEADER, LANDMARK_FILE,
                               LANDMARK_HEADER, NUM_KEYPOINTS, PARTITION_FILE, PARTITIONS)
from mgmtn.errors import DataError

# CelebA's official split by image number, used when list_eval_partition.txt is absent.
CELEBA_SPLIT_ENDS = (162770, 182637, 202599)


@dataclass(frozen=True)
class CelebAIndex:
    """Everything known about a dataset folder except the pixels."""

    root: Path
    ids: list[str]
    labels: np.ndarray  # (N, 40) uint8, 0/1
    partition: np.ndarray  # (N,) int8, 0 train / 1 val / 2 test
    landmarks: np.ndarray | None = None  # (N, 5, 2) float32, CelebA's aligned landmarks
    keypoints: np.ndarray | None = None  # (N, 98, 2) float32, exact WFLW keypoints (synthetic)
    identities: np.ndarray | None = None  # (N,) int64, the person in each image (identity_CelebA.txt)

    def __len__(self) -> int:
        return len(self.ids)

    def image_path(self, i: int) -> Path:
        return self.root / IMAGE_DIR / self.ids[i]

    def select(self, rows: np.ndarray) -> "CelebAIndex":
        """A sub-index of the given rows, every per-image array sliced alike."""
        rows = np.asarray(rows)

        def take(a):
            return None if a is None else a[rows]

        return replace(self, ids=[self.ids[i] for i in rows], labels=self.labels[rows],
                       partition=self.partition[rows], landmarks=take(self.landmarks),
                       keypoints=take(self.keypoints), identities=take(self.identities))

    def split(self, name: str | None = None, limit: int | None = None) -> "CelebAIndex":
        """Rows of one partition ('train', 'val', 'test' or None for all), the first ``limit``."""
        rows = np.arange(len(self))
        if name is not None:
            if name not in PARTITIONS:
                raise DataError(f"unknown split {name!r}; expected one of {', '.join(PARTITIONS)}")
            rows = rows[self.partition == PARTITIONS[name]]
        if limit is not None:
            rows = rows[:limit]
        return self.select(rows)

    def describe(self) -> dict:
        """A short description of the data, recorded with every result."""
        counts = {name: int((self.partition == code).sum()) for name, code in PARTITIONS.items()}
        return {"root": str(self.root), "images": len(self), "per_partition": counts}


def _lines(path: Path) -> list[str]:
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    with open(path, encoding="utf-8") as f:
        return f.read().splitlines()


class _Table(NamedTuple):
    ids: list[str]
    rows: list[list[str]]
    lines: list[int]  # the 1-based line number of each row, for error messages


def _read_table(path: Path, header: list[str] | None, width: int) -> _Table:
    """Rows ``<id> v1 .. v_width`` after an optional ``count`` + names header, checked."""
    lines = _lines(path)
    first = 0
    if header is not None:
        if len(lines) < 2:
            raise DataError(f"{path}: expected a count line and a header line")
        try:
            count = int(lines[0].strip())
        except ValueError:
            raise DataError(f"{path}, line 1: expected the number of rows, got {lines[0]!r}") from None
        names = lines[1].split()
        if names != header:
            unknown = [name for name in names if name not in header]
            missing = [name for name in header if name not in names]
            detail = (f"unknown {', '.join(unknown[:3])}" if unknown else "") + \
                     ("; " if unknown and missing else "") + (f"missing {', '.join(missing[:3])}" if missing else "")
            raise DataError(f"{path}, line 2: header does not match the expected {width} names "
                            f"({detail or 'same names in another order'})")
        first = 2
    table = _Table([], [], [])
    for number, line in enumerate(lines[first:], start=first + 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != width + 1:
            raise DataError(f"{path}, line {number}: expected an id and {width} values, "
                            f"got {len(fields) - 1} values after the id {fields[0]!r}")
        table.ids.append(fields[0])
        table.rows.append(fields[1:])
        table.lines.append(number)
    if header is not None and count != len(table.ids):
        raise DataError(f"{path}, line 1: says {count} rows but the file has {len(table.ids)}")
    seen: dict[str, int] = {}
    for image_id, number in zip(table.ids, table.lines):
        if image_id in seen:
            raise DataError(f"{path}, line {number}: image id {image_id} repeats line {seen[image_id]}")
        seen[image_id] = number
    return table


def _as_numbers(path: Path, table: _Table, dtype) -> np.ndarray:
    try:
        return np.array(table.rows, dtype=dtype)
    except (ValueError, OverflowError):
        for number, row in zip(table.lines, table.rows):
            try:
                np.array(row, dtype=dtype)
            except (ValueError, OverflowError):
                raise DataError(f"{path}, line {number}: not a number in {' '.join(row)[:80]!r}") from None
        raise


def read_attributes(root: Path) -> tuple[list[str], np.ndarray]:
    path = root / ATTR_FILE
    table = _read_table(path, list(ATTRIBUTES), len(ATTRIBUTES))
    values = _as_numbers(path, table, np.int64)
    bad = np.flatnonzero(~np.isin(values, (1, -1)).all(axis=1))
    if bad.size:
        row = values[bad[0]]
        column = int(np.flatnonzero(~np.isin(row, (1, -1)))[0])
        raise DataError(f"{path}, line {table.lines[bad[0]]}: {ATTRIBUTES[column]} is {row[column]}, "
                        f"expected 1 or -1")
    return table.ids, (values > 0).astype(np.uint8)


def _partition_by_id_range(path: Path, ids: list[str]) -> np.ndarray:
    try:
        numbers = np.array([int(Path(i).stem) for i in ids])
    except ValueError:
        raise DataError(f"{path} is missing and the image ids are not CelebA numbers, "
                        "so no partition can be inferred") from None
    warnings.warn(f"{path} not found: using CelebA's id ranges (train 000001-162770, "
                  "val 162771-182637, test 182638-202599)", stacklevel=3)
    return np.searchsorted(np.array(CELEBA_SPLIT_ENDS), numbers, side="left").clip(0, 2).astype(np.int8)


def read_partition(root: Path, ids: list[str]) -> np.ndarray:
    path = root / PARTITION_FILE
    if not path.exists():
        return _partition_by_id_range(path, ids)
    table = _read_table(path, None, 1)
    if not table.rows:
        raise DataError(f"{path}: no rows (expected one '<image id> <0|1|2>' line per image)")
    values = _as_numbers(path, table, np.int64)[:, 0]
    bad = np.flatnonzero(~np.isin(values, list(PARTITIONS.values())))
    if bad.size:
        raise DataError(f"{path}, line {table.lines[bad[0]]}: partition {values[bad[0]]} is not 0, 1 or 2")
    position = {image_id: k for k, image_id in enumerate(table.ids)}
    missing = [i for i in ids if i not in position]
    if missing:
        raise DataError(f"{path}: {len(missing)} images of {ATTR_FILE} have no partition "
                        f"(first: {', '.join(missing[:3])})")
    return values[[position[i] for i in ids]].astype(np.int8)


def _read_points(path: Path, ids: list[str], count: int, names: list[str]) -> np.ndarray | None:
    if not path.exists():
        return None
    table = _read_table(path, names, 2 * count)
    if table.ids != ids:
        raise DataError(f"{path}: image ids differ from {ATTR_FILE} (row order and count must match)")
    return _as_numbers(path, table, np.float32).reshape(len(ids), count, 2)


def read_identities(root: Path, ids: list[str]) -> np.ndarray | None:
    """The person of each image, from the optional ``identity_CelebA.txt`` (``<id> <number>`` per line)."""
    path = root / IDENTITY_FILE
    if not path.exists():
        return None
    table = _read_table(path, None, 1)
    if not table.rows:
        raise DataError(f"{path}: no rows (expected one '<image id> <0|1|2>' line per image)")
    values = _as_numbers(path, table, np.int64)[:, 0]
    position = {image_id: k for k, image_id in enumerate(table.ids)}
    missing = [i for i in ids if i not in position]
    if missing:
        raise DataError(f"{path}: {len(missing)} images of {ATTR_FILE} have no identity "
                        f"(first: {', '.join(missing[:3])})")
    return values[[position[i] for i in ids]]


def _check_images(root: Path, ids: list[str]) -> None:
    folder = root / IMAGE_DIR
    if not folder.is_dir():
        raise DataError(f"{folder}: image folder not found")
    present = set(os.listdir(folder))
    missing = [i for i in ids if i not in present]
    if missing:
        raise DataError(f"{folder}: {len(missing)} images listed in {ATTR_FILE} are missing "
                        f"(first: {', '.join(missing[:3])})")


def read_index(root: str | os.PathLike, split: str | None = None, limit: int | None = None) -> CelebAIndex:
    """Read and validate a CelebA-layout folder; optionally keep one split and its first rows."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: dataset folder not found")
    root = root.resolve()  # results record where their data came from
    ids, labels = read_attributes(root)
    _check_images(root, ids)
    index = CelebAIndex(
        root=root, ids=ids, labels=labels, partition=read_partition(root, ids),
        landmarks=_read_points(root / LANDMARK_FILE, ids, 5, list(LANDMARK_HEADER)),
        keypoints=_read_points(root / KEYPOINT_FILE, ids, NUM_KEYPOINTS, list(KEYPOINT_HEADER)),
        identities=read_identities(root, ids))
    return index.split(split, limit) if split is not None or limit is not None else index


def load_image(path: Path, upright: bool = False) -> Image.Image:
    """An RGB image (any mode on disk), with a DataError naming the file when it cannot be decoded.

    ``upright`` applies the EXIF orientation, for photos from cameras and phones.
    """
    try:
        with Image.open(path) as image:
            return (ImageOps.exif_transpose(image) if upright else image).convert("RGB")
    except FileNotFoundError:
        raise DataError(f"{path}: image not found") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise DataError(f"{path}: cannot decode image ({error})") from None

