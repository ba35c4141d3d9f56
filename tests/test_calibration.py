"""The calibration search's pieces, checked by hand: the "pairs only" grid filter
(``max_held_legs``), the distance, the readings a family holds and how a reading is set."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from bot.backtest.calibration import (
    DISTANCE_KEYS,
    FAMILIES,
    TOLERANCE,
    UISX3_FAMILY,
    Family,
    Scored,
    Setup,
    Target,
    adoptable,
    axis,
    best,
    dated,
    distance,
    report,
    score_directly,
    search,
)
from bot.backtest.publisher_stats import DatedWindow
from bot.backtest.publishers import ALL_IN, COMPOSER_COSTS, NO_COSTS
from bot.bootstrap import build_runtime
from bot.config import ModifiedSharpeConfig, load_config
from bot.errors import ConfigError
from bot.market.sessions import xnys_sessions
from bot.market.synthetic import synthetic_closes
from bot.sweep.executors import LocalProcesses
from bot.sweep.grid import config_with
from strategies.modified_sharpe import Leg, ModifiedSharpeMix

ROOT = Path(__file__).resolve().parents[1]
KEYS = DISTANCE_KEYS["logical_invest"]
LEGS = (Leg("a", "AAA", 1.0), Leg("b", "BBB", 1.0), Leg("c", "CCC", 1.0))


def test_pairs_only_grid_by_count() -> None:
    """3 legs in tenths: 66 mixes, of which C(9, 2) = 36 hold all three; so 30 hold at most
    two, and 3 hold one."""
    assert len(ModifiedSharpeMix(LEGS).grid) == 66
    pairs = ModifiedSharpeMix(LEGS, max_held_legs=2).grid
    assert len(pairs) == 30
    assert ((pairs > 0).sum(axis=1) <= 2).all()
    assert len(ModifiedSharpeMix(LEGS, max_held_legs=1).grid) == 3


def test_pairs_only_changes_the_choice() -> None:
    """Three legs with the same mean and orthogonal moves of the same size: a mix's variance
    is proportional to Σw², so the best mix spreads over all three (0.3/0.3/0.4 in some
    order), and the best pair is 50/50; of the three equal pairs the first in grid order
    (b and c: a's weight 0) wins."""
    moves = np.array([[1, 1, -1, -1], [1, -1, 1, -1], [1, -1, -1, 1]], dtype=float)
    returns = 0.01 + 0.01 * moves
    spread = ModifiedSharpeMix(LEGS).weights_from_returns(returns).weights
    assert sorted(round(w, 10) for w in spread.values()) == [0.3, 0.3, 0.4]
    pair = ModifiedSharpeMix(LEGS, max_held_legs=2).weights_from_returns(returns).weights
    assert pair == pytest.approx({"AAA": 0.0, "BBB": 0.5, "CCC": 0.5})


def test_max_held_legs_must_fit_the_legs() -> None:
    legs = [{"name": n, "symbol": s} for n, s in (("a", "AAA"), ("b", "BBB"))]
    with pytest.raises(ValidationError, match="more than the 2 legs"):
        ModifiedSharpeConfig.model_validate(
            {"kind": "modified_sharpe", "legs": legs, "max_held_legs": 3}
        )
    with pytest.raises(ValueError, match="max_held_legs"):
        ModifiedSharpeMix(LEGS, max_held_legs=0)


def test_distance_by_hand() -> None:
    """Gaps of 1, 2 and 4 points: √((1 + 4 + 16) / 3) = √7 points."""
    ours = {"cagr": 0.25, "volatility": 0.22, "max_drawdown": -0.30}
    published = {"cagr": 0.24, "volatility": 0.20, "max_drawdown": -0.34}
    assert distance(ours, published, tuple(ours)) == pytest.approx(math.sqrt(7) / 100)


def test_a_reading_is_the_config_with_its_settings() -> None:
    data = load_config(ROOT / "config" / "uisx3.toml").model_dump(mode="json")
    config = config_with(data, (("strategy.f", 3.0), ("strategy.max_held_legs", 2)))
    assert config.strategy.f == 3.0  # type: ignore[union-attr]
    assert config.strategy.max_held_legs == 2  # type: ignore[union-attr]
    assert config.strategy.lookback_days == 72  # type: ignore[union-attr]  # untouched
    with pytest.raises(ConfigError, match="returns_kind"):
        config_with(data, (("strategy.returns_kind", "cubic"),))


def test_the_family_holds_every_combination_once() -> None:
    points = UISX3_FAMILY.points()
    assert len(points) == UISX3_FAMILY.size() == math.prod(len(a.values) for a in UISX3_FAMILY.axes)
    assert len({UISX3_FAMILY.label(p) for p in points}) == len(points)


def test_adopted_only_when_close_on_both_windows() -> None:
    near = Scored("near", (), (None, None), (0.01, TOLERANCE))
    overfit = Scored("overfit", (), (None, None), (0.001, 0.08))
    uncovered = Scored("uncovered", (), (None, None), (0.001, None))
    assert adoptable(near)
    assert not adoptable(overfit)
    assert not adoptable(uncovered)
    assert [s.label for s in best([near, overfit, uncovered], 0)] == [
        "overfit",
        "uncovered",
        "near",
    ]
    assert [s.label for s in best([near, overfit, uncovered], 1)] == [
        "near",
        "overfit",
        "uncovered",
    ]


def test_the_report_ranks_and_checks_on_the_second_window() -> None:
    """Two readings: the one closer on A ranks first and is shown with its B figures; the one
    closer on both at once is named; an uncovered B says so instead of naming a best."""
    family = Family("uisx3", "logical_invest", (axis("strategy.f", 2.0, 3.0),))
    targets = [
        Target("3y", date(2017, 2, 27), date(2020, 2, 25), dict.fromkeys(KEYS, 0.2)),
        Target("5y", date(2015, 2, 25), date(2020, 2, 25), dict.fromkeys(KEYS, 0.2)),
    ]
    a, b = family.points()
    fig = dict.fromkeys(KEYS, 0.21)
    results = [
        Scored("f=2.0", a, (fig, fig), (0.01, 0.09)),
        Scored("f=3.0", b, (fig, fig), (0.02, 0.03)),
    ]
    shipped = Scored("shipped", (), (fig, fig), (0.05, 0.05))
    text = report(family, targets, shipped, results)
    lines = text.splitlines()
    assert any(line.startswith("| 3 (shipped) |") for line in lines)
    assert any(line.startswith("| 1 | f=2.0 |") and "9.00 pp" in line for line in lines)
    assert any(line.startswith("| 2 (best on both at once) | f=3.0 |") for line in lines)
    assert "within 3 pp on every window: 1 (closest on A: f=3.0)" in text
    uncovered = [Scored(s.label, s.point, (fig, None), (s.distances[0], None)) for s in results]
    text = report(family, targets, shipped, uncovered)
    assert "not covered" in text
    assert "best on" not in text


def test_an_undatable_page_is_refused() -> None:
    """A page whose SPY figures no day of the data fits is an error, not another window."""
    assert dated(DatedWindow(date(2020, 2, 25), 0.0023)) == date(2020, 2, 25)
    with pytest.raises(ValueError, match="cannot be dated"):
        dated(DatedWindow(date(2021, 3, 1), 0.02))


def test_the_synthetic_probe_varies_the_uisx3_config() -> None:
    """2 leg sets × 4 lookbacks × 3 f = 24 readings of config/uisx3.toml."""
    family = FAMILIES["uisx3_synthetic"]
    assert family.config_name == "uisx3"
    assert family.size() == 24
    assert UISX3_FAMILY.config_name == "uisx3"


# ---------------------------------------------------------------------------------------------
# The search runs through bot sweep: the same figures as backtesting each reading alone


SMALL_UISX3 = Family(
    "uisx3",
    "logical_invest",
    (
        axis("strategy.lookback_days", 50, 80),
        UISX3_FAMILY.axes[4],  # the gold leg: 3 × GLD, or 1.5 × UGL (listed later: own start)
        axis("strategy.max_held_legs", None, 2),
    ),
)
SMALL_ALL_IN = Family("all_in", "composer", FAMILIES["all_in"].axes[:2])


def reported(scored: Scored, family: Family) -> tuple[object, ...]:
    """What the report and the CSV show of a reading: its figures on the distance's keys."""
    keys = DISTANCE_KEYS[family.publisher]
    figures = tuple(None if f is None else {k: f[k] for k in keys} for f in scored.figures)
    return scored.label, scored.point, figures, scored.distances


def synthetic_setup(family: Family, *, composer: bool) -> Setup:
    """Seeded closes for the family's funds and SPY (UGL listed 60 sessions after the others,
    so its readings start later), and two dated windows with made-up published figures."""
    base = load_config(ROOT / "config" / f"{family.config_name}.toml")
    sessions = xnys_sessions(date(2018, 1, 2), date(2021, 12, 31))
    funds = sorted({*build_runtime(base).strategy.symbols, "UGL", "SPY"})
    closes = synthetic_closes(funds, sessions, seed=5)
    closes.loc[closes.index < pd.Timestamp(sessions[60]), "UGL"] = np.nan
    keys = DISTANCE_KEYS[family.publisher]
    end = date(2021, 12, 30)
    a = Target("A", date(2020, 6, 1), end, dict.fromkeys(keys, 0.1))
    b = Target("B", date(2018, 6, 1), end, dict.fromkeys(keys, -0.1))
    if composer:
        start = sessions[120]
        page = Target("page", start, end, ALL_IN)
        return Setup(base, closes, (page,), COMPOSER_COSTS, start, end)
    return Setup(base, closes, (a, b), NO_COSTS, None, end)


@pytest.mark.parametrize(
    ("family", "composer"), [(SMALL_UISX3, False), (SMALL_ALL_IN, True)], ids=["li", "composer"]
)
def test_the_search_through_bot_sweep_equals_each_reading_backtested_alone(
    family: Family, composer: bool
) -> None:
    """Every reading's figures and distances, run as the points of one sweep (publisher
    conventions, each LI reading from its own first tradable day), equal those of the reading
    backtested alone through the fast engine and scored with publisher_stats (the search's
    former loop); the 1.5 × UGL readings start later and do not cover window B."""
    run = synthetic_setup(family, composer=composer)

    shipped, results = search(family, run)

    expected = [score_directly("shipped", (), run.base, run, family.publisher)]
    data = run.base.model_dump(mode="json")
    for point in family.points():
        config = config_with(data, point)
        expected.append(score_directly(family.label(point), point, config, run, family.publisher))
    assert [reported(s, family) for s in (shipped, *results)] == [
        reported(s, family) for s in expected
    ]
    assert all(s.distances[0] is not None for s in expected)
    if not composer:
        ugl = [s for s in results if "1.5xUGL" in s.label]
        assert len(ugl) == 4
        assert all(s.distances[1] is None for s in ugl)  # B begins before UGL's first day
        assert all(s.distances[1] is not None for s in results if s not in ugl)


def test_the_search_on_two_worker_processes_gives_the_same_figures() -> None:
    run = synthetic_setup(SMALL_UISX3, composer=False)

    here = search(SMALL_UISX3, run)
    there = search(SMALL_UISX3, run, LocalProcesses(2), workers=2)

    assert there == here
