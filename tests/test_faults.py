"""Bad input and faults at the command line, one row per case.

Every row runs one ``mgmtn`` command on a fresh copy of a small dataset and a
trained run, then checks the exit code, that the error is one line naming
what is at fault, that no traceback reached the user, and that nothing that
existed before the command was changed or removed.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import PIL.Image
import pytest
import torch

from mgmtn import ownership
from mgmtn.cli import main
from mgmtn.data import align
from mgmtn.data.celeba import read_index
from mgmtn.data.image_cache import resized_images
from mgmtn.data.layout import ATTR_FILE, IMAGE_DIR, LANDMARK_FILE, PARTITION_FILE
from mgmtn.data.lfwa_release import synthetic_release
from mgmtn.data.synth import generate
from mgmtn.evaluate import is_evaluation, overlay_names
from mgmtn.ownership import MANIFEST
from mgmtn.train import train
from mgmtn.train_unet import train_unet

FAST = ["--epochs", "1", "--image-size", "32", "--limit", "32", "--select-images", "16"]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A synthetic dataset, a UNet run and a global run, made once; each case works on copies."""
    root = tmp_path_factory.mktemp("faults")
    faces = generate(root / "faces", n=96, seed=0, progress=False)
    unet = root / "unet"
    train_unet(faces, unet, epochs=1, input_size=32, train_limit=32, val_limit=16)
    run = train(faces, root / "run", "global", epochs=1, image_size=32, train_limit=32, select_images=16,
                batch_size=16)
    half = train(faces, root / "half", "global", epochs=2, stop_after=1, image_size=32, train_limit=32,
                 select_images=16, batch_size=16)
    return {"faces": faces, "unet": unet, "run": run, "half": half}


@dataclass
class World:
    data: Path
    run: Path
    unet: Path
    tmp: Path
    half: Path  # a run on the built faces (not a copy), stopped after 1 of its 2 epochs

    def image(self, k: int = 0) -> Path:
        return sorted((self.data / IMAGE_DIR).iterdir())[k]


def _edit(path: Path, line: int, text: str) -> None:
    lines = path.read_text().splitlines()
    lines[line - 1] = text
    path.write_text("\n".join(lines) + "\n")


def _attr_row(w: World, line: int) -> str:
    return (w.data / ATTR_FILE).read_text().splitlines()[line - 1]


def _plant(path: Path) -> None:
    """A checkpoint whose unpickling would create a file: what a malicious one would do."""
    class RunsCode:
        def __reduce__(self):
            return (Path.touch, (path.parent / "ran",))
    torch.save({"model": {}, "x": RunsCode()}, path)


@dataclass(frozen=True)
class Case:
    name: str
    argv: str  # formatted with the World's fields
    fragment: str  # a part of the one-line error
    prepare: Callable[[World], None] = lambda w: None
    code: int = 2
    fault: Callable[[World, pytest.MonkeyPatch], None] | None = None  # an environment fault, simulated in-process


def _failing(code: int) -> Callable:
    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code))
    return fail


def _disk_full(name: str) -> Callable[[World, pytest.MonkeyPatch], None]:
    """The disk fills while a file whose name holds ``name`` is written (its fsync fails, as on a full disk)."""
    def fault(w, monkeypatch):
        fsync = os.fsync

        def full(fd):
            if name in os.readlink(f"/proc/self/fd/{fd}"):
                _failing(errno.ENOSPC)()
            return fsync(fd)
        monkeypatch.setattr(os, "fsync", full)
    return fault


def _read_only(folder: str) -> Callable[[World, pytest.MonkeyPatch], None]:
    """``tmp/folder`` cannot be written (tests run as root, for whom a mode does not forbid it)."""
    def fault(w, monkeypatch):
        def guarded(path, *args, **kwargs):
            if str(path).startswith(str(w.tmp / folder)):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
            return open(path, *args, **kwargs)
        monkeypatch.setattr(ownership, "open", guarded, raising=False)
    return fault


