"""The lines of the *Reproduction status* page and the claims table, from the committed results.

Page 09 glues these sentences into the book, so the prose never carries a
typed number of ours. Every verdict of the claims table is the a-priori rule
of ``mgmtn.stats`` applied to the intervals of ``mgmtn.claims``.
"""

from __future__ import annotations

import pandas as pd

from mgmtn import ablations, results
from mgmtn.claims import REGIMES, in_regime, regime_table
from mgmtn.paper import COMPARISON, FIG9, MASK_MEAN_F1, TABLE3, TABLE4, table2_ours

ABLATIONS = results.RESULTS / REGIMES["scratch"]["ablations"]
LEARNT_MA = 0.65  # a claim is judged only where every run behind it reaches this mA on its reported split
# Each regime's glue-name prefixes: its main runs, its ablation studies, its LFWA runs.
PREFIXES = {"scratch": ("celeba", "", "lfwa"), "pretrained": ("pretrained", "pretrained_", "pretrained_lfwa")}


def main_runs(regime: str, model: str = "*") -> str:
    """The evaluations of a regime's main CelebA runs (Table 2's rows) of ``model``, as a glob under results/."""
    return f"{REGIMES[regime]['main']}/{model}-seed*/eval_val.json"


MAIN = main_runs("scratch")
LFWA = "lfwa-subset/*/eval_*.json"


def scores(pattern: str) -> str:
    """Seed means of the runs matching ``pattern``, at 0.5 and at the operating point chosen on selection."""
    found = results.evaluations(pattern)
    if found.empty:
        return "not run yet"
    mean = found[["accuracy", "mA", "tuned_accuracy", "tuned_mA"]].astype(float).mean()  # NaN where none was tuned
    row = found.iloc[0]
    text = f"{100 * mean.accuracy:.2f}% accuracy / {100 * mean.mA:.2f}% mA at threshold 0.5"
    if pd.notna(mean.tuned_accuracy):
        text += (f", {100 * mean.tuned_accuracy:.2f}% / {100 * mean.tuned_mA:.2f}% at the operating point chosen "
                 "on the selection split")
    seeds = f"mean of {len(found)} seeds" if len(found) > 1 else f"seed {row.seed}"
    return (f"{text} ({row.backbone}, {row.image_size} px, {row.train_images} training images, {row.epochs} "
            f"epochs, {seeds}, {row.split} split)")


def interval_text(claims: pd.DataFrame, source: str, claim: str, regime: str = "scratch") -> str:
    """One claim's gains in ``regime`` with their 95% intervals and verdicts, as a sentence ('not measured' if
    absent)."""
    claims = in_regime(claims, regime)
    rows = claims[(claims["source"] == source) & (claims["claim"] == claim)] if not claims.empty else claims
    if rows.empty:
        return "not measured (its runs or the labels of its data are absent)"
    return "; ".join(f"{r.ours:+.2f} {r.metric} [{r.low:+.2f}, {r.high:+.2f}] ({r.verdict})" for r in rows.itertuples())


def alignment_text() -> str:
    table = results.alignment_effects()
    if table.empty:
        return "not run yet"
    rows = table[table.run == table.run.iloc[0]].set_index("align")
    return (f"{rows.loc['none', 'acc @0.5']:.2f}% accuracy / {rows.loc['none', 'mA @0.5']:.2f}% mA as the frames are, "
            f"{rows.loc['auto', 'acc @0.5']:.2f}% / {rows.loc['auto', 'mA @0.5']:.2f}% aligned "
            f"(majority class {rows.loc['majority class', 'acc @0.5']:.2f}% / "
            f"{rows.loc['majority class', 'mA @0.5']:.2f}%; {table.run.iloc[0]}, threshold 0.5)")


def study_ranking(study: str, key: str, names=None, regime: str = "scratch") -> str:
    """A study's settings in ``regime`` by accuracy at 0.5, best first (the intervals of its gains are in the
    claims table)."""
    report = ablations.study_report(study, results.RESULTS / REGIMES[regime]["ablations"], key)
    if report.empty:
        return "not run yet"
    rows = len({run.setting for run in ablations.STUDIES[study]})
    text = ablations.ranking(report.rename(index=names or {}), "accuracy")
    return text + (f" ({len(report)} of {rows} rows run so far)" if len(report) < rows else "")


def unet_text(masks: pd.DataFrame, run: str = "cpu-celeba-subset/unet-dlib-selection") -> str:
    found = masks.loc[masks.run == run, "mean_f1"] if not masks.empty else masks
    return f"{100 * found.iloc[0]:.2f}% mean F1" if len(found) else "not run yet"


