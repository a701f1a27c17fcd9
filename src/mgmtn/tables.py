"""Result tables as a reader meets them: headers in words with their units, fixed decimals, verdicts as words.

pandas shows a table with its columns' code names (``tuned_mA``), bare True/False and a row of its own for
the index's name, all of which a reader has to decode. Every table a page of the book displays goes
through ``readable`` instead.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import pandas as pd
from pandas.io.formats.style import Styler

# Column names of mgmtn.results, mgmtn.ablations, mgmtn.paper and the pages, in words. Scores are in %, at
# threshold 0.5 unless the header names another operating point; gains and seed ranges are in points.
HEADERS = {
    "gain": "gain (points)", "seed range": "seed range (points)", "beyond the range": "beyond the seed range",
    "train_images": "training images", "train_minutes": "training minutes", "image_size": "image size (px)",
    "select_by_person": "selection by person", "mean_f1": "mean F1 (%)", "mask_scale": "mask region (of the area)",
    "train_images_per_s_incl_eval": "training images/s (with scoring)", "inference_images_per_s": "inference images/s",
    "input_size": "input size (px)", "lr": "learning rate",
}
# Each operating point's words, then the code names of its accuracy and of its mA (also with "val " before them).
POINTS = [("at 0.5", ["accuracy", "acc", "acc @0.5"], ["mA", "mA @0.5"]),
          ("at the chosen point", ["tuned_accuracy", "acc chosen", "acc (tuned)"], ["tuned_mA", "mA chosen", "mA (tuned)"]),
          ("with the midpoint rule", ["midpoint_accuracy"], ["midpoint_mA"]),
          ("at the run's point", ["acc (run's point)"], ["mA (run's point)"])]
for words, *names in POINTS:
    for metric, codes in zip(("accuracy", "mA"), names):
        HEADERS |= {f"{prefix}{code}": f"{prefix}{metric} {words} (%)" for code in codes for prefix in ("", "val ")}
for metric, short in (("accuracy", "acc"), ("mA", "mA")):
    HEADERS |= {f"celeba_{metric}": f"CelebA {metric} (%)", f"lfwa_{metric}": f"LFWA {metric} (%)",
                f"paper {metric}": f"paper {metric} (%)",
                f"paper celeba_{metric}": f"paper CelebA {metric} (%)", f"select {short}": f"selection {metric} (%)"}
# Counts: shown whole, with thousands separators, whatever their dtype after a join with missing values.
COUNTS = {"seeds", "epochs", "images", "train_images", "best epoch", "seed", "no face"}
MISSING = "–"


def _cell(value, decimals: int) -> str:
    """One value in words: yes/no for a flag, fixed decimals for a real, separators for a count."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return f"{value:,}"
    if isinstance(value, numbers.Real):
        return f"{value:,.{decimals}f}"
    return str(value)


# Under a group header (``results.operating_points``: "threshold 0.5", "midpoint rule", ...) a score is named
# without its operating point.
GROUPED = {"acc": "accuracy (%)", "mA": "mA (%)"}


def _header(name, grouped: bool = False):
    """A column's name in words; a multi-level column's level by level."""
    if isinstance(name, tuple):
        return tuple(_header(part, grouped=True) for part in name)
    if not isinstance(name, str):
        return name
    return (grouped and GROUPED.get(name)) or HEADERS.get(name, name.replace("_", " "))


def _row_label(label):
    """A row named after a column (a metric) in words, without the unit."""
    return HEADERS[label].removesuffix(" (%)") if isinstance(label, str) and label in HEADERS else label


def readable(table: pd.DataFrame | pd.Series, headers: dict | None = None, decimals: int = 2) -> Styler:
    """``table`` as the book shows it: ``HEADERS`` (and ``headers``, which win) for its column names,
    ``decimals`` for its reals, counts whole, flags as yes/no, missing values as a dash. A named index
    becomes the first column, so no header row holds only its name; an unnamed range index is hidden."""
    frame = table.to_frame() if isinstance(table, pd.Series) else table
    named = any(name is not None for name in frame.index.names)
    hidden = named or isinstance(frame.index, pd.RangeIndex)
    if not isinstance(frame.index, (pd.MultiIndex, pd.RangeIndex)):
        frame = frame.rename(index=_row_label)
    frame = frame.reset_index() if named else frame.copy()
    for column in frame.columns:
        last = column[-1] if isinstance(column, tuple) else column
        values = frame[column]
        if last in COUNTS and pd.api.types.is_float_dtype(values) and (values.dropna() % 1 == 0).all():
            frame[column] = values.astype("Int64")
    frame.columns = pd.Index([(headers or {}).get(name, _header(name)) for name in frame.columns],
                             tupleize_cols=isinstance(frame.columns, pd.MultiIndex))
    styler = frame.style.format(lambda value: _cell(value, decimals))
    if hidden:
        styler = styler.hide(axis="index")
    return styler.set_table_attributes('class="dataframe"')