def _no_faces(w, monkeypatch):
    """dlib stands aside: the case is about decoding, not about finding faces."""
    monkeypatch.setattr(align, "FaceAligner", lambda: (lambda photo: []))


def _symlink_loop(path: Path) -> None:
    path.unlink()
    path.symlink_to(path.with_name("loop"))
    path.with_name("loop").symlink_to(path)


def _own_output_with(w, extra: str) -> None:
    generate(w.tmp / "s", n=2, progress=False)
    (w.tmp / "s" / extra).parent.mkdir(exist_ok=True)
    (w.tmp / "s" / extra).write_text("the user's")


def _no_partition(w):
    (w.data / PARTITION_FILE).unlink()


CASES = [
    # synth never replaces or mixes with data it did not write
    Case("synth into a dataset folder", "synth {data} --n 5", "did not write",
         lambda w: [(w.data / name).unlink() for name in ("synth.json", MANIFEST)]),
    Case("synth over its own output without --force", "synth {tmp}/s --n 2",
         "pass --force", lambda w: generate(w.tmp / "s", n=2, progress=False)),
    Case("synth into a file", "synth {data}/list_attr_celeba.txt --n 2", "is a file"),
    Case("synth with no faces", "synth {tmp}/new --n 0", "argument --n: must be at least 1"),
    Case("synth with label noise above 1", "synth {tmp}/new --n 2 --label-noise 2", "label_noise"),
    # check names the file, line and value at fault
    Case("check a missing folder", "check {tmp}/nowhere", "nowhere: dataset folder not found"),
    Case("check a repeated image id", "check {data}", "repeats line 3",
         lambda w: _edit(w.data / ATTR_FILE, 4, _attr_row(w, 3))),
    Case("check a misspelled attribute", "check {data}", "unknown Smilling",
         lambda w: _edit(w.data / ATTR_FILE, 2, _attr_row(w, 2).replace("Smiling", "Smilling"))),
    Case("check a row with 39 values", "check {data}", "got 39 values after the id",
         lambda w: _edit(w.data / ATTR_FILE, 5, _attr_row(w, 5).rsplit(" ", 1)[0])),
    Case("check a value that is not 1 or -1", "check {data}", "line 3: 5_o_Clock_Shadow is 0",
         lambda w: _edit(w.data / ATTR_FILE, 3, _attr_row(w, 3).split()[0] + " 0" + " 1" * 39)),
    Case("check a wrong row count", "check {data}", "line 1: says 7 rows",
         lambda w: _edit(w.data / ATTR_FILE, 1, "7")),
    Case("check a missing image", "check {data}", "are missing (first:", lambda w: w.image(3).unlink()),
    Case("check a partition out of range", "check {data}", "partition 5 is not 0, 1 or 2",
         lambda w: _edit(w.data / PARTITION_FILE, 2, (w.data / PARTITION_FILE).read_text().split()[2] + " 5")),
    Case("check landmarks of other images", "check {data}", "image ids differ",
         lambda w: _edit(w.data / LANDMARK_FILE, 3, "x.jpg" + " 1" * 10)),
    Case("check --decode with two bad images", "check {data} --decode", "2 of 96 images do not decode",
         lambda w: [w.image(k).write_bytes(b"broken") for k in (4, 9)]),
    # train refuses what cannot be trained, before it writes anything
    Case("train for -1 epochs", "train {data} --model global --out {tmp}/r --epochs -1", "at least 1"),
    Case("train for 0 epochs", "train {data} --model global --out {tmp}/r --epochs 0", "at least 1"),
    Case("train at image size 0", "train {data} --model global --out {tmp}/r --image-size 0", "at least 1"),
    Case("train an unknown model", "train {data} --model resnet --out {tmp}/r", "unknown model 'resnet'"),
    Case("train with an unknown profile", "train {data} --model global --out {tmp}/r --profile big",
         "unknown profile 'big'"),
    Case("train an unknown loss", "train {data} --model global --out {tmp}/r --loss hinge " + " ".join(FAST),
         "unknown loss 'hinge'"),
    Case("train MGMTN without a UNet", "train {data} --model mgmtn --out {tmp}/r", "needs a trained UNet"),
    Case("train MGMTN on an attribute run as UNet", "train {data} --model mgmtn --unet {tmp}/fake --out {tmp}/r " + " ".join(FAST),
         "not a UNet checkpoint",
         lambda w: (w.tmp / "fake").mkdir() or shutil.copy(w.run / "best.pt", w.tmp / "fake" / "unet.pt")),
    Case("train MGMTN with a missing UNet", "train {data} --model mgmtn --unet {tmp}/none --out {tmp}/r " + " ".join(FAST),
         "checkpoint not found"),
    Case("train into an existing run", "train {data} --model global --out {run} " + " ".join(FAST),
         "already holds a run"),
    Case("train into a folder of the user's files", "train {data} --model global --out {data} " + " ".join(FAST),
         "holds files that no run writes"),
    Case("train a UNet into a folder of the user's files", "train-unet {data} --out {data} --epochs 1",
         "holds files that no run writes"),
    Case("resume a run that does not exist", "train {data} --model global --out {tmp}/r --resume " + " ".join(FAST),
         "nothing to resume"),
    Case("fine-tune MGMTN from a global run", "train {data} --model ag --out {tmp}/r --init {run} " + " ".join(FAST),
         "cannot start a ag run"),
    Case("train on a missing folder", "train {tmp}/nowhere --model global --out {tmp}/r",
         "dataset folder not found"),
    # evaluate and predict
    Case("evaluate a folder that is no run", "evaluate {tmp} --data {data}", "best.pt: checkpoint not found"),
    Case("evaluate on a missing dataset", "evaluate {run} --data {tmp}/nowhere", "dataset folder not found"),
    Case("evaluate a truncated checkpoint", "evaluate {tmp}/cut --data {data}", "cannot read checkpoint",
         lambda w: (w.tmp / "cut").mkdir() or (w.tmp / "cut" / "best.pt").write_bytes(
             (w.run / "best.pt").read_bytes()[:500])),
    Case("evaluate a checkpoint that would run code", "evaluate {tmp}/evil --data {data}", "refused",
         lambda w: (w.tmp / "evil").mkdir() or _plant(w.tmp / "evil" / "best.pt")),
    Case("predict a missing image", "predict {run} {tmp}/none.jpg", "none.jpg: image not found"),
    Case("predict a broken image among good ones", "predict {run} {data}/img_align_celeba/" + "{first} {tmp}/bad.jpg",
         "1 of 2 images gave no prediction", lambda w: (w.tmp / "bad.jpg").write_bytes(b"no")),
    Case("predict overlays of a model without masks", "predict {run} {data}/img_align_celeba/{first} --overlay "
         "{tmp}/o", "predicts no masks"),
    Case("predict with an unknown run", "predict {tmp}/norun {data}/img_align_celeba/{first}", "checkpoint not found"),
    # the other verbs
    Case("annotate with an unknown annotator", "annotate {data} --annotator nobody", "nobody"),
    Case("import LFWA from a missing folder", "import-lfwa {tmp}/nowhere {tmp}/out", "nowhere"),
    Case("ablate with a missing UNet", "ablate {data} --out {tmp}/a --study components", "--unet"),
    # nothing a command did not write is replaced or removed
    Case("evaluate --out onto a user's file", "evaluate {run} --data {data} --out {tmp}/report.json",
         "report.json exists and was not written by mgmtn evaluate; pass --force",
         lambda w: (w.tmp / "report.json").write_text("{}")),
    Case("evaluate --out beside a user's CSV", "evaluate {run} --data {data} --out {tmp}/report.json",
         "report.per_attribute.csv exists and was not written by mgmtn evaluate",
         lambda w: (w.tmp / "report.per_attribute.csv").write_text("mine")),
    Case("align-effect --out onto a user's file", "align-effect {run} --data {data} --out {tmp}/notes.json",
         "notes.json exists and was not written by mgmtn align-effect",
         lambda w: (w.tmp / "notes.json").write_text("{}")),
    Case("evaluate --out a text file", "evaluate {run} --data {data} --out {tmp}/notes.txt", "takes a .json file"),
    Case("evaluate --out a folder", "evaluate {run} --data {data} --out {tmp}/d.json", "is a folder",
         lambda w: (w.tmp / "d.json").mkdir()),
    Case("synth --force over its output holding a user's file", "synth {tmp}/s --n 2 --force",
         "my-runs/notes.txt", lambda w: _own_output_with(w, "my-runs/notes.txt")),
    Case("synth --force over its output holding a user's image", "synth {tmp}/s --n 2 --force",
         "did not write", lambda w: _own_output_with(w, "img_align_celeba/mine.jpg")),
    Case("synth --force over an output older than manifests, holding a user's file", "synth {tmp}/s --n 2 --force",
         "my-runs/notes.txt", lambda w: _own_output_with(w, "my-runs/notes.txt") or (w.tmp / "s" / MANIFEST).unlink()),
    Case("import-lfwa --force into a user's folder", "import-lfwa {tmp}/src {tmp}/thesis --force",
         "thesis.tex", lambda w: [(w.tmp / "src").mkdir(), (w.tmp / "thesis").mkdir(),
                                  (w.tmp / "thesis" / "thesis.tex").write_text("mine")]),
    Case("import-lfwa --force over a dataset", "import-lfwa {tmp}/src {data} --force", "did not write",
         lambda w: (w.tmp / "src").mkdir()),
    Case("import-lfwa into a file", "import-lfwa {tmp}/src {data}/list_attr_celeba.txt", "is a file",
         lambda w: (w.tmp / "src").mkdir()),
    Case("import-lfwa --align with a 0-byte image", "import-lfwa {tmp}/rel {tmp}/out --align",
         "Person_0001_0001.jpg: cannot decode image",
         lambda w: synthetic_release(w.tmp / "rel", n=6, people=2, progress=False) and
         (w.tmp / "rel" / "lfw" / "Person_0001" / "Person_0001_0001.jpg").write_bytes(b""), fault=_no_faces),
    Case("train at 7 px", "train {data} --model global --out {tmp}/r --image-size 7", "below 32 px"),
    Case("train a model without masks with --unet", "train {data} --model global --unet {unet} --out {tmp}/r",
         "--unet: model global uses no masks"),
    Case("train on an unknown device", "train {data} --model global --out {tmp}/r --device tpu9",
         "unknown device 'tpu9'"),
    Case("train on CUDA without a GPU", "train {data} --model global --out {tmp}/r --device cuda",
         "no CUDA GPU", prepare=lambda w: torch.cuda.is_available() and pytest.skip("this machine has a GPU")),
    Case("evaluate on CUDA without a GPU", "evaluate {run} --data {data} --device cuda:0", "no CUDA GPU",
         prepare=lambda w: torch.cuda.is_available() and pytest.skip("this machine has a GPU")),
    Case("predict on an unknown device", "predict {run} {data}/img_align_celeba/{first} --device gpu",
         "unknown device 'gpu'"),
    Case("fine-tune from a train-unet run", "train {data} --model global --out {tmp}/r --init {unet} " + " ".join(FAST),
         "not a run of mgmtn train"),
    Case("start the backbone from a train-unet run",
         "train {data} --model global --out {tmp}/r --backbone-from {unet} " + " ".join(FAST),
         "not a run of mgmtn train"),
    Case("fine-tune from a folder without best.pt", "train {data} --model global --out {tmp}/r --init {tmp} "
         + " ".join(FAST), "best.pt: checkpoint not found"),
    Case("train into a file", "train {data} --model global --out {data}/list_attr_celeba.txt " + " ".join(FAST),
         "is a file"),
    Case("predict --overlay onto a file", "predict {run} {data}/img_align_celeba/{first} --overlay {tmp}/o.png",
         "o.png is a file", lambda w: (w.tmp / "o.png").write_bytes(b"png")),
    # files and disks
    Case("check an empty partition file", "check {data}", "list_eval_partition.txt: no rows",
         lambda w: (w.data / PARTITION_FILE).write_bytes(b"")),
    Case("check an empty attribute file", "check {data}", "list_attr_celeba.txt: expected a count line",
         lambda w: (w.data / ATTR_FILE).write_bytes(b"")),
    Case("train on an image that is a symlink loop", "train {data} --model global --out {tmp}/r " + " ".join(FAST),
         "Too many levels of symbolic links", lambda w: _symlink_loop(w.image(2))),
    Case("evaluate a checkpoint of random bytes", "evaluate {tmp}/rand --data {data}",
         "not a file written by torch.save",
         lambda w: (w.tmp / "rand").mkdir() or (w.tmp / "rand" / "best.pt").write_bytes(os.urandom(4096))),
    Case("evaluate an empty checkpoint", "evaluate {tmp}/empty --data {data}", "best.pt: cannot read checkpoint (the "
         "file is empty)", lambda w: (w.tmp / "empty").mkdir() or (w.tmp / "empty" / "best.pt").write_bytes(b"")),
    Case("train with the disk full at the first checkpoint", "train {data} --model global --out {tmp}/r "
         + " ".join(FAST), "no space left on device writing " + "{tmp}/r/best.pt", fault=_disk_full("best.pt")),
    Case("resume with the disk full: the last checkpoint is kept",
         "train {faces} --model global --out {half} --resume --batch-size 16 "
         + " ".join(FAST).replace("--epochs 1", "--epochs 2"),
         "no space left on device writing {half}/", fault=_disk_full(".pt.")),
    Case("train with the image cache's disk full", "train {data} --model global --out {tmp}/r " + " ".join(FAST),
         "no space left on device writing", fault=lambda w, mp: mp.setattr(os, "posix_fallocate",
                                                                          _failing(errno.ENOSPC))),
    Case("evaluate with the disk full", "evaluate {run} --data {data} --out {tmp}/e.json",
         "no space left on device writing {tmp}/e.json", fault=_disk_full("e.json")),
    Case("synth with the disk full", "synth {tmp}/s --n 2", "no space left on device writing",
         fault=lambda w, mp: mp.setattr(PIL.Image.Image, "save", _failing(errno.ENOSPC))),
    Case("annotate again with the disk full", "annotate {data} --annotator synthetic --restart",
         "no space left on device writing {data}/boxes_synthetic", fault=_disk_full("boxes_synthetic")),
    Case("train into a read-only folder", "train {data} --model global --out {tmp}/ro/r " + " ".join(FAST),
         "cannot write {tmp}/ro/r/.lock: permission denied", fault=_read_only("ro")),
]

