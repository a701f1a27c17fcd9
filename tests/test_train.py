"""The shared trainer: runs end to end, resumes exactly, writes files atomically, works under torchrun."""

import json
from dataclasses import asdict, replace
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from mgmtn.attributes import ATTRIBUTES
from mgmtn.cli import main
from mgmtn.config import TrainConfig, ensure_synthetic
from mgmtn.engine import check_run_folder, load_checkpoint, save_checkpoint
from mgmtn.errors import MgmtnError
from mgmtn.data.celeba import load_image, read_index
from mgmtn.evaluate import evaluate, predict, rescore
from mgmtn.models.backbone import create_backbone
from mgmtn.train import model_from_config, resolve_precision, train
from mgmtn.train_unet import train_unet
from photos import face_images, paste

FAST = dict(epochs=2, image_size=32, train_limit=48, select_images=32, batch_size=16)


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    return ensure_synthetic(120, seed=3, root=tmp_path_factory.mktemp("faces") / "synth", progress=False)


@pytest.fixture(scope="module")
def unet_run(faces, tmp_path_factory):
    out = tmp_path_factory.mktemp("unet")
    train_unet(faces, out, epochs=1, input_size=32, train_limit=32, val_limit=16)
    return out


def test_interrupted_run_resumes_to_the_same_result(faces, unet_run, tmp_path):
    straight = train(faces, tmp_path / "straight", "mgmtn", unet=unet_run, **FAST)
    train(faces, tmp_path / "resumed", "mgmtn", unet=unet_run, stop_after=1, **FAST)
    assert len(pd.read_csv(tmp_path / "resumed" / "metrics.csv")) == 1
    train(faces, tmp_path / "resumed", "mgmtn", unet=unet_run, resume=True, **FAST)
    a, b = (pd.read_csv(run / "metrics.csv") for run in (straight, tmp_path / "resumed"))
    timings = ["train_seconds", "eval_seconds"]
    pd.testing.assert_frame_equal(a.drop(columns=timings), b.drop(columns=timings))
    loss_a, loss_b = (load_checkpoint(run / "last.pt")["stateful"]["loss"] for run in (straight, tmp_path / "resumed"))
    for key in loss_a:
        torch.testing.assert_close(loss_a[key], loss_b[key])
    with pytest.raises(MgmtnError, match="already holds a run"):
        train(faces, straight, "mgmtn", unet=unet_run, **FAST)
    with pytest.raises(MgmtnError, match="another configuration"):
        train(faces, tmp_path / "resumed", "mgmtn", unet=unet_run, resume=True, **{**FAST, "epochs": 3})


@pytest.fixture(scope="module")
def mask_run(faces, unet_run, tmp_path_factory):
    return train(faces, tmp_path_factory.mktemp("mask-run") / "run", "mgmtn", unet=unet_run, **{**FAST, "epochs": 1})


def test_evaluate_and_predict_on_a_run(faces, mask_run, tmp_path):
    result = evaluate(mask_run, faces, split="test", out=tmp_path / "eval_test.json")
    saved = json.loads((tmp_path / "eval_test.json").read_text())
    assert 0 <= saved["accuracy"] <= 1 and saved["code_version"]
    assert saved["tuned_on_select"]["rule"] in {"tuned", *saved["tuned_on_select"]["by_rule"]}
    assert saved["hardware"]["cpu_count"] and saved["wall_seconds"] >= 0
    assert len(pd.read_csv(tmp_path / "eval_test.per_attribute.csv")) == 40 and result["mA"] == saved["mA"]
    scores = np.load(tmp_path / "eval_test.probs.npz")
    assert scores["probs"].shape == (result["images"], 40) and len(scores["select_ids"]) == len(scores["select_probs"])
    evaluate(mask_run, faces, split="val")
    # Scored again from the saved probabilities, without the model: the same numbers, the provenance kept.
    again = rescore(tmp_path / "eval_test.json", read_index(faces))
    assert again["mA"] == result["mA"] and again["tuned_on_select"] == result["tuned_on_select"]
    assert json.loads((tmp_path / "eval_test.json").read_text())["probs_from"]["code_version"] == saved["code_version"]
    (tmp_path / "eval_test.probs.npz").unlink()
    with pytest.raises(MgmtnError, match="eval_test.probs.npz: no saved probabilities"):
        rescore(tmp_path / "eval_test.json", read_index(faces))
    check_run_folder(mask_run)  # what evaluate writes into a run folder belongs there: the run still resumes
    image = next((faces / "img_align_celeba").iterdir())
    twin = tmp_path / "other" / image.name  # the same file name in another folder gets its own overlay
    twin.parent.mkdir()
    twin.write_bytes(image.read_bytes())
    table, failed = predict(mask_run, [image, twin], overlay_dir=tmp_path / "overlay")
    probs = table[list(ATTRIBUTES)]
    assert table.shape == (2, 46) and ((probs >= 0) & (probs <= 1)).all().all() and not failed
    assert list(table["x1"]) == [178, 178] and list(table["y1"]) == [218, 218]  # already aligned: the whole image
    assert len(list((tmp_path / "overlay").glob("*_masks.png"))) == 2
    with pytest.raises(MgmtnError, match="already exists"):
        predict(mask_run, [image, twin], overlay_dir=tmp_path / "overlay")


