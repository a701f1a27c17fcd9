"""Execute the notebooks with papermill and build the Jupyter Book from the results.

The ``.py`` percent files in ``notebooks/`` are the source of truth. Each is
converted, executed with the chosen profile's parameters into
``book/notebooks/`` and skipped next time while the notebook, its parameters,
the package code and the committed results are unchanged (a cache keyed on
their content hashes). Each executed page gets a box that says how to
reproduce it. The book is then built with execution off, so building it never
trains anything itself.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import jupytext
import nbformat
import papermill
import zmq
from papermill.exceptions import PapermillExecutionError
from traitlets.config import Config

from mgmtn.errors import MgmtnError

PACKAGE_DIR = Path(__file__).resolve().parent
# The kernel talks to papermill over local TCP; with CurveZMQ keys provisioned by the kernel manager that traffic
# is encrypted, and the kernel does not warn on every page that it is not.
KERNEL_CONFIG = Config({"KernelManager": {"transport_encryption": "auto" if zmq.has("curve") else "disabled"}})
# What a reader puts for each data folder a page's parameters name (``*_root``) to run it on real data.
REAL_DATA = {"lfwa_root": "/path/to/lfwa-release"}


def notebook_sources(project: Path) -> list[Path]:
    return sorted((project / "notebooks").glob("[0-9][0-9]_*.py"))


def _tree_hash(digest, folder: Path, pattern: str) -> None:
    for path in sorted(p for p in folder.rglob(pattern) if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(path.read_bytes())


def cache_key(source: Path, parameters: dict, project: Path) -> str:
    """Hash of everything an executed notebook depends on."""
    digest = hashlib.sha256(source.read_bytes())
    digest.update(json.dumps(parameters, sort_keys=True).encode())
    _tree_hash(digest, PACKAGE_DIR, "*.py")
    _tree_hash(digest, project / "results", "*")
    return digest.hexdigest()


def execute(source: Path, out_dir: Path, parameters: dict, project: Path, force: bool = False) -> bool:
    """Run one notebook unless its cached output is current; True when it ran."""
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{source.stem}.ipynb"
    key_file = out_dir / f".{source.stem}.key"
    converted = out_dir / f".{source.stem}.input.ipynb"
    notebook = jupytext.read(source)
    notebook.metadata.setdefault("kernelspec", {"name": "python3", "language": "python", "display_name": "Python 3"})
    jupytext.write(notebook, converted)
    declared = papermill.inspect_notebook(str(converted))  # each page gets only the parameters it declares
    parameters = {name: value for name, value in parameters.items() if name in declared}
    key = cache_key(source, parameters, project)
    if not force and target.exists() and key_file.exists() and key_file.read_text() == key:
        converted.unlink()
        return False
    partial = out_dir / f".{source.stem}.partial.ipynb"
    try:
        papermill.execute_notebook(converted, partial, parameters=parameters, kernel_name="python3", language="python",
                                   progress_bar=False, cwd=str(project), config=KERNEL_CONFIG)
    except PapermillExecutionError as error:
        raise MgmtnError(f"notebook {source.name} failed in cell {error.exec_count} "
                         f"({error.ename}: {error.evalue}); executed copy: {partial}") from None
    finally:
        converted.unlink(missing_ok=True)
    _prepare_page(partial, source)
    partial.replace(target)
    key_file.write_text(key)
    return True


def _prepare_page(path: Path, source: Path) -> None:
    """The executed notebook as the book shows it: without papermill's injected cell, which repeats the
    parameters cell with this run's values, and with a box that says how to reproduce the page."""
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        tags = cell.metadata.setdefault("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            tags.append("remove-cell")
    title = next((i for i, cell in enumerate(notebook.cells)
                  if cell.cell_type == "markdown" and cell.source.startswith("# ")), -1)
    notebook.cells.insert(title + 1, nbformat.v4.new_markdown_cell(reproduce_box(source, notebook)))
    nbformat.write(notebook, path)


def reproduce_box(source: Path, notebook) -> str:
    """A MyST admonition: the page's source, the commands that run it on real data in the cpu profile, and a
    download of the notebook as executed for the book."""
    parameters = next((cell.source for cell in notebook.cells if "parameters" in cell.metadata.get("tags", [])), "")
    roots = [name for name, comment in re.findall(r"^(\w*_root) = [^#\n]*(#.*)?$", parameters, re.MULTILINE)
             if "unused" not in comment]
    options = "".join(f" -p {name} {REAL_DATA.get(name, '/path/to/celeba')}" for name in roots)
    page = source.stem
    return f"""\
:::{{admonition}} Reproduce this page
:class: tip
Source: `notebooks/{source.name}` (`make lab` opens it as a notebook). This page alone, on real data in the
`cpu` profile, from the repository's root:

```bash
make sync
.venv/bin/papermill notebooks/{page}.ipynb build/{page}.ipynb --cwd . -p profile cpu{options}
```

The whole book so: `make book PROFILE=cpu DATA_ROOT=/path/to/celeba`. The notebook as executed for this page:
{{download}}`{page}.ipynb <{page}.ipynb>`.
:::"""


def build(project: Path, profile: str = "smoke", data_root: str | None = None, device: str = "cpu",
          force: bool = False, html: bool = True, log=print) -> Path:
    """Execute every notebook in order, stop at the first failure, then build the HTML."""
    project = project.resolve()
    out_dir = project / "book" / "notebooks"
    for source in notebook_sources(project):
        parameters = {"profile": profile, "data_root": data_root, "device": device}
        start = time.perf_counter()
        ran = execute(source, out_dir, parameters, project, force)
        log(f"{source.name}: {'executed' if ran else 'cached'}, {time.perf_counter() - start:.0f} s")
    if not html:
        return out_dir
    jupyter_book = shutil.which("jupyter-book", path=str(Path(sys.executable).parent)) or "jupyter-book"
    # Warnings are errors: a broken reference, a missing glue key or an unknown directive fails the build.
    result = subprocess.run([jupyter_book, "build", str(project), "--path-output", str(project / "build"),
                             "--warningiserror", "--keep-going"], capture_output=True, text=True)
    if result.returncode != 0:
        raise MgmtnError(f"jupyter-book build failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return project / "build" / "_build" / "html" / "index.html"
