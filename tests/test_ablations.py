import json

import numpy as np
import pandas as pd
import pytest

from mgmtn.ablations import (STUDIES, Run, by_setting, present, ranking, run_study, seeds_on_disk, study_gains,
                             study_report, study_runs, study_table)
from mgmtn.config import ensure_synthetic
from mgmtn.data.layout import write_attributes
from mgmtn.errors import MgmtnError
from mgmtn.paper import TABLE3
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
    assert summary.loc["global", "accuracy"] == pytest.approx(table.accuracy.mean())
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


IDS = [f"{i:06d}.jpg" for i in range(400)]
LABELS = np.random.default_rng(0).random((len(IDS), 40)) < 0.4


def scored_run(root, name, answers):
    """A finished run folder as ``run_study`` leaves it, without weights: its scores and its probabilities."""
    folder = root / name
    folder.mkdir(parents=True)
    record = {"accuracy": float((answers == LABELS).mean()), "mA": 0.5, "code_version": "test",
              "config": {"split": {"train": 100}, "train": {"epochs": 1}}}
    (folder / "eval_val.json").write_text(json.dumps(record))
    np.savez(folder / "eval_val.probs.npz", ids=np.array(IDS), probs=np.where(answers, 0.9, 0.1).astype(np.float16))


@pytest.fixture
def components(tmp_path):
    """Table 3's rows on synthetic answers: AG equal to the baseline, AML right on every image, SA wrong on every
    image; no full MGMTN. Returns the runs folder and the labelled data folder."""
    write_attributes(tmp_path / "faces", IDS, LABELS.astype(np.uint8))
    baseline = LABELS ^ (np.random.default_rng(1).random(LABELS.shape) < 0.3)
    for name, answers in (("global-seed0", baseline), ("ag-seed0", baseline), ("aml-global-seed0", LABELS),
                          ("mgmtn-sa-seed0", ~LABELS)):
        scored_run(tmp_path / "runs", name, answers)
    return tmp_path / "runs", tmp_path / "faces"


def test_a_study_s_gains_are_judged_by_their_95_percent_intervals(components):
    root, data = components
    gains = study_gains("components", root, data, "ablations-celeba-subset", replicates=200)
    verdicts = gains.groupby("claim")["verdict"].agg(set)
    # The steps whose rows were run, each against the row before; the G2FF steps without MGMTN are left out.
    assert list(verdicts.index.sort_values()) == ["AG over the row before", "AML over the row before",
                                                 "G2FF, SA over the row before"]
    assert verdicts["AG over the row before"] == {"inconclusive"}  # equal to the baseline: a gain of 0
    assert verdicts["AML over the row before"] == {"agrees"}  # better on every image, as the paper's is
    assert verdicts["G2FF, SA over the row before"] == {"disagrees"}  # worse on every image, the paper's is not
    ag = gains[gains["claim"] == "AG over the row before"].set_index("metric")
    assert ag.loc["accuracy", ["ours", "low", "high"]].tolist() == [0, 0, 0] and (gains["seeds"] == "1 vs 1").all()
    assert ag.loc["mA", "paper"] == pytest.approx(TABLE3.loc["ag", "mA"] - TABLE3.loc["global", "mA"])


def test_a_study_is_presented_with_its_intervals_levels_and_ranking(components, capsys):
    import matplotlib

    matplotlib.use("Agg")
    root, data = components
    gains = present("components", root, data, "model", TABLE3)
    assert set(gains["verdict"]) == {"inconclusive", "agrees", "disagrees"}
    shown = capsys.readouterr().out
    assert "by accuracy at 0.5, ours: aml-global > " in shown and " > mgmtn-sa\n" in shown
    assert shown.rstrip().endswith("by accuracy, paper: mgmtn-sa > aml-global > ag > global")
    assert present("components", root, None, "model") is not None  # no labels: the levels alone
    assert present("fusion", root.parent / "elsewhere", data, "model") is None


def test_the_levels_are_seed_means_beside_the_papers_rows_and_ranked_by_their_means(components):
    root, _ = components
    report = study_report("components", root, "model", TABLE3)
    assert report.loc["aml-global", "accuracy"] == pytest.approx(100)
    assert report.loc["ag", "paper accuracy"] == TABLE3.loc["ag", "accuracy"] and (report.seeds == 1).all()
    levels = pd.DataFrame({"accuracy": [80.0, 81.0, None]}, index=["global", "mgmtn", "ag"])
    assert ranking(levels, "accuracy") == "mgmtn > global"  # a row without a number is left out


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
