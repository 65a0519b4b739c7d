"""Chapter 7's answers are generated from the table: paired differences with their intervals give
'higher', 'lower', 'no detectable difference' or 'one seed', and a failed positive control says
that the null results cannot be read as the methods' failure."""

from __future__ import annotations

import pandas as pd
import pytest

from tbe_lib.experiment.answers import BACKGROUND, MOTION, compare, findings


def _table(values: dict[str, list[float]], column: str = MOTION) -> pd.DataFrame:
    rows = []
    for row, per_seed in values.items():
        for seed, v in enumerate(per_seed):
            rows.append({"condition": "static", "seed": seed, "row": row, "model": row, column: v})
    return pd.DataFrame(rows)


def test_a_difference_whose_interval_excludes_zero_is_higher_or_lower():
    df = _table({"random": [20.0, 21.0, 22.0], "pan_direction": [30.0, 31.5, 32.0]})
    c = compare(df, "static", "pan_direction", "random", MOTION)
    assert c is not None and c.verdict == "higher" and c.n == 3
    assert c.mean == pytest.approx(10.1666, abs=1e-3) and c.low > 0
    assert "is higher than" in c.sentence()
    assert compare(df, "static", "random", "pan_direction", MOTION).verdict == "lower"


def test_noise_around_zero_is_no_detectable_difference_with_the_smallest_visible_effect():
    df = _table({"moco_paper": [20.0, 25.0, 22.0], "be_paper": [21.0, 23.0, 24.0]})
    c = compare(df, "static", "be_paper", "moco_paper", MOTION)
    assert c.verdict == "no difference" and c.low < 0 < c.high
    assert "no detectable difference" in c.sentence() and "could not be seen" in c.sentence()


def test_pairing_is_by_seed_not_by_order():
    # per-seed differences are all +1 (a consistent effect) though the seeds vary a lot
    df = _table({"moco": [10.0, 30.0, 50.0], "be": [11.0, 31.0, 51.0]})
    df = df.sample(frac=1.0, random_state=0)  # rows shuffled
    c = compare(df, "static", "be", "moco", MOTION)
    assert c.mean == pytest.approx(1.0) and c.low == pytest.approx(1.0) and c.verdict == "higher"


def test_one_seed_has_no_interval_and_missing_rows_say_not_measured():
    df = _table({"random": [20.0], "pan_direction": [25.0]})
    assert compare(df, "static", "pan_direction", "random", MOTION).verdict == "one seed"
    assert compare(df, "static", "be_paper", "moco_paper", MOTION) is None
    answers = dict(findings(df, "static"))
    assert any("not measured" in line for lines in answers.values() for line in lines)


def test_a_failed_positive_control_qualifies_every_null_result():
    df = _table({"random": [20.0, 21.0, 22.0], "pan_direction": [20.5, 20.0, 22.5]})
    (heading, lines), *_ = findings(df, "static")
    assert "positive control" in heading
    assert any("nothing here shows that pretraining can learn motion" in line for line in lines)
    df = _table({"random": [20.0, 21.0, 22.0], "pan_direction": [30.0, 31.0, 33.0]})
    (_, lines), *_ = findings(df, "static")
    assert not any("nothing here shows" in line for line in lines)


def test_the_answers_read_the_background_probe_too():
    df = pd.concat([_table({"moco_paper": [80.0, 82.0, 81.0], "be_paper": [70.0, 71.0, 72.5]}, BACKGROUND)])
    c = compare(df, "static", "be_paper", "moco_paper", BACKGROUND)
    assert c.verdict == "lower" and "background probe" in c.sentence()


def test_the_difference_table_has_one_text_cell_per_row_and_measure():
    from tbe_lib.experiment.answers import difference_table

    df = _table({"moco_paper": [20.0, 22.0, 21.0], "be_paper": [21.0, 23.5, 22.0], "fame": [30.0, 31.0, 33.0]})
    t = difference_table(df, "static", "moco_paper", {MOTION: "motion probe", "missing": "x"})
    assert list(t.columns) == ["motion probe"] and len(t) == 2
    assert t.iloc[1, 0].startswith("+10.3 [") and t.iloc[1, 0].endswith("]")
    one = difference_table(_table({"moco_paper": [20.0], "be_paper": [25.0]}), "static", "moco_paper", {MOTION: "m"})
    assert one.iloc[0, 0] == "+5.0"


def test_the_moonshot_needs_motion_and_no_more_background_than_random_init():
    from tbe_lib.experiment.answers import moonshot

    motion = _table({"random": [12.0, 13.0], "moco": [14.0, 15.0], "pan_direction": [30.0, 33.0]})
    background = _table({"random": [60.0, 62.0], "moco": [80.0, 81.0], "pan_direction": [55.0, 57.0]}, BACKGROUND)
    df = motion.merge(background, on=["condition", "seed", "row", "model"])
    assert moonshot(df, "static").startswith("**The moonshot is reached**: Pan direction")
    df.loc[df.row == "pan_direction", BACKGROUND] = 70.0  # motion, but more background than random init
    text = moonshot(df, "static")
    assert text.startswith("The moonshot is not reached") and "more background than random init" in text
    df.loc[df.row == "pan_direction", MOTION] = 20.0
    assert "short of 28 %" in moonshot(df, "static")


def test_the_scale_sentence_says_when_the_tables_ceiling_is_one_of_its_budget():
    from tbe_lib.experiment.answers import CEILING_GAP, for_scale

    alone = for_scale(12.9, 15.2, split="test_shift", epochs=12)
    assert "12 epochs" in alone and "12.9% on `test_shift`" in alone and "15.2% from the unbiased split" in alone
    assert "Chapter 2" not in alone
    short = for_scale(12.9, 15.2, split="test_shift", epochs=12, check={"epochs": 40, "test_shift": 64.5})
    assert "for 40 epochs: 64.5% on `test_shift`" in short and "49.3 points below what labels can teach" in short
    near = for_scale(12.9, 60.0, split="test_shift", epochs=12, check={"epochs": 40, "test_shift": 60.0 + CEILING_GAP})
    assert f"within {CEILING_GAP:.0f} points" in near and "below what labels" not in near
    assert "Chapter 2" not in for_scale(1.0, 2.0, split="test_shift", epochs=1, check={"epochs": 1, "test_same": 9.0})
