"""Where the max-pooled features fire: the paper's Fig. 8, measured rather than drawn.

Max pooling keeps one cell of the feature map per channel. For the global
model that is the F5 argmax, one position per channel shared by all groups;
for a mask-guided model it is the F4 argmax inside each group's region.
``activation_positions`` counts these cells over a split and reports, per
group, how much of the chosen cells' area lies inside the group's region
drawn from the annotator's boxes (not from the UNet's masks), beside the
region's own area, which is what positions drawn at random would score.
Measuring area rather than hits keeps the coarse F5 grid and the finer F4
grid comparable. Fig. 8's point is that global features often fire away from
the part an attribute is about.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from mgmtn.attributes import GROUP_NAMES, NUM_GROUPS
from mgmtn.data.celeba import read_index
from mgmtn.data.dataset import CelebADataset
from mgmtn.data.transforms import EvalTransform
from mgmtn.engine import make_loader
from mgmtn.masks.cache import load_boxes
from mgmtn.provenance import record, write_json
from mgmtn.train import load_run


@torch.no_grad()
def activation_positions(run: Path, data: Path, annotator: str, split: str = "val", limit: int | None = 256,
                         device: str = "cpu", out: Path | None = None) -> dict:
    """Per-group density of max-pooling positions and their share inside the annotated region.

    Written to ``out`` (default ``RUN/positions_<split>.json``) with provenance.
    """
    started = time.perf_counter()
    model, config = load_run(run, device)
    index = read_index(data).split(split, limit)
    dataset = CelebADataset(index, transform=EvalTransform(size=config["train"]["image_size"]),
                            boxes=load_boxes(data, annotator, index=index))
    level = "F4" if model.scales else "F5"
    density, inside, area, total = None, torch.zeros(NUM_GROUPS), torch.zeros(NUM_GROUPS), 0
    for batch in make_loader(dataset, 64, False, 0):
        output = model(batch["image"].to(device), return_positions=True)
        positions = output.extras["positions"][level].cpu()
        if positions.dim() == 2:  # the global feature: the same positions for every group
            positions = positions.unsqueeze(1).expand(-1, NUM_GROUPS, -1)
        grid = output.extras["feature_sizes"][level]
        density = torch.zeros(NUM_GROUPS, grid[0] * grid[1]) if density is None else density
        density.scatter_add_(1, positions.transpose(0, 1).reshape(NUM_GROUPS, -1),
                             torch.ones(NUM_GROUPS, positions[:, 0].numel()))
        cover = F.adaptive_avg_pool2d(batch["masks"].float(), grid).flatten(-2)  # (B, G, cells): share in region
        inside += cover.gather(-1, positions).sum((0, 2))
        area += cover.mean(-1).sum(0) * positions.shape[-1]
        total += positions[:, 0].numel()
    density = (density / total).reshape(NUM_GROUPS, *grid).numpy()
    result = {"run": str(run), "model": config["model"], "level": level, "split": split, "images": len(index),
              "annotator": annotator, "grid": list(grid),
              "inside": dict(zip(GROUP_NAMES, (inside / total).tolist())),
              "chance": dict(zip(GROUP_NAMES, (area / total).tolist())),
              "density": {g: np.round(d, 5).tolist() for g, d in zip(GROUP_NAMES, density)}}
    write_json(Path(out) if out else Path(run) / f"positions_{split}.json",
               record(device, **result, config=config, data=index.describe(),
                      wall_seconds=round(time.perf_counter() - started, 1)))
    return result


def inside_table(found: dict[str, dict]) -> pd.DataFrame:
    """Share (%) of maxima inside each group's annotated region, one column per model, with the mean.

    The 'chance' column is the share a position drawn uniformly over the map would get: the region's area.
    """
    first = next(iter(found.values()))
    table = pd.DataFrame({**{model: result["inside"] for model, result in found.items()},
                          "chance": first["chance"]}) * 100
    table.loc["mean"] = table.mean()
    return table
