"""``mgmtn synth``: write a folder of synthetic faces in the CelebA layout."""

from __future__ import annotations

import json
import math
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Iterator

import numpy as np
from tqdm import tqdm

from mgmtn.data.layout import (BOX_CACHE_FILES, IMAGE_DIR, write_attributes, write_keypoints, write_landmarks,
                               write_partition)
from mgmtn.data.synth.geometry import CANONICAL_SIZE, landmarks, sample_pose
from mgmtn.data.synth.labels import flip_labels, sample_labels
from mgmtn.data.synth.render import render_face
from mgmtn.ownership import build_beside, check_replaceable, folder_lock, write_manifest, writing

MIN_SIZE = 64  # below this the face's smaller cues (earrings, nostrils) vanish
JPEG_QUALITY = 95
CHUNK = 32  # most images per task handed to a worker process


def image_name(index: int, n: int) -> str:
    """CelebA's 1-based, zero-padded file name (six digits, more only if n needs them)."""
    return f"{index + 1:0{max(6, len(str(n)))}d}.jpg"


def _face(seed: int, index: int, size: tuple[int, int], label_noise: float):
    """Image ``index`` of dataset ``seed``: its own generator, so no image depends on another."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(index,)))
    labels = sample_labels(rng, 1)[0]
    image, keypoints = render_face(labels, sample_pose(rng), rng, size)
    return image, keypoints, flip_labels(rng, labels, label_noise)


def _render_chunk(task) -> tuple[np.ndarray, np.ndarray]:
    """Render and save images [start, stop); return their stored labels and keypoints."""
    folder, seed, start, stop, n, size, label_noise = task
    labels, keypoints = [], []
    for index in range(start, stop):
        image, points, stored = _face(seed, index, size, label_noise)
        path = folder / image_name(index, n)
        with writing(path):  # a full disk, named as such
            image.save(path, "JPEG", quality=JPEG_QUALITY)
        labels.append(stored)
        keypoints.append(points)
    return np.stack(labels), np.stack(keypoints)


def _check(n: int, size: tuple[int, int], label_noise: float, split, workers: int) -> None:
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive number of images, got {n!r}")
    if len(size) != 2 or min(size) < MIN_SIZE:
        raise ValueError(f"size must be (width, height) with both at least {MIN_SIZE} px, got {size!r}")
    if not 0.0 <= label_noise <= 0.5:
        raise ValueError(f"label_noise is a flip probability in [0, 0.5], got {label_noise!r}")
    if len(split) != 3 or min(split) < 0 or not math.isclose(sum(split), 1.0, abs_tol=1e-6):
        raise ValueError(f"split must be three non-negative fractions (train, val, test) summing to 1, "
                         f"got {split!r}")
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers!r}")


def partition_of(n: int, split: tuple[float, float, float]) -> np.ndarray:
    """0/1/2 per image: the first images train, then val, then test, as CelebA numbers them."""
    n_train = int(round(n * split[0]))
    n_val = min(int(round(n * split[1])), n - n_train)
    return np.repeat([0, 1, 2], [n_train, n_val, n - n_train - n_val]).astype(np.int8)


def _results(tasks: list, workers: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    if workers == 1:
        yield from map(_render_chunk, tasks)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        yield from pool.map(_render_chunk, tasks)


MARKER = "synth.json"  # written by generate: its parameters
# An output written before manifests (``mgmtn.ownership``): its marker and its files.
UNLISTED_OUTPUT = (MARKER, (MARKER, "list_*.txt", f"{IMAGE_DIR}/*.jpg"))


def generate(out: Path, n: int = 2000, seed: int = 0, size: tuple[int, int] = CANONICAL_SIZE,
             label_noise: float = 0.0, split: tuple[float, float, float] = (0.8, 0.1, 0.1),
             workers: int = 1, progress: bool = True, force: bool = False) -> Path:
    """Write ``n`` synthetic faces to ``out`` in the CelebA layout and return ``out``.

    The folder gets ``img_align_celeba/`` (JPEG, ``size`` = (width, height)),
    the attribute, partition and 5-landmark files of CelebA, and the exact 98
    WFLW keypoints. Image ``i`` depends only on ``(seed, i)``, so the output is
    byte-identical for any number of ``workers``. ``label_noise`` flips each
    stored label with that probability; the picture shows the clean labels.

    ``out`` must be new or empty; ``force`` replaces an earlier output of this
    function, and only if it holds nothing else than the files its manifest
    lists (and the box caches ``annotate`` adds). The faces are written to a temporary folder
    beside ``out`` and renamed into place, so an interrupted call leaves
    nothing at ``out``.
    """
    size = tuple(int(v) for v in size)
    _check(n, size, label_noise, tuple(split), workers)
    out = Path(out)
    with folder_lock(out, "mgmtn synth output"):
        check_replaceable(out, "synth", force, BOX_CACHE_FILES, UNLISTED_OUTPUT)
        with build_beside(out) as tmp:
            _write(tmp, n, seed, size, label_noise, split, workers, progress)
            (tmp / MARKER).write_text(json.dumps({"n": n, "seed": seed}))
            write_manifest(tmp, "synth")
    return out


def _write(out: Path, n, seed, size, label_noise, split, workers, progress) -> None:
    folder = out / IMAGE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    chunk = max(1, min(CHUNK, -(-n // (4 * workers))))  # small jobs still reach every worker
    tasks = [(folder, seed, start, min(start + chunk, n), n, size, label_noise)
             for start in range(0, n, chunk)]
    labels, keypoints = [], []
    with tqdm(total=n, desc="synthetic faces", unit="img", disable=not progress) as bar:
        for chunk_labels, chunk_points in _results(tasks, workers):
            labels.append(chunk_labels)
            keypoints.append(chunk_points)
            bar.update(len(chunk_labels))
    ids = [image_name(i, n) for i in range(n)]
    keypoints = np.concatenate(keypoints)
    write_attributes(out, ids, np.concatenate(labels))
    write_partition(out, ids, partition_of(n, split))
    write_landmarks(out, ids, landmarks(keypoints))
    write_keypoints(out, ids, keypoints)
