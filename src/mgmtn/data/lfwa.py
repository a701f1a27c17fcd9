"""Convert the LFWA release into a CelebA-layout folder.

LFWA is the 40-attribute labelling of LFW by the CelebA authors (Liu et al.,
"Deep Learning Face Attributes in the Wild", ICCV 2015). Its release is two
MATLAB files, ``lfw_att_40.mat`` (``name``, ``label``, ``AttrName``) and
``indices_train_test.mat`` (1-based ``indices_img_train`` / ``indices_img_test``),
either as the original v7.3 (HDF5) files or as v5 re-saves; the images are
LFW's own (``lfw/<Name>/<Name>_NNNN.jpg``, original or (deep-)funneled).
Converting once lets the reader, the CLI and the notebooks treat LFWA like
CelebA. Images of the release that are not on disk are skipped and counted,
so a partial download converts and says what it lacks.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from pathlib import Path

import h5py
import numpy as np
import scipy.io
from tqdm.auto import tqdm

from mgmtn.attributes import ATTRIBUTES
from mgmtn.data.layout import (BOX_CACHE_FILES, IDENTITY_FILE, IMAGE_DIR, PARTITIONS, atomic_write,
                               write_attributes, write_identities, write_partition)
from mgmtn.errors import DataError, MgmtnError
from mgmtn.ownership import build_beside, check_replaceable, folder_lock, write_manifest, writing

LABEL_FILE = "lfw_att_40.mat"
SPLIT_FILE = "indices_train_test.mat"
SUMMARY_FILE = "lfwa_import.json"
# An import written before manifests (``mgmtn.ownership``): its marker and its files.
UNLISTED_IMPORT = (SUMMARY_FILE, (SUMMARY_FILE, "list_*.txt", IDENTITY_FILE, f"{IMAGE_DIR}/*"))
# LFW image folders as their archives unpack, the deep-funneled images (the common choice) first.
IMAGE_FOLDERS = ("lfw-deepfunneled", "lfw_deepfunneled", "lfw", "lfw-funneled", "lfw_funneled")


def _h5_value(file: h5py.File, item: h5py.Dataset):
    """A v7.3 variable: cell arrays hold references, chars are uint16 codes, matrices are stored transposed."""
    matlab_class = item.attrs.get("MATLAB_class", b"")
    matlab_class = matlab_class.decode() if isinstance(matlab_class, bytes) else str(matlab_class)
    if item.attrs.get("MATLAB_empty", 0):
        return "" if matlab_class == "char" else np.zeros((0, 0))
    data = item[()]
    if h5py.check_dtype(ref=item.dtype):
        return [_h5_value(file, file[ref]) for ref in data.ravel()]
    if matlab_class == "char":
        return "".join(map(chr, data.ravel()))
    return np.asarray(data).T


def _v5_value(value: np.ndarray):
    """A v5 variable: cell arrays of strings come back as object arrays of 1-element string arrays."""
    if value.dtype == object:
        return ["".join(np.asarray(cell).ravel().tolist()) for cell in value.ravel()]
    if value.dtype.kind == "U":  # a char matrix, one string per row
        return [str(row).rstrip() for row in value.ravel()]
    return value


def read_mat(path: Path, keys: tuple[str, ...]) -> dict:
    """The named variables of a MATLAB file of either format, as arrays or lists of strings.

    Keys absent from the file are absent from the result.
    """
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        if h5py.is_hdf5(path):
            with h5py.File(path, "r") as f:
                return {key: _h5_value(f, f[key]) for key in keys if key in f}
        raw = scipy.io.loadmat(path, variable_names=keys)
        return {key: _v5_value(raw[key]) for key in keys if key in raw}
    except DataError:
        raise
    except Exception as error:  # scipy and h5py raise many kinds for a damaged or foreign file
        raise DataError(f"{path}: cannot read as a MATLAB file ({type(error).__name__}: {error})") from None


def _require(values: dict, path: Path, key: str):
    if key not in values:
        raise DataError(f"{path}: no variable {key!r} (found: {', '.join(values) or 'none of the expected'})")
    return values[key]


def _strings(values: dict, path: Path, key: str) -> list[str]:
    value = _require(values, path, key)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DataError(f"{path}: {key} must be a cell array of strings")
    return value


def _labels_file(src: Path) -> Path:
    """``lfw_att_40.mat``, else the one ``lfw_att_40*.mat`` (e.g. the ``_7.1`` re-save)."""
    if (src / LABEL_FILE).is_file():
        return src / LABEL_FILE
    found = sorted(src.glob("lfw_att_40*.mat"))
    if len(found) > 1:
        raise DataError(f"{src}: several label files ({', '.join(p.name for p in found)}); keep one")
    return found[0] if found else src / LABEL_FILE


def _check_attribute_names(path: Path, names: list[str]) -> None:
    """Same 40 names in CelebA's order; case and surrounding spaces may differ.

    That leniency is safe: the 40 names stay distinct when case-folded, and the
    order is still checked, so no column can land on another attribute.
    """
    if len(names) != len(ATTRIBUTES):
        raise DataError(f"{path}: AttrName has {len(names)} names, expected CelebA's {len(ATTRIBUTES)}")
    for column, (got, want) in enumerate(zip(names, ATTRIBUTES), start=1):
        if got.strip().casefold() != want.casefold():
            raise DataError(f"{path}: AttrName column {column} is {got!r}, expected {want!r} "
                            "(LFWA must have CelebA's 40 attributes in CelebA's order)")


def _read_labels(path: Path) -> tuple[list[str], np.ndarray]:
    """The release's image names and (N, 40) 0/1 labels."""
    values = read_mat(path, ("name", "label", "AttrName"))
    names = _strings(values, path, "name")
    _check_attribute_names(path, _strings(values, path, "AttrName"))
    labels = np.asarray(_require(values, path, "label"))
    if labels.shape != (len(names), len(ATTRIBUTES)):
        raise DataError(f"{path}: label is {' x '.join(map(str, labels.shape))} but name has {len(names)} "
                        f"entries; expected {len(names)} x {len(ATTRIBUTES)}")
    if labels.dtype.kind not in "biuf" or not np.isin(labels, (-1, 0, 1)).all():
        raise DataError(f"{path}: label values must be 0/1 (or -1/1)")
    return names, (labels > 0).astype(np.uint8)


