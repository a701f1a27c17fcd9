"""LFWA import: both MATLAB formats, the partitions it writes, and every bad input named by file."""

import json
import re
from pathlib import Path

import h5py
import numpy as np
import pytest
from PIL import Image

from mgmtn.attributes import ATTRIBUTES
from mgmtn.cli import main
from mgmtn.config import ensure_synthetic, shared_data
from mgmtn.data import lfwa, lfwa_release
from mgmtn.data.celeba import read_index
from mgmtn.data.lfwa import SPLIT_FILE, SUMMARY_FILE, import_lfwa, read_mat
from mgmtn.data.layout import IMAGE_DIR, PARTITIONS
from mgmtn.data.lfwa_release import MARKER, synthetic_release, write_release
from mgmtn.errors import DataError, MgmtnError

PEOPLE = [f"Person_{c}" for c in "ABCDEFGH"]
NAMES = [f"{p}\\{p}_{k:04d}.jpg" for p in PEOPLE for k in (1, 2)]
LABELS = ((np.arange(len(NAMES))[:, None] + np.arange(40)) % 3 == 0).astype(np.uint8)
TRAIN = np.arange(0, 10)  # 0-based rows, the first five people
TEST = np.arange(10, 16)
FORMATS = ["v5", "v7.3"]
LABEL_NAME = {"v5": "lfw_att_40_7.1.mat", "v7.3": "lfw_att_40.mat"}


def make_release(root: Path, fmt: str, **override) -> Path:
    """A 16-image LFWA release; ``override`` replaces (or, as None, drops) variables of its .mat files.

    Overridden indices are stored as given, so they are MATLAB's 1-based ones.
    """
    root.mkdir()
    frame = Image.new("RGB", (250, 250), (90, 60, 30))
    return write_release(root, NAMES, LABELS, TRAIN, TEST, dict.fromkeys(NAMES, frame), fmt,
                         label_file=LABEL_NAME[fmt], override=override)


def person(image_id: str) -> str:
    return image_id.rsplit("_", 1)[0]


def assert_nothing_written(tmp_path: Path) -> None:
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_import_round_trips_through_read_index(tmp_path, fmt):
    src = make_release(tmp_path / "src", fmt)
    summary = import_lfwa(src, tmp_path / "out", val_fraction=0.4, seed=1)
    index = read_index(tmp_path / "out")
    assert index.ids == [name.split("\\")[1] for name in NAMES]
    np.testing.assert_array_equal(index.labels, LABELS)
    partition = dict(zip(index.ids, index.partition))
    assert {i for i, p in partition.items() if p == PARTITIONS["test"]} == {index.ids[r] for r in TEST}
    people = {name: {person(i) for i, p in partition.items() if p == code} for name, code in PARTITIONS.items()}
    assert len(people["val"]) == 2 and len(people["train"]) == 3  # 40% of the five train people
    assert not people["val"] & people["train"]
    numbers = {person(i): k for i, k in zip(index.ids, index.identities)}  # the selection split's people
    assert all(numbers[person(i)] == k for i, k in zip(index.ids, index.identities))
    assert len(set(numbers.values())) == len(PEOPLE)
    assert summary["images"] == {"train": 6, "val": 4, "test": 6} and summary["missing"]["count"] == 0
    assert json.loads((tmp_path / "out" / SUMMARY_FILE).read_text()) == summary
    assert (index.root / IMAGE_DIR / index.ids[0]).is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "src"]  # no temporary folder left


def test_val_draw_depends_only_on_seed_and_names(tmp_path):
    src = make_release(tmp_path / "src", "v5")
    first = import_lfwa(src, tmp_path / "a", val_fraction=0.4, seed=3)
    assert import_lfwa(src, tmp_path / "b", val_fraction=0.4, seed=3)["images"] == first["images"]
    assert (tmp_path / "a" / "list_eval_partition.txt").read_text() == \
        (tmp_path / "b" / "list_eval_partition.txt").read_text()


