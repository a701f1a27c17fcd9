"""Named profiles and where data and outputs live.

A profile fixes the scale of a run: ``smoke`` proves the code runs on a
CPU in minutes on synthetic faces, ``cpu`` is the real-data subset on a laptop
scale, ``paper`` is the GPU protocol of the paper. Notebooks and the CLI take
a profile name, so one switch moves a whole book between scales.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mgmtn.errors import MgmtnError


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    synth_images: int  # synthetic faces generated when no data folder is given
    synth_seed: int = 0


PROFILES: dict[str, Profile] = {
    "smoke": Profile("smoke", "synthetic faces, tiny models: proves the code runs on a CPU in minutes",
                     synth_images=1200),
    "cpu": Profile("cpu", "the real CelebA subset at low resolution on 2 CPUs", synth_images=6000),
    "paper": Profile("paper", "the paper's protocol (ResNeSt50, 227 px) on a GPU", synth_images=20000),
}


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise MgmtnError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}") from None


def home() -> Path:
    """Root for generated data and caches: ``$MGMTN_HOME`` or ``~/.cache/mgmtn``."""
    return Path(os.environ.get("MGMTN_HOME", Path.home() / ".cache" / "mgmtn"))


def ensure_synthetic(n: int, seed: int = 0, root: Path | None = None, progress: bool = True) -> Path:
    """A synthetic dataset of ``n`` faces, generated once and reused while its parameters match.

    It is written to a temporary folder and renamed into place, so an
    interrupted generation is never mistaken for a finished one.
    """
    from mgmtn.data.synth import generate

    root = Path(root) if root is not None else home() / "data" / f"synthetic-n{n}-seed{seed}"
    params = {"n": n, "seed": seed}
    marker = root / "synth.json"
    if marker.exists() and json.loads(marker.read_text()) == params:
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=root.parent, prefix=f".{root.name}."))
    try:
        generate(tmp, n=n, seed=seed, progress=progress)
        (tmp / "synth.json").write_text(json.dumps(params))
        if root.exists():
            shutil.rmtree(root)
        tmp.rename(root)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return root


def resolve_data(data_root: str | os.PathLike | None, profile: str | Profile) -> Path:
    """The dataset folder to use: the given one, or the profile's synthetic faces."""
    if data_root:
        return Path(data_root).expanduser()
    profile = get_profile(profile) if isinstance(profile, str) else profile
    return ensure_synthetic(profile.synth_images, profile.synth_seed)
