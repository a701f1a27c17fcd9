"""The command line prints one clear line on bad input, never a traceback."""

import subprocess
import sys

from mgmtn.cli import build_parser, main
from mgmtn.data.layout import ATTR_FILE


def test_help_lists_every_verb(capsys):
    help_text = build_parser().format_help()
    for verb in ("synth", "check", "book"):
        assert verb in help_text


def test_check_prints_counts_and_rates(tiny_celeba, capsys):
    assert main(["check", str(tiny_celeba), "--decode"]) == 0
    out = capsys.readouterr().out
    assert "6 images (train 4, val 1, test 1)" in out and "Male" in out and "every image decodes" in out


def test_check_reports_bad_row_without_traceback(tiny_celeba):
    lines = (tiny_celeba / ATTR_FILE).read_text().splitlines()
    lines[3] = lines[3].replace(" 1", " 2", 1)
    (tiny_celeba / ATTR_FILE).write_text("\n".join(lines) + "\n")
    result = subprocess.run([sys.executable, "-m", "mgmtn.cli", "check", str(tiny_celeba)],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"{ATTR_FILE}, line 4:" in result.stderr and "expected 1 or -1" in result.stderr


def test_evaluate_and_predict_verbs_reach_their_run_folder(tiny_celeba, capsys):
    # the positional RUN argument must not shadow the verb's handler
    for argv in (["evaluate", str(tiny_celeba / "no-run"), "--data", str(tiny_celeba)],
                 ["predict", str(tiny_celeba / "no-run"), str(tiny_celeba / "img_align_celeba" / "000001.jpg")]):
        assert main(argv) == 2
        assert "no-run/best.pt: checkpoint not found" in capsys.readouterr().err