def test_attribute_names_may_differ_in_case_and_spaces(tmp_path):
    src = make_release(tmp_path / "src", "v7.3", AttrName=[f" {a.lower()} " for a in ATTRIBUTES])
    assert import_lfwa(src, tmp_path / "out")["images"]["test"] == 6


def test_missing_images_are_reported_and_skipped(tmp_path):
    src = make_release(tmp_path / "src", "v5")
    for name in NAMES[:3]:
        (src / "lfw" / Path(*name.split("\\"))).unlink()
    with pytest.warns(UserWarning, match="3 of 16 images of the release are missing"):
        summary = import_lfwa(src, tmp_path / "out", val_fraction=0)
    assert summary["missing"] == {"count": 3, "first": NAMES[:3]}
    assert summary["images"] == {"train": 7, "val": 0, "test": 6}
    assert len(read_index(tmp_path / "out")) == 13


BAD = {
    "no label file": ({}, lambda src: (src / "lfw_att_40.mat").unlink(), "lfw_att_40.mat: file not found"),
    "no split file": ({}, lambda src: (src / SPLIT_FILE).unlink(), f"{SPLIT_FILE}: file not found"),
    "not a mat file": ({}, lambda src: (src / SPLIT_FILE).write_text("hello"),
                       f"{SPLIT_FILE}: cannot read as a MATLAB file"),
    "no AttrName": ({"AttrName": None}, None, "lfw_att_40.mat: no variable 'AttrName'"),
    "names out of order": ({"AttrName": [ATTRIBUTES[1], ATTRIBUTES[0], *ATTRIBUTES[2:]]}, None,
                           "lfw_att_40.mat: AttrName column 1 is 'Arched_Eyebrows', expected '5_o_Clock_Shadow'"),
    "39 names": ({"AttrName": list(ATTRIBUTES[:39])}, None, "AttrName has 39 names"),
    "short labels": ({"label": LABELS[:15]}, None, "lfw_att_40.mat: label is 15 x 40 but name has 16"),
    "index 0": ({"indices_img_train": np.arange(0, 10)}, None,
                f"{SPLIT_FILE}: indices_img_train has 1 indices that are not whole numbers in 1..16"),
    "index past the end": ({"indices_img_test": np.arange(11, 18)}, None,
                           f"{SPLIT_FILE}: indices_img_test has 1 indices that are not whole numbers in 1..16"),
    "overlap": ({"indices_img_test": np.arange(10, 17)}, None,
                f"{SPLIT_FILE}: 1 images are in both indices_img_train and indices_img_test"),
    "no image folder": ({}, lambda src: (src / "lfw").rename(src / "photos"), "src: no LFW image folder"),
    "no images": ({}, lambda src: [p.unlink() for p in (src / "lfw").rglob("*.jpg")],
                  "lfw: none of the 16 images"),
}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("case", BAD)
def test_bad_release_names_the_file_and_writes_nothing(tmp_path, case, fmt):
    override, damage, message = BAD[case]
    src = make_release(tmp_path / "src", fmt, **override)
    if LABEL_NAME[fmt] != "lfw_att_40.mat":
        (src / LABEL_NAME[fmt]).rename(src / "lfw_att_40.mat")  # one name for the messages
    if damage:
        damage(src)
    with pytest.raises(DataError, match=re.escape(message)):
        import_lfwa(src, tmp_path / "out")
    assert_nothing_written(tmp_path)


def test_force_replaces_only_an_earlier_import(tmp_path):
    src = make_release(tmp_path / "src", "v5")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "mine.txt").write_text("keep")
    for force in (False, True):
        with pytest.raises(MgmtnError, match="files that mgmtn import-lfwa did not write"):
            import_lfwa(src, tmp_path / "out", force=force)
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["mine.txt"]
    import_lfwa(src, tmp_path / "new")
    with pytest.raises(MgmtnError, match="pass --force"):
        import_lfwa(src, tmp_path / "new")
    import_lfwa(src, tmp_path / "new", force=True)
    assert len(read_index(tmp_path / "new")) == 16
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new", "out", "src"]


