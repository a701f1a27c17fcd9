"""The notebook runner: executes with parameters, caches on content, names the failing cell."""

import nbformat
import pytest

from mgmtn.book import execute
from mgmtn.errors import MgmtnError

HEADER = "# %% tags=[\"parameters\"]\nprofile = 'x'\n\n"


def _project(tmp_path, body):
    source = tmp_path / "notebooks" / "01_demo.py"
    source.parent.mkdir()
    source.write_text(HEADER + body)
    return source


def test_executes_with_parameters_then_uses_the_cache(tmp_path):
    source = _project(tmp_path, "# %%\nprint('profile is', profile)\n")
    out = tmp_path / "out"
    assert execute(source, out, {"profile": "smoke"}, tmp_path)
    text = nbformat.read(out / "01_demo.ipynb", as_version=4).cells[-1].outputs[0]["text"]
    assert "profile is smoke" in text
    injected = [c for c in nbformat.read(out / "01_demo.ipynb", as_version=4).cells
                if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and "remove-cell" in injected[0].metadata.tags  # the page shows its parameters once
    assert not execute(source, out, {"profile": "smoke"}, tmp_path)
    assert execute(source, out, {"profile": "cpu"}, tmp_path)  # new parameters, new run


def test_failure_names_notebook_and_cell_and_keeps_the_good_copy(tmp_path):
    source = _project(tmp_path, "# %%\nx = 1\n")
    out = tmp_path / "out"
    execute(source, out, {}, tmp_path)
    good = (out / "01_demo.ipynb").read_bytes()
    source.write_text(HEADER + "# %%\nx = 1\n\n# %%\nraise ValueError('boom')\n")
    with pytest.raises(MgmtnError, match=r"01_demo.py failed in cell \d+ \(ValueError: boom\)"):
        execute(source, out, {}, tmp_path)
    assert (out / "01_demo.ipynb").read_bytes() == good


def test_a_page_gets_only_the_parameters_it_declares(tmp_path):
    source = _project(tmp_path, "# %%\nprint(sorted(k for k in dir() if k in ('profile', 'data_root')))\n")
    out = tmp_path / "out"
    execute(source, out, {"profile": "cpu", "data_root": "/elsewhere"}, tmp_path)
    assert "['profile']" in nbformat.read(out / "01_demo.ipynb", as_version=4).cells[-1].outputs[0]["text"]


def test_each_page_says_how_to_reproduce_it_after_its_title(tmp_path):
    source = _project(tmp_path, "data_root = None\nlfwa_root = None  # a release\nseed_root = None  # unused\n\n"
                                "# %% [markdown]\n# # Demo\n\n# %%\nx = 1\n")
    execute(source, tmp_path / "out", {}, tmp_path)
    cells = nbformat.read(tmp_path / "out" / "01_demo.ipynb", as_version=4).cells
    title = next(i for i, cell in enumerate(cells) if cell.source == "# Demo")
    box = cells[title + 1].source
    assert box.startswith(":::{admonition} Reproduce this page") and "`notebooks/01_demo.py`" in box
    assert ("papermill notebooks/01_demo.ipynb build/01_demo.ipynb --cwd . -p profile cpu -p data_root "
            "/path/to/celeba -p lfwa_root /path/to/lfwa-release\n") in box  # the unused root is not asked for
    assert "{download}`01_demo.ipynb <01_demo.ipynb>`" in box


def test_the_kernel_runs_without_a_transport_warning(tmp_path, capfd):
    execute(_project(tmp_path, "# %%\nx = 1\n"), tmp_path / "out", {}, tmp_path)
    assert "without encryption" not in capfd.readouterr().err
