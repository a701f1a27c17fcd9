import json

import pytest

from mgmtn.ablations import (STUDIES, Run, agreement, by_setting, compact, component_gains, noise_level, ranking,
                             run_study, seeds_on_disk, study_runs, study_table, verdicts, versus)
from mgmtn.config import ensure_synthetic
from mgmtn.errors import MgmtnError
from mgmtn.train import start_digest

FAST = dict(epochs=1, image_size=32, train_limit=32, select_images=16, batch_size=16)


def test_studies_cover_the_papers_rows_and_runs_are_named_uniquely():
    assert {r.model for r in STUDIES["components"]} == {"global", "ag", "aml-gr4", "aml-global", "mgmtn",
                                                         "mgmtn-sa", "mgmtn-ca-sa"}
    assert [r.mask_scale for r in STUDIES["mask-scale"]] == [0.64, 0.81, 1.0, 1.21, 1.44]
    runs = study_runs(list(STUDIES))
    assert len({r.name for r in runs}) == len(runs) == 21  # shared runs appear once
    assert Run("aml-gr4", 0.81, 1).name == "aml-gr4-scale0.81-seed1"
    with pytest.raises(MgmtnError, match="unknown study"):
        study_runs(["tables"])


def test_run_study_trains_scores_and_skips_finished_runs(tmp_path):
    faces = ensure_synthetic(80, seed=5, root=tmp_path / "faces", progress=False)
    runs = [Run("global", seed=0), Run("global", seed=1)]
    with pytest.raises(MgmtnError, match="UNet"):
        run_study([Run("mgmtn")], faces, tmp_path / "runs", "smoke", None, **FAST)
    run_study(runs, faces, tmp_path / "runs", "smoke", None, **FAST)
    stamp = (tmp_path / "runs" / "global-seed0" / "eval_val.json").stat().st_mtime_ns
    run_study(runs, faces, tmp_path / "runs", "smoke", None, **FAST)
    assert (tmp_path / "runs" / "global-seed0" / "eval_val.json").stat().st_mtime_ns == stamp
    table = study_table(runs, tmp_path / "runs")
    assert list(table.seed) == [0, 1] and table.train_images.tolist() == [32, 32]
    summary = by_setting(table, "model")
    assert summary.loc["global", "seeds"] == 2
    assert summary.loc["global", "accuracy spread"] == pytest.approx(table.accuracy.max() - table.accuracy.min())
    stage1 = str(tmp_path / "runs" / "global-seed{seed}")
    with pytest.raises(MgmtnError, match="put {seed} where the seed goes"):
        run_study([Run("ag", seed=1)], faces, tmp_path / "staged", "smoke", None, stage1=tmp_path / "runs", **FAST)
    with pytest.raises(MgmtnError, match="no stage-1 weights"):
        run_study([Run("ag", seed=2)], faces, tmp_path / "staged", "smoke", None, stage1=stage1, **FAST)
    run_study([Run("ag", seed=1)], faces, tmp_path / "staged", "smoke", None, stage1=stage1, **FAST)
    config = json.loads((tmp_path / "staged" / "ag-seed1" / "config.json").read_text())
    assert config["backbone_from"] == str((tmp_path / "runs" / "global-seed1").resolve())
    assert config["start_sha256"] == start_digest(tmp_path / "runs" / "global-seed1")
    # A stage 1 trained again is another start: no row may join those that started from the first one.
    run_study([Run("global", seed=1)], faces, tmp_path / "again", "smoke", None, epochs=2,
              **{k: v for k, v in FAST.items() if k != "epochs"})
    with pytest.raises(MgmtnError, match="would mix starts"):
        run_study([Run("global", seed=1)], faces, tmp_path / "staged", "smoke", None,
                  stage1=str(tmp_path / "again" / "global-seed{seed}"), **FAST)
    (tmp_path / "runs" / "global-seed1" / "best.pt").unlink()  # as in a fresh clone: weights are not committed
    run_study([Run("ag", seed=1)], faces, tmp_path / "staged", "smoke", None, stage1=stage1, **FAST)


