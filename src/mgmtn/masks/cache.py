"""Group boxes for every image of a dataset folder, computed once and cached.

``annotate`` writes ``boxes_<annotator>.npz`` beside the CelebA files:

- ``boxes`` (N, 8, 4) int16, ``[x0, y0, x1, y1]`` pixels in GROUP_NAMES order,
- ``ids`` (N,) the image ids, in index order,
- ``found`` (N,) bool, False where the annotator found no face and CelebA's
  mean aligned geometry stood in (``annotators.aligned_fallback``),
- ``sizes`` (N, 2) int16, each image's (width, height),
- ``annotator``, the annotator's name.

Detection is the slow part (dlib: a few ms per image and core), so the work
is spread over worker processes and checkpointed to ``.partial.npz`` while it
runs: an interrupted run resumes where it stopped, and the final file only
appears, whole, when every image is done.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import time
import warnings
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from mgmtn.config import home
from mgmtn.data.celeba import CelebAIndex, read_index
from mgmtn.data.layout import atomic_write
from mgmtn.errors import DataError
from mgmtn.masks.annotators import Annotator, boxes_or_fallback, get_annotator
from mgmtn.ownership import folder_lock
from mgmtn.provenance import record, write_json

CHECKPOINT_SECONDS = 10.0  # at most this much work is lost when a run is killed
CHUNK_SIZE = 128


def box_path(root, annotator: str) -> Path:
    """Where ``annotate`` keeps the boxes of ``annotator`` for the dataset at ``root``.

    Beside the data when the folder is writable; otherwise (a read-only copy
    of CelebA) under ``$MGMTN_HOME/boxes``, keyed on the folder's full path.
    """
    root = Path(root)
    name = f"boxes_{annotator}.npz"
    if os.access(root, os.W_OK) and root.stat().st_mode & 0o222:  # root may write anywhere: check the mode too
        return root / name
    key = hashlib.sha1(str(root.resolve()).encode()).hexdigest()[:10]
    return home() / "boxes" / f"{root.resolve().name}-{key}" / name


def _partial_path(out: Path) -> Path:
    return out.with_name(out.name.removesuffix(".npz") + ".partial.npz")


@dataclass(frozen=True)
class AnnotationSummary:
    path: Path
    annotator: str
    images: int
    found: int
    computed: int  # images annotated by this call; the others came from an interrupted run
    seconds: float

    @property
    def fallbacks(self) -> int:
        return self.images - self.found

    @property
    def images_per_s(self) -> float:
        return self.computed / self.seconds if self.seconds > 0 else float("inf")

    def __str__(self) -> str:
        work = (f"{self.computed} annotated in {self.seconds:.1f} s ({self.images_per_s:.1f} images/s)"
                if self.computed else "already cached")
        return (f"{self.annotator}: {self.images} images, {self.found} faces found, {self.fallbacks} "
                f"fallbacks; {work} -> {self.path}")


def _image_size(path: Path) -> tuple[int, int]:
    try:
        with Image.open(path) as image:  # reads the header only
            return image.size
    except (OSError, UnidentifiedImageError) as error:
        raise DataError(f"{path}: cannot read image ({error})") from None


def annotate_rows(annotator: Annotator, index: CelebAIndex, rows) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes (n, 8, 4) int16, found (n,) bool and sizes (n, 2) of the given index rows."""
    boxes, found, sizes = [], [], []
    for row in rows:
        size = _image_size(index.image_path(row))
        keypoints = annotator(row)
        found.append(keypoints is not None)
        boxes.append(boxes_or_fallback(keypoints, size))
        sizes.append(size)
    return np.rint(boxes).astype(np.int16).reshape(-1, 8, 4), np.array(found, bool), np.array(sizes, np.int16)


_worker: tuple[Annotator, CelebAIndex] | None = None


def _init_worker(name: str, root: str) -> None:
    global _worker
    index = read_index(root)
    _worker = (get_annotator(name, index=index), index)


def _worker_rows(rows: np.ndarray):
    annotator, index = _worker
    return rows, *annotate_rows(annotator, index, rows)


@contextmanager
def _results(annotator: Annotator, index: CelebAIndex, chunks: list[np.ndarray], processes: int) -> Iterator:
    """(rows, boxes, found, sizes) per chunk, in worker processes when that pays."""
    if processes <= 1 or not annotator.parallel:
        yield ((rows, *annotate_rows(annotator, index, rows)) for rows in chunks)
        return
    with multiprocessing.Pool(processes, _init_worker, (annotator.name, str(index.root))) as pool:
        yield pool.imap_unordered(_worker_rows, chunks)


def _empty_state(n: int) -> dict[str, np.ndarray]:
    return {"boxes": np.zeros((n, 8, 4), np.int16), "found": np.zeros(n, bool),
            "sizes": np.zeros((n, 2), np.int16), "done": np.zeros(n, bool)}


def _save(path: Path, state: dict[str, np.ndarray], ids: list[str], annotator: str) -> None:
    with atomic_write(path, "wb") as f:
        np.savez(f, **state, ids=np.array(ids), annotator=np.array(annotator))