def release_labels(src: str | os.PathLike) -> tuple[list[str], np.ndarray]:
    """A release's image file names (as ``import-lfwa`` names the images) and their (N, 40) 0/1 labels."""
    path = _labels_file(Path(src))
    names, labels = _read_labels(path)
    return _parse_names(path, names)[1], labels


def _split_rows(values: dict, path: Path, key: str, count: int) -> np.ndarray:
    """0-based rows from MATLAB's 1-based indices, checked against the ``count`` names."""
    indices = np.asarray(_require(values, path, key), dtype=np.float64).ravel()
    bad = np.flatnonzero((indices != np.round(indices)) | (indices < 1) | (indices > count))
    if bad.size:
        raise DataError(f"{path}: {key} has {bad.size} indices that are not whole numbers in 1..{count} "
                        f"(the rows of the label file), first {indices[bad[0]]:g}")
    rows = indices.astype(np.int64) - 1
    if np.unique(rows).size != rows.size:
        raise DataError(f"{path}: {key} lists some images twice")
    return rows


def _read_split(path: Path, count: int) -> tuple[np.ndarray, np.ndarray]:
    """LFWA's train and test rows; their identities (``indices_identity_*``) follow from the names."""
    values = read_mat(path, ("indices_img_train", "indices_img_test"))
    train = _split_rows(values, path, "indices_img_train", count)
    test = _split_rows(values, path, "indices_img_test", count)
    both = np.intersect1d(train, test)
    if both.size:
        raise DataError(f"{path}: {both.size} images are in both indices_img_train and indices_img_test "
                        f"(first: index {both[0] + 1})")
    return train, test