# Every numeric argument is checked by its range in the parser, before any work: (command, option, error).
TRAIN = "train {data} --model global --out {tmp}/r"
RANGES = [
    (TRAIN, "--stop-after 0", "argument --stop-after: must be at least 1 (got 0)"),
    (TRAIN, "--stop-after -1", "argument --stop-after: must be at least 1"),
    (TRAIN, "--limit -1", "argument --limit: must be at least 1"),
    (TRAIN, "--limit 0", "argument --limit: must be at least 1"),
    (TRAIN, "--limit ten", "argument --limit: 'ten' is not a whole number"),
    (TRAIN, "--batch-size 0", "argument --batch-size: must be at least 1"),
    (TRAIN, "--select-images 0", "argument --select-images: must be at least 1"),
    (TRAIN, "--resize-ratio 0", "argument --resize-ratio: must be above 0"),
    (TRAIN, "--mask-scale -1", "argument --mask-scale: must be above 0"),
    (TRAIN, "--workers -1", "argument --workers: must be at least 0"),
    ("evaluate {run} --data {data}", "--limit -1", "argument --limit: must be at least 1"),
    ("train-unet {data} --out {tmp}/u", "--epochs 0", "argument --epochs: must be at least 1"),
    ("train-unet {data} --out {tmp}/u", "--input-size 0", "argument --input-size: must be at least 1"),
    ("ablate {data} --out {tmp}/a", "--limit 0", "argument --limit: must be at least 1"),
    ("positions {run} --data {data} --annotator synthetic", "--limit 0", "argument --limit: must be at least 1"),
    ("synth {tmp}/s", "--n -5", "argument --n: must be at least 1"),
    ("annotate {data}", "--workers 0", "argument --workers: must be at least 1"),
]
CASES += [Case(f"{command.split()[0]} {option}", f"{command} {option}", error) for command, option, error in RANGES]