def test_predict_finds_every_face_of_a_photo_and_names_a_photo_without_one(celeba_subset, mask_run, tmp_path,
                                                                         capsys):
    faces = face_images(celeba_subset, 2)
    group = paste(faces[1], None, (420, 120), scale=0.8, canvas=paste(faces[0], (720, 420), (40, 60), scale=1.3))
    group.save(tmp_path / "group.jpg")
    Image.new("RGB", (300, 200), (90, 120, 150)).save(tmp_path / "wall.jpg")
    table, failed = predict(mask_run, [tmp_path / "group.jpg", tmp_path / "wall.jpg"], overlay_dir=tmp_path / "o")
    assert list(table["face"]) == [0, 1] and set(table["image"]) == {str(tmp_path / "group.jpg")}
    assert table.loc[0, "x1"] < 40 + 1.3 * 178 + 20 and table.loc[1, "x0"] > 420 - 20  # largest first, each in place
    assert list(failed) == [str(tmp_path / "wall.jpg")] and "no face found" in failed[str(tmp_path / "wall.jpg")]
    assert [p.name for p in (tmp_path / "o").iterdir()] == ["group_masks.png"]
    assert main(["predict", str(mask_run), str(tmp_path / "group.jpg"), str(tmp_path / "wall.jpg")]) == 2
    printed = capsys.readouterr()
    assert "wall.jpg: no face found" in printed.err and "group.jpg#0" in printed.out and "group.jpg#1" in printed.out


def test_staged_start_trains_global_then_groups_then_joint(faces, unet_run, tmp_path):
    run = train(faces, tmp_path / "staged", "mgmtn", unet=unet_run, stage_epochs=1, **{**FAST, "epochs": 1})
    for stage in ("stage1-global", "stage2-groups"):
        assert len(pd.read_csv(run / stage / "metrics.csv")) == 1
    joint = load_checkpoint(run / "last.pt")["model"]
    groups = load_checkpoint(run / "stage2-groups" / "last.pt")["model"]
    first = load_checkpoint(run / "stage1-global" / "last.pt")["model"]
    key = next(k for k in groups if k.startswith("backbone.") and k in first and groups[k].is_floating_point()
               and groups[k].dim() > 1)
    torch.testing.assert_close(groups[key], first[key])  # stage 2 kept the stage-1 backbone frozen
    assert not torch.equal(joint[key], groups[key])  # joint training moved it


def test_predict_accepts_any_size_and_mode_and_names_bad_files(faces, tmp_path):
    run = train(faces, tmp_path / "run", "global", **{**FAST, "epochs": 1})
    grey, rgba, rotated, bad = (tmp_path / name for name in ("grey.png", "rgba.png", "rotated.jpg", "bad.jpg"))
    Image.new("L", (50, 70), 128).save(grey)
    Image.new("RGBA", (300, 200), (200, 150, 120, 90)).save(rgba)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: rotate 90 degrees to view
    Image.new("RGB", (218, 178), (180, 140, 120)).save(rotated, exif=exif)
    bad.write_bytes(b"not an image")
    assert load_image(rotated, upright=True).size == (178, 218)
    assert predict(run, [grey, rgba, rotated], align="none")[0].shape == (3, 46)
    table, failed = predict(run, [grey, bad], align="none")
    assert list(table["image"]) == [str(grey)] and "bad.jpg: cannot decode image" in failed[str(bad)]
    with pytest.raises(MgmtnError, match="predicts no masks"):
        predict(run, [grey], overlay_dir=tmp_path / "overlay")


def test_mask_models_require_a_unet(faces, tmp_path):
    with pytest.raises(MgmtnError, match="needs a trained UNet"):
        train(faces, tmp_path / "x", "mgmtn", **FAST)


def test_unknown_precision_is_refused_before_any_work(faces, tmp_path):
    with pytest.raises(MgmtnError, match="precision must be one of auto, fp32, bf16"):
        train(faces, tmp_path / "x", "global", precision="fp16", **FAST)
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("native", [False, True])
def test_auto_precision_is_bf16_only_where_the_hardware_computes_it(monkeypatch, native):
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: native)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    assert resolve_precision("auto", "cpu") == ("bf16" if native else "fp32")
    assert resolve_precision("auto", "cuda") == "bf16" and resolve_precision("fp32", "cpu") == "fp32"
    if not native:
        with pytest.warns(UserWarning, match="emulated"):
            assert resolve_precision("bf16", "cpu") == "bf16"


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    save_checkpoint(path, {"x": 1})

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, {"x": 2})
    assert load_checkpoint(path) == {"x": 1} and list(tmp_path.iterdir()) == [path]


