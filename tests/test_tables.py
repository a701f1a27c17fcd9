"""Tables for readers: words for code names, fixed decimals, flags as words, no row for the index's name."""

import numpy as np
import pandas as pd
from bs4 import BeautifulSoup

from mgmtn.tables import readable


def shown(styler) -> tuple[list[list[str]], list[list[str]]]:
    """The header rows and body rows of a rendered table, as the reader sees their text."""
    html = BeautifulSoup(styler.to_html(), "html.parser")
    rows = lambda part: [[cell.get_text() for cell in row.find_all(["th", "td"])]  # noqa: E731
                         for row in html.find(part).find_all("tr")]
    return rows("thead"), rows("tbody")


def test_code_names_flags_and_counts_become_words():
    table = pd.DataFrame({"model": ["global", "mgmtn"], "tuned_mA": [78.2149, 79.6], "beyond the range": [True, False],
                          "seeds": [2.0, np.nan], "train_images": [18000, 18000]}).set_index("model")
    head, body = shown(readable(table))
    assert head == [["model", "mA at the chosen point (%)", "beyond the seed range", "seeds", "training images"]]
    assert body == [["global", "78.21", "yes", "2", "18,000"], ["mgmtn", "79.60", "no", "–", "18,000"]]


def test_a_named_index_is_a_column_not_a_row_of_its_own():
    head, body = shown(readable(pd.DataFrame({"claim": ["x"]}, index=pd.Index(["Table 2"], name="item")),
                                headers={"item": "in the paper"}))
    assert head == [["in the paper", "claim"]] and body == [["Table 2", "x"]]


def test_metric_rows_and_grouped_columns_are_named_in_words():
    gains = pd.DataFrame({"gain": [3.0, 1.0], "beyond": [True, False]}, index=["tuned_mA", "accuracy"])
    _, body = shown(readable(gains))
    assert [row[0] for row in body] == ["mA at the chosen point", "accuracy at 0.5"]
    assert body[0][1:] == ["3.00", "yes"]
    grouped = pd.DataFrame([[90.1, 78.0]], columns=pd.MultiIndex.from_tuples([("midpoint rule", "acc"),
                                                                              ("midpoint rule", "mA")]))
    head, _ = shown(readable(grouped, decimals=1))
    assert head[1] == ["accuracy (%)", "mA (%)"]