def _snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha1(p.read_bytes()).hexdigest() for p in root.rglob("*")
            if p.is_file() and not p.is_symlink()}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_exits_with_one_line_and_changes_nothing(case, built, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MGMTN_HOME", str(tmp_path / "home"))
    work = tmp_path / "work"
    work.mkdir()
    world = World(data=Path(shutil.copytree(built["faces"], work / "data", symlinks=True)),
                  run=Path(shutil.copytree(built["run"], work / "run")), unet=built["unet"], tmp=work,
                  half=Path(shutil.copytree(built["half"], work / "half")))
    case.prepare(world)
    before = _snapshot(work)
    fields = dict(data=world.data, run=world.run, unet=world.unet, tmp=work, half=world.half, faces=built["faces"],
                  first=world.image(0).name)
    if case.fault:
        case.fault(world, monkeypatch)
    code = main(case.argv.format(**fields).split())
    err = capsys.readouterr().err
    assert code == case.code, err
    assert "Traceback" not in err and "UserWarning" not in err
    lines = [line for line in err.splitlines() if line.startswith("mgmtn") and "error" in line]
    assert len(lines) == 1 and case.fragment.format(**fields) in lines[0], err
    assert not (work / "ran").exists()
    after = _snapshot(work)
    assert {k: v for k, v in after.items() if k in before} == before, "a file that existed was changed"


def test_missing_partition_file_is_one_note_line(built, tmp_path, monkeypatch, capsys):
    data = Path(shutil.copytree(built["faces"], tmp_path / "data"))
    _no_partition(type("W", (), {"data": data}))
    assert main(["check", str(data)]) == 0
    err = capsys.readouterr().err
    assert err.strip().startswith("mgmtn: note:") and len(err.strip().splitlines()) == 1 and "warn(" not in err


def _holder(folder: Path) -> subprocess.Popen:
    """Another process that holds ``folder``'s lock as a writer does, until it is killed."""
    script = ("import sys, time\nfrom mgmtn.ownership import folder_lock\n"
              "with folder_lock(sys.argv[1], 'run folder'):\n    print('held', flush=True)\n    time.sleep(600)\n")
    holder = subprocess.Popen([sys.executable, "-c", script, str(folder)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_second_writer_is_refused_at_once_and_a_dead_ones_lock_is_taken_over(built, tmp_path, monkeypatch):
    monkeypatch.setenv("MGMTN_HOME", str(tmp_path / "home"))
    out = tmp_path / "r"
    argv = ["train", str(built["faces"]), "--model", "global", "--out", str(out), *FAST]
    holder = _holder(out)
    try:
        second = subprocess.run([sys.executable, "-m", "mgmtn.cli", *argv], capture_output=True, text=True,
                                timeout=120)
        assert second.returncode == 2 and "Traceback" not in second.stderr
        assert f"process {holder.pid} is writing this run folder" in second.stderr.strip().splitlines()[-1]
        assert sorted(p.name for p in out.iterdir()) == [".lock"] and not (tmp_path / "home" / "images").exists()
    finally:
        holder.kill()
        holder.wait()
    assert main(argv) == 0  # kill -9 freed the lock
    assert (out / "train.json").exists() and not (out / ".lock").exists()


def test_the_next_cache_build_removes_only_the_temporary_files_of_dead_builders(built, tmp_path, monkeypatch):
    monkeypatch.setenv("MGMTN_HOME", str(tmp_path / "home"))
    folder = tmp_path / "home" / "images"
    folder.mkdir(parents=True)
    dead, live = folder / ".old.npy.build-dead.tmp", folder / ".old.npy.build-live.tmp"
    dead.write_bytes(b"x" * 1000)
    live.write_bytes(b"y")
    script = ("import fcntl, sys, time\nf = open(sys.argv[1], 'rb')\nfcntl.flock(f, fcntl.LOCK_EX)\n"
              "print('held', flush=True)\ntime.sleep(600)\n")
    builder = subprocess.Popen([sys.executable, "-c", script, str(live)], stdout=subprocess.PIPE, text=True)
    try:
        assert builder.stdout.readline().strip() == "held"
        images = resized_images(read_index(built["faces"]), 32, progress=False)
        assert images.array.shape == (96, 32, 32, 3)
        assert [p.name for p in folder.glob(".*.build-*.tmp")] == [live.name]  # the dead builder's is gone
    finally:
        builder.kill()
        builder.wait()


def test_evaluate_keeps_one_file_per_dataset_and_replaces_a_users_file_only_when_forced(built, tmp_path, capsys):
    run = Path(shutil.copytree(built["run"], tmp_path / "run"))
    other = Path(shutil.copytree(built["faces"], tmp_path / "other"))
    assert main(["evaluate", str(run), "--data", str(built["faces"]), "--limit", "8"]) == 0
    assert main(["evaluate", str(run), "--data", str(other), "--limit", "8"]) == 0
    assert main(["evaluate", str(run), "--data", str(other), "--limit", "8"]) == 0  # its own file: replaced
    names = sorted(p.name for p in run.glob("eval_*"))
    other_json = [name for name in names if name.startswith("eval_other-") and name.endswith("_val.json")]
    assert len(names) == 6 and len(other_json) == 1 and is_evaluation(run / other_json[0])
    assert {"eval_val.json", "eval_val.per_attribute.csv", "eval_val.probs.npz"} <= set(names)
    mine = tmp_path / "report.json"
    mine.write_text("mine")
    assert main(["evaluate", str(run), "--data", str(other), "--out", str(mine), "--limit", "8"]) == 2
    assert mine.read_text() == "mine"
    assert main(["evaluate", str(run), "--data", str(other), "--out", str(mine), "--limit", "8", "--force"]) == 0
    assert is_evaluation(mine) and (tmp_path / "report.per_attribute.csv").exists()
    capsys.readouterr()


def test_force_replaces_an_output_written_before_manifests(tmp_path):
    old = generate(tmp_path / "s", n=2, progress=False)
    (old / MANIFEST).unlink()
    (old / "boxes_synthetic.npz").write_bytes(b"a cache")
    generate(old, n=3, progress=False, force=True)
    assert len(list((old / IMAGE_DIR).iterdir())) == 3 and (old / MANIFEST).exists()


def test_overlays_of_images_with_one_stem_get_distinct_names():
    names = overlay_names([Path("a/face.jpg"), Path("a/face.png"), Path("b/face.jpg"), Path("a/face.jpg")])
    assert len(set(names[:3])) == 3 and names[0] == names[3]
    assert overlay_names([Path("a/x.jpg"), Path("a/y.jpg")]) == ["x_masks.png", "y_masks.png"]


def test_resume_removes_the_checkpoint_a_killed_run_was_writing(built, tmp_path, monkeypatch):
    monkeypatch.setenv("MGMTN_HOME", str(tmp_path / "home"))
    half = Path(shutil.copytree(built["half"], tmp_path / "half"))
    stale = half / ".last.pt.k9x.tmp"
    stale.write_bytes(b"half a checkpoint")
    argv = ["train", str(built["faces"]), "--model", "global", "--out", str(half), "--resume", "--batch-size", "16",
            *" ".join(FAST).replace("--epochs 1", "--epochs 2").split()]
    assert main(argv) == 0
    assert not stale.exists() and (half / "train.json").exists()