def test_two_process_torchrun_smoke(faces, tmp_path):
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29533",
               "-m", "mgmtn.cli", "train", str(faces), "--model", "global", "--out", str(tmp_path / "ddp"),
               "--epochs", "1", "--limit", "32", "--image-size", "32", "--select-images", "16"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(pd.read_csv(tmp_path / "ddp" / "metrics.csv")) == 1


def test_backbone_weights_from_a_local_file(tmp_path):
    source = create_backbone("tiny", levels=(5,))
    torch.save(source.state_dict(), tmp_path / "weights.pth")
    train_config = asdict(replace(TrainConfig(), weights=str(tmp_path / "weights.pth")))
    model = model_from_config({"model": "global", "train": train_config, "unet": None})
    loaded = model.backbone.state_dict()
    assert all(torch.equal(loaded[key], value) for key, value in source.state_dict().items())


def test_init_starts_from_another_runs_weights_and_checks_the_architecture(faces, unet_run, tmp_path):
    source = train(faces, tmp_path / "source", "global", **{**FAST, "epochs": 1, "precision": "auto"})
    recorded = json.loads((source / "config.json").read_text())["train"]["precision"]
    assert recorded == resolve_precision("auto", "cpu")  # a run records the precision it used
    tuned = train(faces, tmp_path / "tuned", "global", init=source, **{**FAST, "epochs": 1, "lr": 0.0})
    a, b = (load_checkpoint(run / "best.pt")["model"] for run in (source, tuned))
    key = next(k for k in a if k.startswith("backbone.") and a[k].dim() > 1)
    torch.testing.assert_close(a[key], b[key])  # lr 0: the fine-tuned weights are the source's
    assert json.loads((tuned / "config.json").read_text())["init"] == str(source.resolve())
    with pytest.raises(MgmtnError, match="cannot start"):
        train(faces, tmp_path / "other", "mgmtn", unet=unet_run, init=source, **FAST)


class _RunsCode:
    """Unpickling this calls ``Path.touch`` on a marker file: what a malicious checkpoint would do."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_checkpoint_that_would_run_code_is_refused(tmp_path):
    marker, path = tmp_path / "ran", tmp_path / "evil.pt"
    torch.save({"model": {}, "payload": _RunsCode(marker)}, path)
    with pytest.raises(MgmtnError, match="refused, it holds Python objects"):
        load_checkpoint(path)
    assert not marker.exists()


def test_kill_9_mid_epoch_then_resume_is_bit_identical(faces, tmp_path):
    def command(out, *extra):
        return [sys.executable, "-m", "mgmtn.cli", "train", str(faces), "--model", "global", "--out", str(out),
                "--epochs", "3", "--limit", "64", "--image-size", "32", "--select-images", "16", *extra]

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run(command(tmp_path / "whole"), check=True, capture_output=True, env=env, timeout=300)
    killed = subprocess.Popen(command(tmp_path / "cut"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    while not (tmp_path / "cut" / "last.pt").exists() and killed.poll() is None:
        time.sleep(0.01)
    killed.kill()  # SIGKILL, as soon as epoch 1 is checkpointed: epoch 2 is under way
    killed.wait()
    assert load_checkpoint(tmp_path / "cut" / "last.pt")["epoch"] < 2
    subprocess.run(command(tmp_path / "cut", "--resume"), check=True, capture_output=True, env=env, timeout=300)
    whole, resumed = (load_checkpoint(tmp_path / run / "last.pt")["model"] for run in ("whole", "cut"))
    assert all(torch.equal(whole[k], resumed[k]) for k in whole)


def test_every_variant_can_start_from_one_global_backbone(faces, unet_run, tmp_path):
    source = train(faces, tmp_path / "global", "global", **{**FAST, "epochs": 1})
    run = train(faces, tmp_path / "mgmtn", "mgmtn", unet=unet_run, backbone_from=source, **{**FAST, "epochs": 1,
                                                                                            "lr": 0.0})
    assert json.loads((run / "config.json").read_text())["backbone_from"] == str(source.resolve())
    start, after = (load_checkpoint(r / "best.pt")["model"] for r in (source, run))
    weights = [k for k in start if k.startswith("backbone.") and "running_" not in k and "num_batches" not in k]
    assert weights and all(torch.equal(start[k], after[k]) for k in weights)  # at lr 0 the start is what is left
    with pytest.raises(MgmtnError, match="not both"):
        train(faces, tmp_path / "both", "mgmtn", unet=unet_run, init=source, backbone_from=source, **FAST)