def test_differences_are_judged_against_the_seed_spread():
    import pandas as pd

    table = pd.DataFrame({"model": ["global", "global", "mgmtn", "mgmtn", "ag"],
                          "accuracy": [80.0, 80.4, 80.9, 81.0, 80.1], "mA": [50.0, 51.0, 50.5, 50.7, 53.0]})
    summary = by_setting(table, "model")
    noise = noise_level(summary)
    assert noise.tolist() == pytest.approx([0.4, 1.0])
    judged = versus(summary, "global", noise)
    assert judged.loc["mgmtn", "accuracy vs global"] == pytest.approx(0.75)
    assert judged.loc["mgmtn", "accuracy: beyond noise"] and not judged.loc["mgmtn", "mA: beyond noise"]
    assert judged.loc["ag", "mA: beyond noise"] and not judged.loc["ag", "accuracy: beyond noise"]
    with pytest.raises(MgmtnError, match="more than one seed"):
        noise_level(by_setting(table[table.model == "ag"], "model"))
    shown = compact(judged.join(pd.DataFrame({"accuracy": [81.0]}, index=["mgmtn"]).add_prefix("paper ")))
    assert list(shown.columns) == ["acc", "mA", "seeds", "acc range", "mA range", "acc gain", "mA gain", "paper acc"]
    assert shown.loc["mgmtn", "acc gain"] == pytest.approx(0.75)
    assert list(compact(judged.rename(index={"global": "Gl"})).columns) == list(shown.columns)[:-1]  # relabelled


def test_the_papers_gains_are_borne_out_only_beyond_the_noise():
    import pandas as pd

    assert agreement(1.0, 0.3, 0.2) == "agrees" and agreement(1.0, -0.3, 0.2) == "disagrees"
    assert agreement(-1.0, -0.3, 0.2) == "agrees" and agreement(1.0, 0.2, 0.2) == "within noise"
    report = pd.DataFrame({"accuracy": [80.0, 80.5, 81.0, 80.9], "mA": [50.0, 50.1, 52.0, 51.0],
                           "paper accuracy": [90.0, 90.2, 91.0, 91.1], "paper mA": [88.0, 88.1, 89.0, 89.2]},
                          index=["global", "ag", "aml-global", "mgmtn"])
    noise = pd.Series({"accuracy": 0.2, "mA": 0.5})
    gains = component_gains(report, noise)
    assert list(gains.index) == ["AG", "AML", "G2FF, CA"]  # the rows that are there, each against the one before
    assert gains.loc["AML", "step"] == "ag → aml-global" and gains.loc["AML", "acc gain"] == pytest.approx(0.5)
    assert gains.loc["AML", "paper acc gain"] == pytest.approx(0.8)
    assert gains.loc["AG", "acc verdict"] == "agrees" and gains.loc["AG", "mA verdict"] == "within noise"
    assert gains.loc["G2FF, CA", "mA verdict"] == "disagrees"
    assert ranking(report, "accuracy", 0.2) == "aml-global ≈ mgmtn > ag > global"
    assert ranking(report, "paper accuracy") == "mgmtn > aml-global > ag > global"
    lines = verdicts(report, "global", noise)
    assert lines[0].startswith("ag vs global: accuracy +0.50 points (beyond the seed noise of 0.20), paper +0.20: agrees")


def test_extra_seeds_repeat_every_row_and_are_read_back_from_disk(tmp_path):
    runs = study_runs(["fusion"], seeds=(0, 1))
    assert Run("aml-gr34", seed=1) in runs and len(runs) == len(set(runs)) == 10
    for name in ("mgmtn-seed2", "mgmtn-sa-seed1", "mgmtn-seedling"):
        (tmp_path / name).mkdir()
    assert seeds_on_disk([Run("mgmtn")], tmp_path) == [Run("mgmtn"), Run("mgmtn", seed=2)]


def test_mask_guided_rows_never_join_rows_made_with_another_unet(tmp_path):
    from mgmtn.train_unet import train_unet, unet_record

    faces = ensure_synthetic(80, seed=5, root=tmp_path / "faces", progress=False)
    first, second = tmp_path / "unet", tmp_path / "unet-again"
    for folder, epochs in ((first, 1), (second, 2)):  # the same folder trained again would differ just as much
        train_unet(faces, folder, epochs=epochs, input_size=32, train_limit=32, val_limit=16)
    run_study([Run("aml-gr4")], faces, tmp_path / "runs", "smoke", first, **FAST)
    config = json.loads((tmp_path / "runs" / "aml-gr4-seed0" / "config.json").read_text())
    assert config["unet"]["sha256"] == unet_record(first)["sha256"] != unet_record(second)["sha256"]
    with pytest.raises(MgmtnError, match="would mix masks"):
        run_study([Run("mgmtn")], faces, tmp_path / "runs", "smoke", second, **FAST)
    run_study([Run("global", seed=1)], faces, tmp_path / "runs", "smoke", second, **FAST)  # no masks: no check
