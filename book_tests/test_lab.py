"""The interactive path in a real browser: page 01 opened in JupyterLab as ``make lab`` serves it, run cell by cell.

JupyterLab starts headless on a free loopback port with a token and the
project's lab settings (``lab/user-settings``: a ``.py`` page opens as a
notebook), the way ``make lab`` starts it; headless Chromium opens a copy of
``notebooks/01_data_and_groups.py``, runs all cells and waits for the kernel
to go idle. Every code cell must have finished (an execution count), none may
show an error or stderr output, and every cell that draws must show its
figure. Run after ``make book``, whose synthetic faces (``$MGMTN_HOME``, as
the Makefile sets it) the page reads. ``CHROMIUM`` names the browser binary.
"""

import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

playwright = pytest.importorskip("playwright.sync_api", reason="pip install playwright to check the lab in a browser")

ROOT = Path(__file__).resolve().parents[1]
PAGE = "01_data_and_groups.py"
BROWSER = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
RUN_S = 180  # the page's cells on a loaded 2-core runner, data already made by make book

pytestmark = pytest.mark.skipif(BROWSER is None, reason="no chromium on PATH (apt-get install chromium)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab with make lab's settings and kernel options on a copy of page 01 (the lab saves what it runs:
    the checkout stays as it was); its address with the token."""
    port, token, scratch = free_port(), secrets.token_hex(16), tmp_path_factory.mktemp("lab")
    (scratch / "notebooks").mkdir()
    shutil.copy(ROOT / "notebooks" / PAGE, scratch / "notebooks" / PAGE)
    env = os.environ | {"JUPYTERLAB_SETTINGS_DIR": str(ROOT / "lab" / "user-settings"),
                        "JUPYTERLAB_WORKSPACES_DIR": str(scratch / "workspaces"),
                        "JUPYTER_RUNTIME_DIR": str(scratch / "runtime"),
                        "MGMTN_HOME": os.environ.get("MGMTN_HOME", str(ROOT / "build" / "home"))}
    log = (scratch / "lab.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={scratch / 'notebooks'}",
         "--KernelManager.transport_encryption=auto", "--ServerApp.allow_root=True"], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=5)
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail(f"JupyterLab did not start: {(scratch / 'lab.log').read_text()[-2000:]}")
            time.sleep(0.5)
    yield url, token, scratch / "lab.log"
    server.terminate()
    server.wait(timeout=30)
    log.close()


def test_page_01_runs_cell_by_cell_in_jupyterlab(lab):
    url, token, log = lab
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=BROWSER, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"{url}/lab/tree/{PAGE}?token={token}")
        notebook = page.locator(".jp-NotebookPanel").first
        notebook.wait_for(timeout=60_000)  # opened as a notebook, not as a text file
        indicator = page.locator(".jp-Notebook-ExecutionIndicator").first
        # The kernel started for the page (lab/user-settings) and connected: the status bar names it, idle.
        page.wait_for_function("() => /\\| Idle/.test(document.querySelector('#jp-main-statusbar')?.innerText)",
                               timeout=90_000)
        page.locator("#jp-MainMenu .lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
        try:
            page.wait_for_function(
                """() => { const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')];
                    const status = document.querySelector('.jp-Notebook-ExecutionIndicator')?.getAttribute('data-status');
                    return prompts.length && prompts.every(p => /\\[\\d+\\]/.test(p.textContent)) && status === 'idle'; }""",
                timeout=RUN_S * 1000)
        except playwright.Error:
            page.screenshot(path=str(log.with_name("lab.png")))
            prompts = page.evaluate("() => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]"
                                    ".map(p => p.textContent)")
            pytest.fail(f"the cells did not finish in {RUN_S} s: prompts {prompts}, kernel "
                        f"{indicator.get_attribute('data-status')}; screenshot {log.with_name('lab.png')}")
        cells = page.evaluate("""() => [...document.querySelectorAll('.jp-CodeCell')].map(cell => ({
            source: cell.querySelector('.jp-InputArea-editor').textContent,
            prompt: cell.querySelector('.jp-InputPrompt').textContent,
            errors: [...cell.querySelectorAll('.jp-OutputArea-output[data-mime-type$="stderr"],'
                                              + '.jp-OutputArea-output[data-mime-type$="error"]')]
                    .map(o => o.textContent.slice(0, 300)),
            figures: [...cell.querySelectorAll('.jp-OutputArea-output img')].filter(i => i.naturalWidth > 0).length}))""")
        status = indicator.get_attribute("data-status")
        browser.close()
    assert status == "idle" and cells
    for number, cell in enumerate(cells, 1):
        assert re.fullmatch(r"\[\d+\]:", cell["prompt"].strip()), f"cell {number} did not finish: {cell['prompt']}"
        assert not cell["errors"], f"cell {number} shows an error: {cell['errors']}"
        if "plots." in cell["source"]:
            assert cell["figures"], f"cell {number} drew no figure: {cell['source'][:80]}"
    assert "without encryption" not in log.read_text()  # the kernel's transport is encrypted, as in the book
