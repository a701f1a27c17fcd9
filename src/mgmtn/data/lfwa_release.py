"""Write LFWA releases: real-looking ones from given labels, and synthetic ones from procedural faces.

``write_release`` lays files out as the LFWA release does (see
``mgmtn.data.lfwa``): ``lfw_att_40.mat`` and ``indices_train_test.mat`` in
either MATLAB format, v5 or v7.3 (HDF5, with MATLAB's own conventions), and
the images under ``lfw/<Name>/<Name>_NNNN.jpg``. The tests build tiny and
damaged releases with it; ``synthetic_release`` builds a whole one from the
faces of ``mgmtn.data.synth``, so the LFWA notebook runs without real data.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import h5py
import numpy as np
import scipy.io
from PIL import Image, ImageDraw, ImageFilter, ImageOps
from tqdm import tqdm

from mgmtn.attributes import ATTRIBUTES
from mgmtn.config import ensure_synthetic, home
from mgmtn.data.celeba import read_index
from mgmtn.data.lfwa import LABEL_FILE, SPLIT_FILE
from mgmtn.ownership import build_beside
from mgmtn.errors import DataError, MgmtnError

MAT_FORMATS = ("v5", "v7.3")
V73_HEADER = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, HDF5 schema 1.00 ."
IMAGE_FOLDER = "lfw"
JPEG_QUALITY = 95
MARKER = "synthetic_lfwa.json"

FRAME_SIZE = 250  # LFW's images are 250x250
# Scale of the 178x218 synthetic crop in the frame. Looked at beside real LFW
# (deep-funneled) images: LFW's eyes are about 42-48 px apart, the synthetic
# faces' 36-42, so LFW's faces are, if anything, a little larger than
# CelebA-style crops, with more context around them. At 0.6 the faces would be
# small enough that dlib's detector (upsample 0) missed half of 40 frames; at
# 1.1 it found all of them.
FACE_SCALE = 1.1
BACKGROUND_BLUR = 12  # Gaussian radius of the background, in px of the frame
FEATHER = 8  # px over which the crop's edge fades into the background


def _save_v73(path: Path, variables: dict) -> None:
    """Mimic MATLAB's -v7.3: cells of strings as references to uint16 chars, matrices transposed."""
    with h5py.File(path, "w", userblock_size=512) as f:
        refs = f.create_group("#refs#")
        for key, value in variables.items():
            if isinstance(value, list):
                cells = []
                for k, text in enumerate(value):
                    chars = refs.create_dataset(f"{key}{k}", data=np.array([[ord(c)] for c in text], np.uint16))
                    chars.attrs["MATLAB_class"] = np.bytes_("char")
                    cells.append(chars.ref)
                item = f.create_dataset(key, data=np.array(cells, dtype=h5py.ref_dtype).reshape(-1, 1))
                item.attrs["MATLAB_class"] = np.bytes_("cell")
            else:
                item = f.create_dataset(key, data=np.asarray(value, np.float64).T)
                item.attrs["MATLAB_class"] = np.bytes_("double")
    with open(path, "r+b") as f:  # MATLAB's text header in the 512-byte user block
        f.write(V73_HEADER.ljust(116) + bytes(8) + b"\x00\x02IM")


def save_mat(path: Path, variables: dict, mat_format: str = "v5") -> None:
    """Save ``variables`` as MATLAB would: lists of strings as (1, N) cell arrays, arrays as matrices.

    ``mat_format`` is ``"v5"`` (``scipy.io.savemat``) or ``"v7.3"`` (HDF5, the
    original LFWA files' format; every matrix is stored as double there).
    """
    if mat_format not in MAT_FORMATS:
        raise MgmtnError(f"mat_format must be one of {', '.join(MAT_FORMATS)}, got {mat_format!r}")
    if mat_format == "v7.3":
        _save_v73(Path(path), variables)
    else:
        scipy.io.savemat(path, {k: np.array(v, dtype=object).reshape(1, -1) if isinstance(v, list) else v
                                for k, v in variables.items()})