def _resume_state(partial: Path, ids: list[str], annotator: str) -> dict[str, np.ndarray] | None:
    """The state of an interrupted run on the same images with the same annotator, if any."""
    if not partial.exists():
        return None
    try:
        with np.load(partial) as data:
            if str(data["annotator"]) == annotator and data["ids"].tolist() == ids:
                return {key: data[key] for key in ("boxes", "found", "sizes", "done")}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        pass
    warnings.warn(f"{partial}: ignoring a partial run for other images or another annotator", stacklevel=3)
    return None


def annotate(root, annotator_name: str, workers: int | None = None, progress: bool = True,
             resume: bool = True, out=None) -> AnnotationSummary:
    """Compute the group boxes of every image at ``root`` and write them to ``out``.

    ``out`` defaults to ``box_path(root, annotator_name)``. ``workers``
    defaults to the number of CPUs (only detectors use them; keypoint tables
    are read in-process). With ``resume``, a finished cache for the same
    images is kept as it is, and a run interrupted earlier continues from its
    ``.partial.npz`` checkpoint.
    """
    index = read_index(root)
    out = Path(out) if out is not None else box_path(root, annotator_name)
    finished = out.with_suffix(".json")
    if resume and out.exists() and finished.exists():
        with np.load(out) as data:
            if data["ids"].tolist() == index.ids:
                done = json.loads(finished.read_text())
                return AnnotationSummary(path=out, annotator=annotator_name, images=done["images"],
                                         found=done["found"], computed=0, seconds=0.0)
    with folder_lock(out.parent, "annotation cache"):  # one writer of the cache at a time
        return _annotate_rows(index, out, annotator_name, workers, progress, resume)


def _annotate_rows(index: CelebAIndex, out: Path, annotator_name: str, workers: int | None, progress: bool,
                   resume: bool) -> AnnotationSummary:
    annotator = get_annotator(annotator_name, index=index)
    partial = _partial_path(out)
    state = _resume_state(partial, index.ids, annotator_name) if resume else None
    if state is None:
        state = _empty_state(len(index))
    todo = np.flatnonzero(~state["done"])
    chunks = [todo[k:k + CHUNK_SIZE] for k in range(0, len(todo), CHUNK_SIZE)]
    processes = min((os.cpu_count() or 1) if workers is None else workers, len(chunks))
    start = last_save = time.perf_counter()
    bar = tqdm(total=len(index), initial=len(index) - len(todo), unit="img", desc=f"annotate {annotator_name}",
               disable=not progress)
    try:
        with bar, _results(annotator, index, chunks, processes) as results:
            for rows, boxes, found, sizes in results:
                state["boxes"][rows], state["found"][rows], state["sizes"][rows] = boxes, found, sizes
                state["done"][rows] = True
                bar.update(len(rows))
                if time.perf_counter() - last_save >= CHECKPOINT_SECONDS:
                    _save(partial, state, index.ids, annotator_name)
                    last_save = time.perf_counter()
    except BaseException:
        if state["done"].any():
            _save(partial, state, index.ids, annotator_name)
        raise
    seconds = time.perf_counter() - start
    final = {key: state[key] for key in ("boxes", "found", "sizes")}
    _save(out, final, index.ids, annotator_name)
    partial.unlink(missing_ok=True)
    summary = AnnotationSummary(path=out, annotator=annotator_name, images=len(index),
                                found=int(state["found"].sum()), computed=len(todo), seconds=seconds)
    write_json(out.with_suffix(".json"), record(
        annotator=annotator_name, images=summary.images, found=summary.found, fallbacks=summary.fallbacks,
        computed=summary.computed, seconds=round(seconds, 1), images_per_s=round(summary.images_per_s, 1),
        processes=processes, data=index.describe()))
    if progress:
        print(summary)
    return summary


def load_boxes(root, annotator: str, *, index: CelebAIndex | None = None, path=None) -> np.ndarray:
    """Cached boxes (N, 8, 4) int16 in the row order of ``index`` (default: the whole folder).

    Rows are matched by image id, so a split of the index works too; a
    DataError names the file when it is missing, unreadable or lacks images.
    """
    path = Path(path) if path is not None else box_path(root, annotator)
    if not path.is_file():
        raise DataError(f"{path}: box cache not found; compute it with "
                        f"mgmtn.masks.annotate({str(root)!r}, {annotator!r})")
    try:
        with np.load(path) as data:
            boxes, ids = data["boxes"], data["ids"].tolist()
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
        raise DataError(f"{path}: cannot read box cache ({error}); delete it and annotate again") from None
    index = read_index(root) if index is None else index
    if ids == index.ids:
        return boxes
    position = {image_id: row for row, image_id in enumerate(ids)}
    missing = [image_id for image_id in index.ids if image_id not in position]
    if missing:
        raise DataError(f"{path}: holds boxes for {len(ids)} images but {len(missing)} of the {len(index)} "
                        f"images of {index.root} are not among them (first: {', '.join(missing[:3])}); "
                        "annotate again")
    return boxes[[position[image_id] for image_id in index.ids]]