def status_lines(claims: pd.DataFrame) -> dict[str, str]:
    """Every line the *Reproduction status* page quotes, keyed by its glue name."""
    lines = {"lfwa_alignment": alignment_text(), "unet_f1": unet_text(results.mask_scores()),
             "mask_ranking": study_ranking("mask-scale", "mask_scale", lambda scale: f"{scale:.0%}")}
    for regime, (main, study, lfwa) in PREFIXES.items():
        lines |= {f"{main}_{model}": scores(main_runs(regime, model)) for model in ("global", "mgmtn")}
        lines[f"{main}_mgmtn_gain"] = (interval_text(claims, "Table 2", "MGMTN over the baseline (CelebA)", regime)
                                       + " points over the baseline at the chosen operating point, 95% interval")
        lines |= study_lines(claims, regime, study) | lfwa_lines(claims, regime, lfwa)
    return lines


def study_lines(claims: pd.DataFrame, regime: str, prefix: str) -> dict[str, str]:
    """A regime's ablation lines: Table 3's steps with their intervals and verdicts (``{prefix}ablation_steps``),
    and the rankings of Fig. 9 and of the comparison methods."""
    steps = "; ".join(f"{name}: {interval_text(claims, 'Table 3', f'{name} over the row before', regime)}"
                      for name, _, _ in ablations.COMPONENT_STEPS)
    return {f"{prefix}ablation_steps": steps + " (points over the row before at 0.5, 95% interval)",
            f"{prefix}fusion_ranking": study_ranking("fusion", "model", FIG9, regime),
            f"{prefix}comparison_ranking": study_ranking("comparison", "model", regime=regime)}


def lfwa_lines(claims: pd.DataFrame, regime: str, prefix: str) -> dict[str, str]:
    """A regime's LFWA runs (``{prefix}_{model}_{protocol}``) and MGMTN's gain under each protocol
    (``{prefix}_gain``)."""
    folder = REGIMES[regime]["lfwa"]
    gains = "; ".join(f"{protocol}: "
                      + interval_text(claims, "Table 2", f"MGMTN over the baseline (LFWA, {protocol})", regime)
                      for protocol in ("scratch", "finetune"))
    return {**{f"{prefix}_{model}_{protocol}": scores(f"{folder}/{model}-{protocol}/eval_*.json")
               for model in ("global", "mgmtn") for protocol in ("scratch", "finetune")},
            f"{prefix}_gain": "MGMTN minus the baseline at the chosen operating point, one seed each, 95% interval: "
            + gains}


def learnt(pattern: str) -> bool:
    found = results.evaluations(pattern)
    return not found.empty and bool((found["mA"] >= LEARNT_MA).all())


def judged(pattern: str, text: str) -> str:
    """``text``, where the runs matching ``pattern`` exist and have all learnt."""
    if results.evaluations(pattern).empty:
        return "not run yet"
    return text if learnt(pattern) else "not measured yet: the committed runs have not learnt (mA near 50%)"


def judged_study(study: str, text: str) -> str:
    """``judged`` for an ablation study: only the study's own runs must have learnt."""
    table = ablations.study_table(list(ablations.STUDIES[study]), ABLATIONS)
    if table.empty:
        return "not run yet"
    return text if (table.mA >= 100 * LEARNT_MA).all() else f"not judged yet: a run has mA under {LEARNT_MA:.0%}"


def _gains_of(claims: pd.DataFrame, source: str, prefix: str, exclude: str | None) -> pd.DataFrame:
    """The rows of a glance line: a source's gains whose claim starts with ``prefix`` (and lacks ``exclude``)."""
    if claims.empty:
        return claims
    chosen = (claims["source"] == source) & claims["claim"].str.startswith(prefix)
    return claims[chosen & ~claims["claim"].str.contains(exclude)] if exclude else claims[chosen]


def verdict_counts(claims: pd.DataFrame, source: str, prefix: str = "", regime: str = "scratch",
                   exclude: str | None = None) -> str:
    """How many of a source's gains in ``regime`` agree, disagree or are inconclusive (both metrics counted)."""
    rows = _gains_of(in_regime(claims, regime), source, prefix, exclude)
    if rows.empty:
        return "not measured"
    counts = rows["verdict"].value_counts()
    return ", ".join(f"{counts[v]} {v}" for v in ("agrees", "disagrees", "inconclusive") if v in counts)


