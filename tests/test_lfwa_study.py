"""Page 11's study helpers: the scoring split and the saved-score cache."""

import json

from mgmtn.data.celeba import read_index
from mgmtn.lfwa_study import saved_or, scoring_split


def test_scores_on_test_where_present_else_on_the_held_out_people(tiny_celeba):
    assert scoring_split(read_index(tiny_celeba)) == ("test", "LFWA test")
    assert scoring_split(read_index(tiny_celeba).split("val"))[0] == "val"


def test_a_saved_score_is_reused_only_for_its_split(tmp_path):
    path = tmp_path / "eval.json"
    calls = []

    def compute():
        calls.append(1)
        return {"split": "val", "accuracy": 0.5}

    assert saved_or(path, "val", compute)["accuracy"] == 0.5 and calls == [1]
    path.write_text(json.dumps({"split": "val", "accuracy": 0.7}))
    assert saved_or(path, "val", compute)["accuracy"] == 0.7 and calls == [1]
    assert saved_or(path, "test", compute)["split"] == "val" and calls == [1, 1]

