"""Where a number came from: code version, hardware, and a results file that says so.

Every results file of the book carries this record, so that a reader can tell
which code, data and machine produced a number and how long it took.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import torch

from mgmtn.data.layout import atomic_write


def _git(*args: str) -> str | None:
    try:
        result = subprocess.run(["git", *args], cwd=Path(__file__).resolve().parent, capture_output=True,
                                text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def code_version() -> str:
    """The checkout's commit, ``-dirty`` when the code (not the results) differs from it; else the package version.

    Results files are tracked too, and a run that writes them must not mark itself dirty.
    """
    commit = _git("describe", "--always", "--abbrev=12")
    if not commit:
        from importlib.metadata import version
        return f"mgmtn {version('mgmtn')}"
    changed = _git("status", "--porcelain", "--", ":/src", ":/pyproject.toml")
    return f"{commit}-dirty" if changed else commit


CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")  # what decides whether bf16 is native


def cpu_flags() -> list[str]:
    """Which of ``CPU_FLAGS`` the CPU has (Linux ``/proc/cpuinfo``; empty where it cannot be read)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return [flag for flag in CPU_FLAGS if flag in flags]


def hardware(device: str | torch.device = "cpu") -> dict:
    device = torch.device(device)
    record = {"platform": platform.platform(), "python": platform.python_version(), "torch": torch.__version__,
              "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "device": str(device),
              "cpu_flags": cpu_flags(), "cpu_capability": torch.backends.cpu.get_cpu_capability()}
    if device.type == "cuda":
        record["gpu"] = torch.cuda.get_device_name(device)
    return record


def record(device: str | torch.device = "cpu", **fields) -> dict:
    """The provenance block written into results files."""
    return {"code_version": code_version(), "hardware": hardware(device),
            "written_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), **fields}


def write_json(path: Path, payload: dict) -> Path:
    """Write JSON atomically: a crash never leaves half a results file in place of a good one."""
    with atomic_write(Path(path)) as f:
        json.dump(payload, f, indent=2, default=str)
        f.write("\n")
    return Path(path)