def test_failed_write_leaves_no_out_and_keeps_the_old_one(tmp_path, monkeypatch):
    src = make_release(tmp_path / "src", "v5")

    def disk_full(*args):
        raise OSError("disk full")

    monkeypatch.setattr(lfwa, "write_partition", disk_full)
    with pytest.raises(OSError, match="disk full"):
        import_lfwa(src, tmp_path / "out")
    assert_nothing_written(tmp_path)
    monkeypatch.undo()
    import_lfwa(src, tmp_path / "out")
    before = sorted(p.name for p in (tmp_path / "out").rglob("*"))
    monkeypatch.setattr(lfwa, "write_partition", disk_full)
    with pytest.raises(OSError, match="disk full"):
        import_lfwa(src, tmp_path / "out", force=True)
    assert sorted(p.name for p in (tmp_path / "out").rglob("*")) == before


def test_cli_imports_copies_and_refuses_to_overwrite(tmp_path, capsys):
    src = make_release(tmp_path / "src", "v7.3")
    out = tmp_path / "out"
    assert main(["import-lfwa", str(src), str(out), "--val-fraction", "0.4", "--seed", "1", "--copy"]) == 0
    printed = capsys.readouterr().out
    assert "16 images (train 6, val 4, test 6), 0 linked, 16 copied" in printed
    assert "val: 2 of 5 LFWA train identities" in printed and "missing: 0 images" in printed
    assert not (out / IMAGE_DIR / "Person_A_0001.jpg").is_symlink()
    assert main(["import-lfwa", str(src), str(out)]) == 2
    assert "already holds an output of mgmtn import-lfwa; pass --force" in capsys.readouterr().err
    assert main(["import-lfwa", str(src), str(out), "--force"]) == 0
    assert main(["check", str(out)]) == 0
    assert main(["import-lfwa", str(src), str(tmp_path / "x"), "--val-fraction", "1"]) == 2
    assert "val_fraction must be in [0, 1)" in capsys.readouterr().err


@pytest.fixture(scope="module")
def faces(tmp_path_factory) -> Path:
    return ensure_synthetic(24, seed=0, root=tmp_path_factory.mktemp("faces") / "synth", progress=False)


@pytest.mark.parametrize("fmt", FORMATS)
def test_synthetic_release_imports_with_disjoint_identities(tmp_path, faces, fmt):
    release = synthetic_release(tmp_path / "release", n=20, people=6, seed=1, mat_format=fmt, faces=faces,
                                progress=False)
    summary = import_lfwa(release, tmp_path / "out", val_fraction=0)
    index = read_index(tmp_path / "out")
    assert len(index) == 20 and summary["missing"]["count"] == 0
    assert all(re.fullmatch(r"Person_000[1-6]_000[1-4]\.jpg", i) for i in index.ids)
    source = read_index(faces).labels[:20]
    assert sorted(map(bytes, index.labels)) == sorted(map(bytes, source))  # the synthetic labels, dealt out
    people = {name: {person(i) for i, p in zip(index.ids, index.partition) if p == code}
              for name, code in PARTITIONS.items()}
    assert len(people["train"]) == len(people["test"]) == 3 and not people["train"] & people["test"]
    split = read_mat(release / SPLIT_FILE, ("indices_identity_train", "indices_identity_test"))
    assert sorted(np.concatenate([v.ravel() for v in split.values()])) == list(range(1, 7))
    sizes = set()
    for k in range(len(index)):
        with Image.open(index.image_path(k)) as image:
            sizes.add(image.size)
    assert sizes == {(250, 250)}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "release"]  # no temporary folder left