def pretraining_text(claims: pd.DataFrame, source: str, prefix: str = "", exclude: str | None = None) -> str:
    """Whether a glance line's verdicts depend on pretraining: which of its gains measured in both regimes
    agree in one and disagree in the other (``mgmtn.claims.dependence``)."""
    table = regime_table(_gains_of(claims, source, prefix, exclude))
    if table.empty or (table["pretrained: verdict"] == "-").all():
        return "not measured pretrained yet"
    both = table[(table["pretrained: verdict"] != "-") & (table["scratch: verdict"] != "-")]
    flips = both[both["depends on pretraining?"].str.endswith("the verdict depends on pretraining")]
    if flips.empty:
        return f"no verdict of its {len(both)} gains measured in both regimes flips with pretraining"
    return "depends on pretraining: " + "; ".join(
        f"{claim} ({metric}) {row['scratch: verdict']} from scratch, {row['pretrained: verdict']} pretrained"
        for (_, claim, metric), row in flips.iterrows())


# The glance's lines: item, claim, the claims-table gains it counts (source, claim prefix, claims left out).
GLANCE_GAINS = {
    "MGMTN beats the baseline on CelebA": ("Table 2", "MGMTN over the baseline (CelebA", None),
    "the UNet predicts the group masks": None,
    "AG, AML and G2FF each add accuracy": ("Table 3", "", None),
    "the predicted region (100%) is the best size": ("Table 4", "", None),
    "G2FF above Gr4+Gr3 above Gr4 above global": ("Fig. 9", "", None),
    "MGMTN ahead of the other methods": ("Table 2", "MGMTN over", "baseline"),
    "MGMTN carries to LFWA": ("Table 2", "MGMTN over the baseline (LFWA", None),
}


def glance(claims: pd.DataFrame, status: dict[str, str]) -> pd.DataFrame:
    """The claims at a glance (the book's front page): what the paper reports, what the committed runs say
    with their 95% intervals, and the verdicts (``mgmtn.stats.verdict``)."""
    paper_gain = table2_ours().loc["mgmtn"] - table2_ours().loc["global"]
    table3_steps = "; ".join(f"{name} {TABLE3.accuracy[setting] - TABLE3.accuracy[before]:+.2f}"
                             for name, setting, before in ablations.COMPONENT_STEPS)
    comparison_paper = ablations.ranking(COMPARISON.rename(columns={"celeba_accuracy": "accuracy"}), "accuracy")
    lfwa_paper = table2_ours("lfwa").loc["mgmtn"]
    lines = {  # claim (a key of GLANCE_GAINS): item, what the paper reports, what was measured
        "MGMTN beats the baseline on CelebA":
            ("Table 2", f"{paper_gain.accuracy:+.2f} acc / {paper_gain.mA:+.2f} mA (ResNeSt50, test)",
             judged(MAIN, status["celeba_mgmtn_gain"])),
        "the UNet predicts the group masks":
            ("Sec. 4.4", f"{MASK_MEAN_F1}% mean F1 (FaRL boxes)", f"{status['unet_f1']} against dlib boxes"),
        "AG, AML and G2FF each add accuracy":
            ("Table 3", f"{table3_steps} acc over the row before",
             judged_study("components", status["ablation_steps"])),
        "the predicted region (100%) is the best size":
            ("Table 4", f"100% best; 64% to 144% within {TABLE4.accuracy.max() - TABLE4.accuracy.min():.2f} acc",
             judged_study("mask-scale", status["mask_ranking"])),
        "G2FF above Gr4+Gr3 above Gr4 above global":
            ("Fig. 9", "G2FF > Gr4+Gr3 > Gr4 > Gl (bars, no values)",
             judged_study("fusion", status["fusion_ranking"])),
        "MGMTN ahead of the other methods":
            ("Table 2", f"{comparison_paper} (accuracy as reported)",
             judged_study("comparison", status["comparison_ranking"])),
        "MGMTN carries to LFWA":
            ("Table 2", f"{lfwa_paper.accuracy:.2f} acc / {lfwa_paper.mA:.2f} mA (LFWA test)",
             judged(LFWA, f"{status['lfwa_mgmtn_finetune']}; {status['lfwa_gain']}")),
    }
    rows = []
    for claim, (item, paper, measured) in lines.items():
        gains = GLANCE_GAINS[claim]
        verdicts = ["no gain to test"] * 3 if gains is None else \
            [verdict_counts(claims, *gains[:2], regime="scratch", exclude=gains[2]),
             verdict_counts(claims, *gains[:2], regime="pretrained", exclude=gains[2]), pretraining_text(claims, *gains)]
        rows.append((item, claim, paper, measured, *verdicts))
    return pd.DataFrame(rows, columns=["item", "claim", "paper", "measured here (from scratch)", "verdicts from scratch",
                                       "verdicts pretrained", "depends on pretraining?"]).set_index("item")
