"""Readers of the committed results: seed comparisons and the alignment measurement."""

import json

import pandas as pd
import pytest

from mgmtn import results


def test_a_gain_counts_only_beyond_the_seed_range():
    runs = pd.DataFrame({"model": ["global", "global", "mgmtn", "mgmtn"], "mA": [0.70, 0.71, 0.72, 0.725],
                         "accuracy": [0.890, 0.894, 0.891, 0.895]})
    gain = results.seed_gain(runs, "mgmtn", "global", ["mA", "accuracy"])  # in points
    assert gain.loc["mA", "gain"] == pytest.approx(1.75) and gain.loc["mA", "seed range"] == pytest.approx(1.0)
    assert gain.loc["mA", "beyond the range"]
    assert not gain.loc["accuracy", "beyond the range"]
    assert results.seed_gain(runs.iloc[:3], "mgmtn", "global", ["mA"]) is None  # one MGMTN seed is not enough


def test_alignment_records_become_one_row_per_mode_and_a_majority_row(tmp_path):
    scores = {"accuracy": 0.7, "mA": 0.6, "faces_missed": 3, "align_ms_per_image": 12.0,
              "at_run_operating_point": {"accuracy": 0.72, "mA": 0.65}}
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "run.json").write_text(json.dumps(
        {"images": 10, "modes": {"none": scores, "auto": scores}, "majority": {"accuracy": 0.71, "mA": 0.5}}))
    table = results.alignment_effects("a/*.json", root=tmp_path)
    assert list(table["align"]) == ["none", "auto", "majority class"]
    assert table.loc[0, "mA (run's point)"] == 65.0 and table.loc[2, "mA @0.5"] == 50.0