def _split_variables(names: Sequence[str], train_rows, test_rows) -> dict:
    """``indices_train_test.mat``'s 1-based image indices and the identity indices they imply.

    LFWA numbers identities by their first appearance in ``name`` (which is
    sorted by person), 1-based, and lists each split's identities once.
    """
    people = [name.replace("\\", "/").split("/")[0] for name in names]
    number = {person: k for k, person in enumerate(dict.fromkeys(people), start=1)}
    variables = {}
    for split, rows in (("train", train_rows), ("test", test_rows)):
        rows = np.asarray(rows, np.int64).ravel()
        variables[f"indices_img_{split}"] = (rows + 1).astype(np.float64).reshape(1, -1)
        identities = list(dict.fromkeys(number[people[r]] for r in rows))
        variables[f"indices_identity_{split}"] = np.array(identities, np.float64).reshape(1, -1)
    return variables


def write_release(out: str | os.PathLike, names: Sequence[str], labels: np.ndarray, train_rows, test_rows,
                  images: Mapping[str, Image.Image] | Iterable[tuple[str, Image.Image]] | None = None,
                  mat_format: str = "v5", *, label_file: str = LABEL_FILE, image_folder: str = IMAGE_FOLDER,
                  override: Mapping[str, object] | None = None) -> Path:
    """Write an LFWA release into the folder ``out`` (created if needed) and return it.

    ``names`` are LFWA's ``<Name>\\<Name>_NNNN.jpg`` entries, ``labels`` their
    (N, 40) 0/1 labels in CelebA's attribute order, ``train_rows`` and
    ``test_rows`` 0-based rows of ``names`` (stored 1-based, as MATLAB
    indexes). ``images`` maps names to pictures (a dict, or (name, image)
    pairs, e.g. a generator, so a large release need not sit in memory);
    each is saved as a JPEG under ``<image_folder>/<Name>/<file>``, and names
    without one get no file. ``override`` replaces variables of the .mat
    files by name, or drops those given as None; the tests build damaged
    releases with it. Nothing here checks the release: the importer does.
    """
    out = Path(out)
    names = list(names)
    variables = {"name": names, "label": np.asarray(labels), "AttrName": list(ATTRIBUTES),
                 **_split_variables(names, train_rows, test_rows)}
    variables.update(override or {})
    variables = {k: v for k, v in variables.items() if v is not None}
    out.mkdir(parents=True, exist_ok=True)
    save_mat(out / label_file, {k: v for k, v in variables.items() if not k.startswith("indices")}, mat_format)
    save_mat(out / SPLIT_FILE, {k: v for k, v in variables.items() if k.startswith("indices")}, mat_format)
    pairs = images.items() if isinstance(images, Mapping) else images or ()
    for name, image in pairs:
        path = out / image_folder / Path(*name.replace("\\", "/").split("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        image.convert("RGB").save(path, "JPEG", quality=JPEG_QUALITY)
    return out


def lfw_frame(face: Image.Image, scale: float = FACE_SCALE, size: int = FRAME_SIZE) -> Image.Image:
    """``face`` (an aligned crop) framed as an LFW image: ``size`` x ``size``, the face centred.

    LFW's frames are a face detector's box enlarged 2.2 times, so the face
    sits in the middle with its surroundings (hair, shoulders, the scene)
    around it. Here the crop is scaled by ``scale`` and centred (an overhang
    is cut off); the rest of the frame is the same picture enlarged to cover
    the frame and blurred, so the surroundings continue the crop's colours
    instead of a plain border, and the crop's edge fades into them over a few
    pixels, leaving no rectangle for a model to key on.
    """
    face = face.convert("RGB")
    frame = ImageOps.fit(face, (size, size), Image.Resampling.BILINEAR)
    frame = frame.filter(ImageFilter.GaussianBlur(BACKGROUND_BLUR))
    width, height = (max(1, round(v * scale)) for v in face.size)
    scaled = face.resize((width, height), Image.Resampling.LANCZOS)
    mask = Image.new("L", scaled.size, 0)
    ImageDraw.Draw(mask).rectangle((FEATHER, FEATHER, width - 1 - FEATHER, height - 1 - FEATHER), fill=255)
    mask = mask.filter(ImageFilter.GaussianBlur(FEATHER / 2))
    frame.paste(scaled, ((size - width) // 2, (size - height) // 2), mask)
    return frame


def _people(n: int, people: int, rng: np.random.Generator) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Faces dealt to ``people`` identities: the release's face order, names and per-row person (0-based).

    Each person gets ``n // people`` faces or one more, at random; rows are
    ordered by person, then face, as LFWA's ``name`` is sorted by person.
    """
    owner = rng.permutation(np.arange(n) % people)
    order = np.argsort(owner, kind="stable")
    digits = max(4, len(str(people)))
    seen = np.zeros(people, np.int64)
    names = []
    for person in owner[order]:
        seen[person] += 1
        name = f"Person_{person + 1:0{digits}d}"
        names.append(f"{name}\\{name}_{seen[person]:04d}.jpg")
    return order, names, owner[order]


def _finished(marker: Path, params: dict) -> bool:
    try:
        return json.loads(marker.read_text()) == params
    except (OSError, ValueError):  # absent or damaged: not finished
        return False


def synthetic_release(out: str | os.PathLike | None = None, n: int = 600, people: int = 120, seed: int = 0,
                      mat_format: str = "v5", *, faces: str | os.PathLike | None = None,
                      face_scale: float = FACE_SCALE, progress: bool = True) -> Path:
    """A synthetic LFWA release of ``n`` faces of ``people`` fake identities in ``out``; returns ``out``.

    The faces are the first ``n`` of ``faces`` (a CelebA-layout folder), by
    default ``ensure_synthetic(n, seed)``'s procedural faces (generated once
    into its cache under ``mgmtn.config.home()``). They are dealt at random to
    identities ``Person_0001`` ... (``Person_0001\\Person_0001_0001.jpg``, ...;
    ``n // people`` images each or one more), framed as LFW images by
    ``lfw_frame`` (250x250, the face scaled by ``face_scale``, centred, on its
    own blurred surroundings), and keep their synthetic labels as the LFWA
    labels; the faces of one identity are different synthetic faces, so only
    the names tie them. A seeded half of the identities (``people // 2``,
    rounded down) form the test split, the rest the train split, so the
    splits are identity-disjoint like LFWA's. ``out`` defaults to a folder
    per parameter set under ``home()/data``.

    The release is built beside ``out`` and renamed into place with a JSON
    marker of its parameters, so an interrupted build never looks finished;
    a finished release with the same parameters is reused as it is. An
    ``out`` holding anything else than an earlier synthetic release is left
    alone (``MgmtnError``).
    """
    if mat_format not in MAT_FORMATS:
        raise MgmtnError(f"mat_format must be one of {', '.join(MAT_FORMATS)}, got {mat_format!r}")
    if not 2 <= people <= n:
        raise MgmtnError(f"people must be between 2 and n={n} (a train and a test identity at least), got {people}")
    faces = Path(faces).resolve() if faces is not None else None
    if out is None:
        out = home() / "data" / f"lfwa-synthetic-n{n}-people{people}-seed{seed}-{mat_format}"
    out = Path(out)
    params = {"n": n, "people": people, "seed": seed, "mat_format": mat_format, "face_scale": face_scale,
              "faces": None if faces is None else str(faces)}
    if _finished(out / MARKER, params):
        return out
    if (out.exists() or out.is_symlink()) and not (out.is_dir() and (not any(out.iterdir()) or
                                                                     (out / MARKER).is_file())):
        raise MgmtnError(f"{out}: exists and is not a synthetic LFWA release; choose another folder")

    index = read_index(faces if faces is not None else ensure_synthetic(n, seed, progress=progress))
    if len(index) < n:
        raise DataError(f"{index.root}: {len(index)} faces, fewer than the n={n} asked for")
    rng = np.random.default_rng(seed)
    order, names, person = _people(n, people, rng)
    test_people = rng.permutation(people)[:people // 2]
    is_test = np.isin(person, test_people)

    def framed():
        for name, row in tqdm(zip(names, order), total=n, desc="LFW frames", unit="img", disable=not progress):
            with Image.open(index.image_path(row)) as face:
                yield name, lfw_frame(face, face_scale)

    with build_beside(out) as tmp:
        write_release(tmp, names, index.labels[order], np.flatnonzero(~is_test), np.flatnonzero(is_test),
                      framed(), mat_format)
        (tmp / MARKER).write_text(json.dumps(params, indent=2))
    return out
