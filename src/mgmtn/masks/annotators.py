"""Facial keypoint annotators behind one interface.

An annotator maps an image, given as its row in a CelebA-layout index or as
a PIL image, to keypoints ``(K, 2)`` float32 in pixel coordinates, or to
None when it finds no face. ``mgmtn.masks.regions.group_boxes`` turns any of
their outputs into the eight group boxes.

==========  =====  ============================================================
name        K      source
==========  =====  ============================================================
synthetic   98     exact WFLW keypoints written by the synthetic face generator
celeba5     5      CelebA's own aligned landmarks (list_landmarks_align_celeba)
dlib        68     dlib HOG detector + 68-point shape predictor, offline
farl        98     FaRL WFLW aligner via the optional ``pyfacer`` (the paper's
                   choice); needs internet access for its weights on first use
==========  =====  ============================================================
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
from PIL import Image

from mgmtn.data.celeba import CelebAIndex, load_image, read_index
from mgmtn.data.layout import KEYPOINT_FILE, LANDMARK_FILE
from mgmtn.errors import MgmtnError
from mgmtn.masks.regions import group_boxes

ANNOTATORS = ("synthetic", "celeba5", "dlib", "farl")
OFFLINE_ALTERNATIVES = "use 'dlib', 'celeba5' or 'synthetic' instead"

# Mean of CelebA's aligned 5-point landmarks (eyes, nose tip, mouth corners) in its 178x218 images.
CELEBA_ALIGNED_LANDMARKS = np.array([(69, 111), (108, 111), (89, 135), (72, 152), (106, 152)], np.float32)
CELEBA_ALIGNED_SIZE = (178, 218)


def aligned_fallback(image_size: tuple[int, int]) -> np.ndarray:
    """CelebA's mean aligned landmarks (5, 2) scaled to ``image_size``: where a face is when none is found.

    Aligned datasets put every face at nearly the same place, so this is a
    fair guess for the rare image on which a detector fails.
    """
    return CELEBA_ALIGNED_LANDMARKS * (np.array(image_size, np.float32) / CELEBA_ALIGNED_SIZE)


def boxes_or_fallback(keypoints: np.ndarray | None, image_size: tuple[int, int]) -> np.ndarray:
    """The eight group boxes of a face's keypoints, or of ``aligned_fallback`` where none were found."""
    return group_boxes(aligned_fallback(image_size) if keypoints is None else keypoints, image_size)


class Annotator:
    """``annotator(item) -> keypoints (K, 2) float32 | None``; ``item`` is an index row or a PIL image.

    ``parallel`` says whether the work is heavy enough to spread over
    worker processes (see ``mgmtn.masks.cache.annotate``).
    """

    name: str = ""
    parallel: bool = False

    def __init__(self, index: CelebAIndex | None = None):
        self.index = index

    def __call__(self, item: int | Image.Image) -> np.ndarray | None:
        raise NotImplementedError

    def _image(self, item: int | Image.Image) -> Image.Image:
        if isinstance(item, Image.Image):
            return item.convert("RGB")
        if self.index is None:
            raise MgmtnError(f"annotator {self.name!r} was made without a dataset folder; "
                             "pass root= to get_annotator or give it a PIL image")
        return load_image(self.index.image_path(item))


class TableAnnotator(Annotator):
    """Keypoints read from a file of the dataset folder: exact and instant."""

    def __init__(self, name: str, index: CelebAIndex, table: np.ndarray | None, source: str):
        super().__init__(index)
        if table is None:
            raise MgmtnError(f"annotator {name!r} needs {index.root / source}, which is missing; "
                             f"use 'dlib' for a folder without it")
        self.name, self.table, self.source = name, table, source

    def __call__(self, item):
        if isinstance(item, Image.Image):
            raise MgmtnError(f"annotator {self.name!r} reads keypoints from {self.source} and cannot "
                             "annotate a bare image; use 'dlib'")
        return self.table[item]


