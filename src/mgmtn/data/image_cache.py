"""Every image of an index decoded and resized once, kept as one memory-mapped uint8 array.

Decoding a 178x218 JPEG costs more than a ResNet18 step spends on it at
112 px on a CPU, so an epoch read from disk is bounded by the decoder.
``resized_images(index, size)`` decodes each image once, resizes it exactly
as the transforms would (``Image.resize``, bilinear with antialiasing), and
stores the result under ``$MGMTN_HOME/images``; later runs map the file and
pay only the augmentation.

The file name is a hash of what determines its pixels: the dataset folder,
its image ids in order, each file's size and modification time, the target
size and the resampling filter. A changed image or a new size gives a new
file; a stale one is never read. The array is written to a temporary file and
renamed into place, so an interrupted build leaves nothing that looks finished.
The temporary file is allocated in full before the first image is written (a
full disk is one error naming it, never a SIGBUS from the memory map) and stays
locked while its builder lives, so the next build removes those a killed
builder left behind.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from mgmtn.config import home
from mgmtn.data.celeba import CelebAIndex, load_image
from mgmtn.data.layout import atomic_write
from mgmtn.errors import DataError
from mgmtn.ownership import check_writable, folder_lock, writing

RESAMPLE = Image.Resampling.BILINEAR  # the filter of TrainTransform's and EvalTransform's resize


def cache_key(index: CelebAIndex, size: int) -> str:
    """A hash of the folder, the ids, every file's size and mtime, ``size`` and the filter."""
    digest = hashlib.sha1(f"{index.root}|{size}|{RESAMPLE.name}".encode())
    for i, image_id in enumerate(index.ids):
        try:
            stat = os.stat(index.image_path(i))
        except OSError as error:  # e.g. a symlink loop
            raise DataError(f"{index.image_path(i)}: cannot read image ({error.strerror})") from None
        digest.update(f"|{image_id}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def cache_path(index: CelebAIndex, size: int) -> Path:
    return home() / "images" / f"{index.root.name}-{size}px-{len(index)}-{cache_key(index, size)}.npy"


def _decode(index: CelebAIndex, size: int, i: int) -> tuple[np.ndarray, tuple[int, int]]:
    image = load_image(index.image_path(i))
    return np.asarray(image.resize((size, size), RESAMPLE)), image.size


class ResizedImages:
    """A folder's images at ``size`` x ``size``, read from the cache by image id.

    Any sub-index of the folder (a split, the first rows) reads from the same
    file. ``scale(image_id)`` maps a point of the original image to the cached
    one (boxes and keypoints are stored in original pixels).
    """

    def __init__(self, array: np.ndarray, ids: list[str], source_sizes: np.ndarray, size: int):
        self.array, self.size = array, size
        self.row = {image_id: k for k, image_id in enumerate(ids)}
        self.scales = size / source_sizes.astype(np.float64)  # (N, 2): x and y factors per image

    def __contains__(self, image_id: str) -> bool:
        return image_id in self.row

    def image(self, image_id: str) -> Image.Image:
        return Image.fromarray(np.asarray(self.array[self.row[image_id]]))

    def scale(self, image_id: str) -> np.ndarray:
        return self.scales[self.row[image_id]]


def _is_held(path: Path) -> bool:
    """Whether a live process holds ``path``'s lock (a builder holds its temporary file's while it writes)."""
    try:
        with open(path, "rb") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except FileNotFoundError:
        pass
    return False


def _start_build(path: Path):
    """Remove the temporary files of dead builders, then open (and lock) a new one for ``path``.

    Both happen under the cache folder's lock, so no file is removed between
    its creation and its builder's lock.
    """
    with folder_lock(path.parent, "image cache", wait=True):
        for stale in path.parent.glob(".*.build-*.tmp"):
            if not _is_held(stale):
                stale.unlink(missing_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.build-", suffix=".tmp")
        handle = os.fdopen(fd, "r+b")
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return handle, Path(tmp)


def _allocate(tmp: Path, shape: tuple[int, ...], path: Path) -> np.memmap:
    """The array mapped onto ``tmp`` with every block of the file allocated before it is written."""
    with writing(path):
        array = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=shape)
        fd = os.open(tmp, os.O_RDWR)
        try:
            os.posix_fallocate(fd, 0, os.fstat(fd).st_size)
        finally:
            os.close(fd)
    return array


def resized_images(index: CelebAIndex, size: int, threads: int = 2, progress: bool = True) -> ResizedImages:
    """The cached images of ``index`` (a whole folder's, read once) at ``size`` px, built on first use."""
    path = cache_path(index, size)
    sizes_path = path.with_suffix(".sizes.npy")
    if not (path.exists() and sizes_path.exists()):
        check_writable(path.parent)
        handle, tmp = _start_build(path)
        try:
            array = _allocate(tmp, (len(index), size, size, 3), path)
            sizes = np.empty((len(index), 2), np.int64)
            with ThreadPoolExecutor(threads) as pool:  # PIL releases the GIL while it decodes
                decoded = pool.map(lambda i: _decode(index, size, i), range(len(index)))
                for i, (image, sizes[i]) in enumerate(tqdm(decoded, total=len(index), unit="img",
                                                           desc=f"caching {size} px images",
                                                           disable=not progress, leave=False)):
                    array[i] = image
            array.flush()
            del array
            # The sizes first: the images' file appearing is the mark of a finished build.
            with atomic_write(sizes_path, "wb") as f:
                np.save(f, sizes)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
            handle.close()
    return ResizedImages(np.load(path, mmap_mode="r"), index.ids, np.load(sizes_path), size)