def _parse_names(path: Path, names: list[str]) -> tuple[list[str], list[str]]:
    """Identity folders and flat file names from names like ``Aaron_Eckhart\\Aaron_Eckhart_0001.jpg``."""
    parts = [name.replace("\\", "/").split("/") for name in names]
    bad = [name for name, p in zip(names, parts) if len(p) != 2 or not all(p)]
    if bad:
        raise DataError(f"{path}: {len(bad)} names are not <identity>\\<file> (first: {bad[0]!r})")
    files = [p[1] for p in parts]
    if len(set(files)) != len(files):
        raise DataError(f"{path}: image file names repeat across identities; they must be unique")
    return [p[0] for p in parts], files


def _image_folder(src: Path) -> Path:
    """The first LFW folder of ``IMAGE_FOLDERS`` under ``src`` (or nested once, as some archives unpack)."""
    for name in IMAGE_FOLDERS:
        for folder in (src / name / name, src / name):
            if folder.is_dir():
                return folder
    raise DataError(f"{src}: no LFW image folder (looked for {', '.join(IMAGE_FOLDERS)})")


def carve_val(identities: set[str], fraction: float, seed: int) -> set[str]:
    """A seeded ``fraction`` of the identities (rounded), drawn from their sorted list.

    Drawing from names, not from what is on disk, makes the same seed give the
    same validation people for a partial download as for the full release.
    """
    pool = sorted(identities)
    picked = np.random.default_rng(seed).choice(len(pool), size=round(fraction * len(pool)), replace=False)
    return {pool[k] for k in picked}




def _place_images(sources: list[Path], target: Path, ids: list[str], link: bool) -> int:
    """Symlink (or copy) each image into ``target``; returns how many were linked."""
    target.mkdir()
    linked = 0
    for source, image_id in zip(sources, ids):
        if link:
            try:
                os.symlink(source, target / image_id)
                linked += 1
                continue
            except OSError:  # the file system does not allow links
                pass
        with writing(target / image_id):
            shutil.copyfile(source, target / image_id)
    return linked


def _place_aligned(sources: list[Path], target: Path, ids: list[str]) -> dict:
    """Write each image's central face warped into CelebA's aligned frame (``mgmtn.data.align``).

    An image where dlib finds no face is copied as it is and named in the
    returned record, so nothing is dropped silently; images that do not decode
    are all read first, then reported in one error.
    """
    from mgmtn.data.align import FaceAligner, central_face
    from mgmtn.data.celeba import load_image

    aligner = FaceAligner()
    target.mkdir()
    missed, broken = [], []
    for source, image_id in zip(tqdm(sources, desc="aligning faces", unit="img"), ids):
        try:
            photo = load_image(source)
        except DataError as error:
            broken.append(str(error))
            continue
        faces = aligner(photo)
        with writing(target / image_id):
            if faces:
                central_face(faces, photo.size).image(photo).save(target / image_id, quality=95)
            else:
                shutil.copyfile(source, target / image_id)
                missed.append(image_id)
    if broken:
        raise DataError(f"{len(broken)} of {len(ids)} images of the release do not decode (first: {broken[0]})")
    return {"faces": len(ids) - len(missed), "missed": len(missed), "first_missed": missed[:10]}


