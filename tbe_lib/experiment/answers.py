"""The book's answers, as sentences generated from the table (chapter 7): does BE lower the
background probe, raise the motion probe, raise contrastive accuracy? Is it BE or the
temporal negative that does it? Where does FAME stand, and how far are both from the oracle?
Can any pretraining learn motion at this budget (the positive control)?

Every answer is a *paired* difference between two rows over the seeds they share (rows of one
seed see the same data and draws, :func:`~tbe_lib.experiment.table.paired_differences`), with
its 95 % confidence interval. A difference whose interval holds zero is reported as no
detectable difference, with the interval's half-width: the smallest effect the run could have
seen, and what more seeds or a longer budget would have to beat.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from .config import ROW_LABELS
from .table import paired_differences

__all__ = [
    "Comparison",
    "compare",
    "findings",
    "moonshot",
    "for_scale",
    "CEILING_GAP",
    "difference_table",
    "QUESTIONS",
    "MOTION",
    "BACKGROUND",
    "CONTRASTIVE",
    "MOONSHOT_MOTION",
]

#: The measures the answers read (columns of the table), and how they are named in sentences.
MOTION = "motion_probe_test_shift"
BACKGROUND = "background_probe"
CONTRASTIVE = "contrastive_motion_probe_test_shift"
_WHAT = {
    MOTION: "the motion probe (linear probe trained on train_unbiased, tested on test_shift)",
    BACKGROUND: "the background probe (lower: less background in the features)",
    CONTRASTIVE: "the motion probe's contrastive accuracy (right on test_shift, wrong on its SCUFO twin)",
    "finetune_test_shift": "finetuned accuracy on test_shift",
    "contrastive_test_shift": "the finetuned model's contrastive accuracy on test_shift",
}


@dataclass(frozen=True)
class Comparison:
    """``row`` minus ``reference`` on ``column``, paired by seed: ``mean`` and the 95 %
    interval ``[low, high]`` (NaN with fewer than 2 seeds) over ``n`` seeds."""

    row: str
    reference: str
    column: str
    mean: float
    low: float
    high: float
    n: int

    @property
    def verdict(self) -> str:
        """``"higher"`` / ``"lower"`` when the interval excludes zero, ``"no difference"`` when it
        holds it, ``"one seed"`` when there is no interval."""
        if self.n < 2 or math.isnan(self.low):
            return "one seed"
        if self.low > 0:
            return "higher"
        if self.high < 0:
            return "lower"
        return "no difference"

    def phrase(self) -> str:
        """``"+1.2 points [0.3, 2.1]"`` (or without the interval for one seed)."""
        if self.verdict == "one seed":
            return f"{self.mean:+.1f} points (one seed, no interval)"
        return f"{self.mean:+.1f} points [{self.low:+.1f}, {self.high:+.1f}]"

    def sentence(self) -> str:
        """One sentence: ``row`` against ``reference`` on the column, with the verdict."""
        a, b, what = ROW_LABELS[self.row], ROW_LABELS[self.reference], _WHAT.get(self.column, self.column)
        if self.verdict == "no difference":
            half = (self.high - self.low) / 2
            return (
                f"{a} vs {b} on {what}: no detectable difference, {self.phrase()} over {self.n} seeds; "
                f"an effect smaller than about {half:.1f} points could not be seen at this budget."
            )
        if self.verdict == "one seed":
            return f"{a} vs {b} on {what}: {self.phrase()}."
        return f"{a} is {self.verdict} than {b} on {what}: {self.phrase()} over {self.n} seeds."


def compare(df: pd.DataFrame, condition: str, row: str, reference: str, column: str) -> Comparison | None:
    """``row`` minus ``reference`` on ``column`` in ``condition``, paired by seed; None when
    either row or the column is missing."""
    sub = df[(df.condition == condition) & df.row.isin([row, reference])]
    if column not in sub or set(sub.row) != {row, reference} or sub[column].isna().all():
        return None
    pd_ = paired_differences(sub, reference=reference, columns=[column])
    line = pd_[(pd_.row == row) & (pd_.column == column)]
    if line.empty or int(line.n.iloc[0]) == 0:
        return None
    r = line.iloc[0]
    return Comparison(row, reference, column, float(r["mean"]), float(r.ci_low), float(r.ci_high), int(r.n))


#: The questions of chapter 7: (heading, [(row, reference, column), ...]).
QUESTIONS: tuple[tuple[str, tuple[tuple[str, str, str], ...]], ...] = (
    (
        "Can pretraining learn motion here at all? (the positive control)",
        (("pan_direction", "random", MOTION), ("pan_direction", "random", CONTRASTIVE)),
    ),
    (
        "Does BE, as the paper trains it, remove the background and keep the motion?",
        (
            ("be_paper", "moco_paper", BACKGROUND),
            ("be_paper", "moco_paper", MOTION),
            ("be_paper", "moco_paper", CONTRASTIVE),
        ),
    ),
    (
        "Is it BE or the extra negative? (the decomposition)",
        (
            ("be", "moco", BACKGROUND),
            ("be", "moco", MOTION),
            ("be_paper", "be", BACKGROUND),
            ("be_paper", "be", MOTION),
            ("be_other", "be", BACKGROUND),
            ("be_other", "be", MOTION),
            ("moco_paper", "moco", MOTION),
        ),
    ),
    (
        "Where does FAME stand, and how far are both from the oracle?",
        (
            ("fame", "moco_paper", BACKGROUND),
            ("fame", "moco_paper", MOTION),
            ("fame", "be_paper", MOTION),
            ("oracle_swap", "moco_paper", BACKGROUND),
            ("oracle_swap", "moco_paper", MOTION),
            ("oracle_swap", "fame", MOTION),
            ("oracle_swap", "be_paper", MOTION),
        ),
    ),
)


def findings(df: pd.DataFrame, condition: str) -> list[tuple[str, list[str]]]:
    """The answers for ``condition`` of the tidy table ``df`` (:func:`collect_table`): per
    question of :data:`QUESTIONS`, its sentences, generated from the paired differences. A
    comparison whose rows or measures were not run says so."""
    out = []
    for heading, items in QUESTIONS:
        lines = []
        for row, ref, col in items:
            c = compare(df, condition, row, ref, col)
            if c is None:
                lines.append(
                    f"{ROW_LABELS[row]} vs {ROW_LABELS[ref]} on {_WHAT.get(col, col)}: not measured in this run."
                )
            else:
                lines.append(c.sentence())
        out.append((heading, lines))
    control = compare(df, condition, "pan_direction", "random", MOTION)
    if control is not None and control.verdict == "one seed":
        out[0][1].append("With one seed there is no interval, so no verdict on the control, nor on anything below.")
    elif control is not None and control.verdict != "higher":
        out[0][1].append(
            "**So nothing here shows that pretraining can learn motion at this budget**: the comparisons "
            "below cannot tell 'the method does not help' from 'nothing works at this budget'. "
            "Longer pretraining (the full profile) is what would change that."
        )
    return out


#: The moonshot of issue 13: a pretraining whose frozen features reach this motion probe (%) on
#: the main split with a background probe no higher than random init's.
MOONSHOT_MOTION = 28.0
_SUPERVISED = ("sup_biased", "sup_unbiased")
#: Points by which chapter 2's longer supervised run may exceed the table's ceiling before
#: :func:`for_scale` calls the table's ceiling one of its budget.
CEILING_GAP = 10.0


def moonshot(df: pd.DataFrame, condition: str) -> str:
    """Whether any pretraining of ``condition`` reached the moonshot: mean motion probe at least
    :data:`MOONSHOT_MOTION` and mean background probe no higher than random init's, over the
    seeds. Names the best row either way, with both means (and how many seeds)."""
    sub = df[(df.condition == condition) & ~df.row.isin(_SUPERVISED)]
    if MOTION not in sub or BACKGROUND not in sub or "random" not in set(sub.row):
        return "The moonshot needs the motion and background probes of random init and the pretrainings: not measured."
    means = sub.groupby("row", sort=False)[[MOTION, BACKGROUND]].mean()
    seeds = sub.groupby("row", sort=False).seed.nunique()
    floor = float(means.loc["random", BACKGROUND])
    trained = means.drop(index="random")
    if trained.empty:
        return "No pretraining was run, so there is nothing to hold to the moonshot."
    best = trained[MOTION].idxmax()
    motion, background = float(trained.loc[best, MOTION]), float(trained.loc[best, BACKGROUND])
    reached = motion >= MOONSHOT_MOTION and background <= floor
    what = (
        f"{ROW_LABELS[best]} has the highest motion probe, {motion:.1f} % (mean of {int(seeds[best])} seeds), "
        f"with a background probe of {background:.1f} % against random init's {floor:.1f} %"
    )
    if reached:
        return f"**The moonshot is reached**: {what}: at least {MOONSHOT_MOTION:.0f} %, and no more background."
    missing = []
    if motion < MOONSHOT_MOTION:
        missing.append(f"{MOONSHOT_MOTION - motion:.1f} points short of {MOONSHOT_MOTION:.0f} %")
    if background > floor:
        missing.append(f"{background - floor:.1f} points more background than random init")
    return f"The moonshot is not reached: {what} ({'; '.join(missing)})."


def for_scale(
    floor: float, ceiling: float, *, split: str, epochs: int, check: Mapping[str, float] | None = None
) -> str:
    """The supervised rows as a scale for the others: the ``floor`` (labels on the biased
    split) and the ``ceiling`` (labels on the unbiased split), both finetuned for the table's
    ``epochs``, top-1 % on ``split``. ``check``: chapter 2's longer run of the ceiling's recipe
    (:func:`~tbe_lib.book.experiment.motion_check_result`); when it reaches more than
    :data:`CEILING_GAP` points above the table's ceiling, the sentence says that the table's
    ceiling is one of its budget, not of what labels can teach."""
    text = (
        f"For scale: the same network trained with labels for the table's {epochs} epochs reaches {floor:.1f}% on "
        f"`{split}` from the biased split (the floor) and {ceiling:.1f}% from the unbiased split (the ceiling); "
        "chance is 12.5%."
    )
    if check is None or split not in check:
        return text
    reached, longer = float(check[split]), int(check["epochs"])
    text += (
        f" Chapter 2 trains the ceiling's recipe for {longer} epoch{'s' * (longer != 1)}: {reached:.1f}% on `{split}`."
    )
    if reached - ceiling > CEILING_GAP:
        text += (
            f" So the table's ceiling is that of its {epochs}-epoch budget, {reached - ceiling:.1f} points below what "
            f"labels can teach here: the motion can be learned, only not in {epochs} epochs from scratch."
        )
    else:
        text += f" The table's budget brings the ceiling within {CEILING_GAP:.0f} points of it."
    return text


def difference_table(df: pd.DataFrame, condition: str, reference: str, columns: dict[str, str]) -> pd.DataFrame:
    """Every row of ``condition`` minus ``reference``, paired by seed, as text cells
    ``"+1.2 [+0.3, +2.1]"`` (the mean difference and its 95 % interval; the mean alone for one
    seed): one line per row (its label), one column per measure (``columns``: table column ->
    its name). Measures not in the table are left out."""
    cols = [c for c in columns if c in df and df[c].notna().any()]
    sub = df[df.condition == condition]
    diffs = paired_differences(sub, reference=reference, columns=cols)

    def cell(r: pd.Series) -> str:
        if r.n == 0:
            return "–"
        if r.n < 2 or math.isnan(r.ci_low):
            return f"{r['mean']:+.1f}"
        return f"{r['mean']:+.1f} [{r.ci_low:+.1f}, {r.ci_high:+.1f}]"

    diffs = diffs.assign(cell=diffs.apply(cell, axis=1), label=diffs.row.map(ROW_LABELS))
    table = diffs.pivot(index="label", columns="column", values="cell")
    order = [ROW_LABELS[r] for r in dict.fromkeys(sub.row) if r != reference]
    return table.reindex(index=order, columns=cols).rename(columns=columns).rename_axis(index=None, columns=None)