def test_synthetic_release_is_reused_and_rebuilt_on_new_parameters(tmp_path, monkeypatch):
    monkeypatch.setenv("MGMTN_HOME", str(tmp_path / "home"))
    first = synthetic_release(n=12, people=4, progress=False)  # the faces come from ensure_synthetic
    assert first.parent == tmp_path / "home" / "data"
    stamps = {p: p.stat().st_mtime_ns for p in first.rglob("*")}

    def rewrite(*args, **kwargs):
        raise AssertionError("the finished release was written again")

    with monkeypatch.context() as patch:
        patch.setattr(lfwa_release, "write_release", rewrite)
        assert synthetic_release(n=12, people=4, progress=False) == first
    assert {p: p.stat().st_mtime_ns for p in first.rglob("*")} == stamps
    assert synthetic_release(first, n=12, people=3, progress=False) == first
    assert json.loads((first / MARKER).read_text())["people"] == 3
    assert len(list((first / "lfw").iterdir())) == 3


def test_interrupted_synthetic_release_leaves_nothing(tmp_path, faces, monkeypatch):
    def interrupt(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(lfwa_release, "lfw_frame", interrupt)
    with pytest.raises(KeyboardInterrupt):
        synthetic_release(tmp_path / "release", n=8, people=2, faces=faces, progress=False)
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    with pytest.raises(MgmtnError, match="mine: exists and is not a synthetic LFWA release"):
        synthetic_release(tmp_path / "mine", n=8, people=2, faces=faces, progress=False)


@pytest.fixture
def lfwa_subset() -> Path:
    root = shared_data("lfwa-subset")
    if root is None:
        pytest.skip("real LFWA subset (../shared/data/lfwa-subset) absent")
    return root


def test_real_split_file_is_read_as_matlab_v73(lfwa_subset):
    assert h5py.is_hdf5(lfwa_subset / SPLIT_FILE)
    split = read_mat(lfwa_subset / SPLIT_FILE, ("indices_img_train", "indices_img_test"))
    assert split["indices_img_train"].size == 6263 and split["indices_img_test"].size == 6880
    assert split["indices_img_train"].min() >= 1 and split["indices_img_test"].max() <= 13143


def test_real_lfwa_subset_imports(lfwa_subset, tmp_path):
    with pytest.warns(UserWarning, match="10143 of 13143"):
        summary = import_lfwa(lfwa_subset, tmp_path / "lfwa")
    index = read_index(tmp_path / "lfwa")
    assert len(index) == 3000 and summary["missing"]["count"] == 10143
    assert summary["images"]["test"] == 0 and summary["images"]["val"] > 0
    val = {person(i) for i, p in zip(index.ids, index.partition) if p == PARTITIONS["val"]}
    train = {person(i) for i, p in zip(index.ids, index.partition) if p == PARTITIONS["train"]}
    assert not val & train
    assert main(["check", str(tmp_path / "lfwa")]) == 0


def test_aligned_import_writes_each_central_face_in_celebas_frame(tmp_path, celeba_subset):
    from photos import face_images, paste

    from mgmtn.data.align import ALIGNED_SIZE

    faces = face_images(celeba_subset, 2, step=1)
    frames = {name: paste(faces[k % 2], (250, 250), (40, 20), scale=0.9) for k, name in enumerate(NAMES)}
    frames[NAMES[3]] = Image.new("RGB", (250, 250), (90, 60, 30))  # no face to find: kept as it is, and named
    write_release(tmp_path / "src", NAMES, LABELS, TRAIN, TEST, frames, "v5", label_file=LABEL_NAME["v5"])
    summary = import_lfwa(tmp_path / "src", tmp_path / "lfwa", align=True)
    missed = NAMES[3].split("\\")[1]
    assert summary["aligned"] == {"faces": 15, "missed": 1, "first_missed": [missed]} and summary["linked"] == 0
    images = tmp_path / "lfwa" / IMAGE_DIR
    assert not any(p.is_symlink() for p in images.iterdir())
    assert {Image.open(p).size for p in images.iterdir() if p.name != missed} == {ALIGNED_SIZE}
    assert Image.open(images / missed).size == (250, 250)