def import_lfwa(src: str | os.PathLike, out: str | os.PathLike, val_fraction: float = 0.1, seed: int = 0,
                link: bool = True, force: bool = False, align: bool = False) -> dict:
    """Write LFWA under ``src`` as a CelebA-layout folder ``out``; returns the summary it saves.

    Partitions: 0 is LFWA's train split less the validation people, 2 its test
    split. LFWA has no validation split, so partition 1 is carved from train
    by identity: a seeded ``val_fraction`` of the train split's identities
    (see ``carve_val``), all their images, so no person is in both train and
    val. Each image's person is written as CelebA's ``identity_CelebA.txt``
    (people numbered in name order), so that a run's selection split is
    carved by person here too (``mgmtn.data.splits``). Images are symlinked
    under their LFW file names (copied where links fail, or always with
    ``link=False``); with ``align``, each is written as its central face in
    CelebA's aligned frame instead, as CelebA's own images are (LFW frames
    show the whole head and background). The folder is built beside ``out``
    and renamed into place, so a failed import leaves no half-written ``out``;
    a non-empty ``out`` is replaced only with ``force``.
    """
    src, out = Path(src), Path(out)
    if not src.is_dir():
        raise DataError(f"{src}: LFWA folder not found")
    if not 0 <= val_fraction < 1:
        raise MgmtnError(f"val_fraction must be in [0, 1), got {val_fraction}")
    if src.resolve().is_relative_to(out.resolve()):
        raise MgmtnError(f"{out}: the output folder must not contain the source {src}")
    with folder_lock(out, "mgmtn import-lfwa output"):
        check_replaceable(out, "import-lfwa", force, BOX_CACHE_FILES, UNLISTED_IMPORT)
        return _import(src, out, val_fraction, seed, link, align)


def _import(src: Path, out: Path, val_fraction: float, seed: int, link: bool, align: bool) -> dict:
    label_file, split_file = _labels_file(src), src / SPLIT_FILE
    names, labels = _read_labels(label_file)
    train, test = _read_split(split_file, len(names))
    identities, files = _parse_names(label_file, names)
    folder = _image_folder(src).resolve()

    train_people = {identities[r] for r in train}
    val_people = carve_val(train_people, val_fraction, seed)
    partition = {r: PARTITIONS["val"] if identities[r] in val_people else PARTITIONS["train"] for r in train}
    partition.update({r: PARTITIONS["test"] for r in test})
    rows = sorted(partition)  # the release's order
    found = {r: (folder / identities[r] / files[r]).is_file() for r in rows}
    present = [r for r in rows if found[r]]
    missing = [names[r] for r in rows if not found[r]]
    if not present:
        raise DataError(f"{folder}: none of the {len(rows)} images of the release's split was found "
                        "(looked for <identity>/<file> below it)")
    if missing:
        warnings.warn(f"{folder}: {len(missing)} of {len(rows)} images of the release are missing and "
                      f"were skipped (first: {', '.join(missing[:3])})", stacklevel=2)

    ids = [files[r] for r in present]
    people = {name: number for number, name in enumerate(sorted({identities[r] for r in present}), start=1)}
    codes = np.array([partition[r] for r in present])
    summary = {
        "out": str(out.resolve()),
        "sources": {"labels": str(label_file.resolve()), "split": str(split_file.resolve()), "images": str(folder)},
        "val_fraction": val_fraction, "seed": seed,
        "val_identities": {"drawn": len(val_people), "of_train_identities": len(train_people)},
        "images": {name: int((codes == code).sum()) for name, code in PARTITIONS.items()},
        "identities": {name: len({identities[r] for r, c in zip(present, codes) if c == code})
                       for name, code in PARTITIONS.items()},
        "missing": {"count": len(missing), "first": missing[:10]},
        "not_in_split": len(names) - len(rows),
    }
    with build_beside(out) as tmp:
        sources = [folder / identities[r] / files[r] for r in present]
        summary["aligned"] = _place_aligned(sources, tmp / IMAGE_DIR, ids) if align else None
        summary["linked"] = 0 if align else _place_images(sources, tmp / IMAGE_DIR, ids, link)
        summary["copied"] = len(ids) - summary["linked"]
        write_attributes(tmp, ids, labels[present])
        write_partition(tmp, ids, codes)
        write_identities(tmp, ids, [people[identities[r]] for r in present])
        with atomic_write(tmp / SUMMARY_FILE) as f:
            json.dump(summary, f, indent=2)
        write_manifest(tmp, "import-lfwa")
    return summary