def dlib_model_path() -> Path:
    """The 68-point model shipped in ``face-recognition-models``, found without importing it.

    Importing that package needs ``pkg_resources``, which recent setuptools no
    longer provides; its data file is all we need.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise MgmtnError("annotator 'dlib' needs the 'face-recognition-models' package "
                         "(pip install face-recognition-models)")
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / "shape_predictor_68_face_landmarks.dat"
    if not path.is_file():
        raise MgmtnError(f"{path}: dlib 68-point model not found; reinstall face-recognition-models")
    return path


class DlibAnnotator(Annotator):
    """dlib's HOG frontal face detector and 68-point (iBUG 300-W) shape predictor, on the CPU.

    The detector runs at upsample 0 and, only when that finds nothing, at
    upsample 1 (slower, finds smaller faces); of several faces the largest is
    annotated (``faces`` gives them all). The 68-point model is trained on iBUG 300-W, whose licence allows
    non-commercial research use only.
    """

    name = "dlib"
    parallel = True

    def __init__(self, index: CelebAIndex | None = None, model_path: Path | None = None):
        import dlib

        super().__init__(index)
        self.detector = dlib.get_frontal_face_detector()
        self.predictor = dlib.shape_predictor(str(model_path or dlib_model_path()))

    def __call__(self, item):
        pixels = np.asarray(self._image(item))
        faces = self._detect(pixels)
        return self._points(pixels, faces[0]) if faces else None

    def faces(self, image: Image.Image) -> list[tuple[tuple[int, int, int, int], np.ndarray]]:
        """Every face in ``image``, largest first: its detector box (x0, y0, x1, y1) and its 68 points."""
        pixels = np.asarray(image.convert("RGB"))
        return [((face.left(), face.top(), face.right(), face.bottom()), self._points(pixels, face))
                for face in self._detect(pixels)]

    def _detect(self, pixels: np.ndarray) -> list:
        faces = self.detector(pixels, 0) or self.detector(pixels, 1)
        return sorted(faces, key=lambda face: -face.area())

    def _points(self, pixels: np.ndarray, face) -> np.ndarray:
        # dlib reports pixel indices; +0.5 puts the points at pixel centres.
        return np.array([(p.x, p.y) for p in self.predictor(pixels, face).parts()], np.float32) + 0.5


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0] if text else ''}"


class FarlAnnotator(Annotator):
    """RetinaFace (MobileNet) detection + FaRL's 98-point WFLW aligner, through ``pyfacer``.

    This is the annotator of the paper. Its weights download on first use, so
    without ``pyfacer`` or without internet access it fails at once, naming
    the offline alternatives.
    """

    name = "farl"

    def __init__(self, index: CelebAIndex | None = None, device: str = "cpu"):
        if importlib.util.find_spec("facer") is None:
            raise MgmtnError("annotator 'farl' needs the optional 'pyfacer' package (pip install "
                             "'mgmtn[farl]') and internet access for its weights on first use; "
                             + OFFLINE_ALTERNATIVES)
        import facer

        super().__init__(index)
        self.device = device
        try:
            self.detector = facer.face_detector("retinaface/mobilenet", device=device)
            self.aligner = facer.face_aligner("farl/wflw/448", device=device)
        except Exception as error:  # a failed download surfaces as many different types
            raise MgmtnError(f"annotator 'farl' could not load its RetinaFace/FaRL weights "
                             f"({_first_line(error)}); {OFFLINE_ALTERNATIVES}") from None

    def __call__(self, item):
        import torch

        pixels = torch.from_numpy(np.array(self._image(item))).permute(2, 0, 1)[None].to(self.device)
        with torch.inference_mode():
            faces = self.detector(pixels)
            if len(faces["rects"]) == 0:
                return None
            faces = self.aligner(pixels, faces)
        rects = faces["rects"]
        largest = int(((rects[:, 2] - rects[:, 0]) * (rects[:, 3] - rects[:, 1])).argmax())
        return faces["alignment"][largest].cpu().numpy().astype(np.float32)


def get_annotator(name: str, root=None, *, index: CelebAIndex | None = None) -> Annotator:
    """The annotator ``name``; ``root`` (or an already read ``index``) is the dataset it annotates.

    ``synthetic`` and ``celeba5`` need the dataset; ``dlib`` and ``farl`` can
    also annotate PIL images without one.
    """
    if name not in ANNOTATORS:
        raise MgmtnError(f"unknown annotator {name!r}; choose one of {', '.join(ANNOTATORS)}")
    models = {"dlib": DlibAnnotator, "farl": FarlAnnotator}
    annotator = models[name]() if name in models else None  # load (or fail) before reading any data
    if index is None and root is not None:
        index = read_index(root)
    if annotator is not None:
        annotator.index = index
        return annotator
    if index is None:
        raise MgmtnError(f"annotator {name!r} reads keypoints from a dataset folder; pass root=")
    if name == "synthetic":
        return TableAnnotator(name, index, index.keypoints, KEYPOINT_FILE)
    return TableAnnotator(name, index, index.landmarks, LANDMARK_FILE)


def default_annotator(index: CelebAIndex) -> str:
    """The most exact annotator a folder allows: its own keypoints, else its 5 landmarks, else dlib."""
    if index.keypoints is not None:
        return "synthetic"
    return "celeba5" if index.landmarks is not None else "dlib"
