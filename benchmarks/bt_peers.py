"""Reference backtests written with pmorissette/bt, to check and to time our own backtester.

Why this file exists: our backtester (``bot/backtest``) replays the bot's own cycle over history.
To trust its equity curves we want an *independent* implementation of the same rules in a
well-known framework, and to know how fast that framework is on the same work. This module uses
only ``bt`` (1.4.1) and pandas; it imports nothing from ``bot/`` or ``strategies/``, so a shared bug
cannot hide in both. No trading costs, fractional positions, 100 000 initial capital.

Two peers, each as ``build_*`` (data preparation, returns an un-run ``bt.Backtest``), :func:`run`
(``bt.run`` plus extraction of the equity curve) and a one-call convenience function:

* :func:`bt_fixed_quarterly` — fixed weights (HFEA 55/45 UPRO/TMF), a full rebalance at the close
  of the first row of ``closes`` and of the first trading day of every calendar quarter.
* :func:`bt_inverse_vol_corridor` — Composer "All In"-like: each day the basket gets
  ``basket_weight`` split by inverse volatility over the last ``lookback`` daily returns (rows,
  population std), plus a fixed sleeve; the whole book is rebalanced at the close when the largest
  absolute weight drift exceeds ``width`` (strictly), or when the book is still empty.

bt quirks these peers work around (bt 1.4.1):

* ``Backtest`` prepends a bootstrap row dated one calendar day before the first date (prices NaN,
  value = initial capital). :func:`run` drops it, so the curve's index is exactly ``closes.index``.
* ``RunQuarterly`` (any ``RunPeriod``) never fires on the bootstrap row, always fires on the first
  real row when ``run_on_first_date`` (good), but on the LAST row it returns ``run_on_last_date``
  without comparing dates: with the default it silently skips a quarter start that is the last row,
  with ``run_on_last_date=True`` it trades the last row even mid-quarter. It also fires on the first
  row of a quarter whatever its month (a gap over a whole January would trade in February), where
  our rule wants months 1, 4, 7, 10. Hence :class:`RunOnQuarterStart`.
* ``WeighInvVol`` uses a calendar ``DateOffset`` lookback and sample std; it is not used here.
  :class:`WeighInverseVolRows` counts rows.
* ``Rebalance`` computes every delta against the portfolio value and the weights from before the
  first trade (``base``, ``update=False``), so it lands on the target weights to ~1e-16; it is used
  as is.

Zero volatility: with a 2-day lookback two equal returns (a stale close) give σ = 0 and an
unbounded weight. The rule is then undefined; like the bot's default (``zero_vol_policy
"skip_day"``, ``vol_floor`` 1e-6) a day where any basket σ ≤ :data:`VOL_FLOOR` is treated as not
computable: no target, no drift check, the book is held. The real 2017–2026 basket has such days.

Run ``/work/venv/bin/python -m benchmarks.bt_peers [--runs N]`` to time both peers on the real data
in ``../shared/data/etf_adjclose`` (skipped when absent).
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import bt
import numpy as np
import numpy.typing as npt
import pandas as pd

INITIAL_CAPITAL = 100_000.0
CLOSES_KEY = "closes"  # additional_data key of the closes the inverse-vol algo reads
VOL_FLOOR = 1e-6  # a basket σ at or below this makes the day "not computable" (bot default)
QUARTER_START_MONTHS = frozenset({1, 4, 7, 10})

DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "etf_adjclose"


def _no_commission(_quantity: float, _price: float) -> float:
    """Trading costs are zero in both peers."""
    return 0.0


class RunOnQuarterStart(bt.Algo):  # type: ignore[misc]
    """Pass on the first real row, and on the first row of each quarter that falls in 1/4/7/10.

    Stateless like bt's ``RunPeriod``: the row position of ``target.now`` in ``target.data.index``
    (which holds bt's bootstrap row at position 0) decides.
    """

    def __call__(self, target: Any) -> bool:
        index: pd.DatetimeIndex = target.data.index
        i = index.get_loc(target.now)
        if not isinstance(i, int) or i == 0:  # bootstrap row (or a duplicated date)
            return False
        if i == 1:  # first row of closes: the initial investment
            return True
        now, prev = index[i], index[i - 1]
        return bool(
            now.month in QUARTER_START_MONTHS
            and (now.year, now.quarter) != (prev.year, prev.quarter)
        )


class WeighInverseVolRows(bt.Algo):  # type: ignore[misc]
    """Set ``temp["weights"]``: inverse-vol basket over the last ``lookback`` returns, + ``fixed``.

    σ is the population std of the last ``lookback`` simple returns, i.e. of the last
    ``lookback + 1`` rows up to and including today. Returns False (the stack stops, nothing
    trades) while the window is incomplete — bt's NaN bootstrap row counts as incomplete — or when
    any σ ≤ ``vol_floor``.

    The closes come from the backtest's ``additional_data[CLOSES_KEY]`` (bt prepends its
    bootstrap row to it, so its rows line up with ``target.data.index``), read once into a NumPy
    array: slicing ``target.universe`` with pandas every day, as bt's own ``WeighInvVol`` does,
    made this algo two thirds of the run time, which would time pandas rather than bt.
    """

    def __init__(
        self,
        basket: Sequence[str],
        fixed: Mapping[str, float],
        basket_weight: float,
        lookback: int,
        vol_floor: float = VOL_FLOOR,
    ) -> None:
        super().__init__()
        self.basket = tuple(basket)
        self.fixed = dict(fixed)
        self.basket_weight = basket_weight
        self.lookback = lookback
        self.vol_floor = vol_floor
        self.skipped: list[pd.Timestamp] = []  # days with a full window but σ ≤ vol_floor
        self._source: pd.DataFrame | None = None
        self._prices = np.empty((0, len(self.basket)))

    def _basket_prices(self, target: Any) -> npt.NDArray[np.float64]:
        source: pd.DataFrame = target.get_data(CLOSES_KEY)
        if source is not self._source:
            if not source.index.equals(target.data.index):
                msg = f"additional_data[{CLOSES_KEY!r}] is not aligned with the backtest's dates"
                raise ValueError(msg)
            self._source = source
            self._prices = source.loc[:, list(self.basket)].to_numpy(dtype=float)
        return self._prices

    def __call__(self, target: Any) -> bool:
        i = target.data.index.get_loc(target.now)  # closes row k is i = k + 1: 0 is bt's bootstrap
        if i <= self.lookback:  # the window would reach the bootstrap row
            return False
        prices = self._basket_prices(target)[i - self.lookback : i + 1]
        if not np.isfinite(prices).all():
            return False
        returns = prices[1:] / prices[:-1] - 1.0
        sigma = returns.std(axis=0, ddof=0)
        if (sigma <= self.vol_floor).any():
            self.skipped.append(target.now)
            return False
        inverse = 1.0 / sigma
        basket = self.basket_weight * inverse / inverse.sum()
        weights = dict(zip(self.basket, basket.tolist(), strict=True))
        weights.update(self.fixed)
        target.temp["weights"] = weights
        return True


class AbsoluteCorridor(bt.Algo):  # type: ignore[misc]
    """Pass when the book is empty or max |current − target| weight > ``width`` (strictly).

    Current weight = position value / portfolio value at today's close; a symbol that is not
    held weighs 0, a held symbol without a target has target 0. ``closest`` keeps the smallest
    |drift − width| seen, to judge how close a decision came to the edge.
    """

    def __init__(self, width: float) -> None:
        super().__init__()
        self.width = width
        self.closest = math.inf

    def __call__(self, target: Any) -> bool:
        targets: dict[str, float] = target.temp["weights"]
        total = float(target.value)
        held = {name: float(child.value) for name, child in target.children.items()}
        if not any(held.values()):
            return True
        drift = max(
            abs(held.get(name, 0.0) / total - targets.get(name, 0.0))
            for name in set(targets) | set(held)
        )
        self.closest = min(self.closest, abs(drift - self.width))
        return drift > self.width


def _checked_closes(closes: pd.DataFrame, symbols: Iterable[str]) -> pd.DataFrame:
    """Select ``symbols`` from ``closes``; refuse what bt would silently mishandle."""
    symbols = list(dict.fromkeys(symbols))
    missing = [s for s in symbols if s not in closes.columns]
    if missing:
        msg = f"closes has no column for {', '.join(missing)}"
        raise ValueError(msg)
    if not isinstance(closes.index, pd.DatetimeIndex):
        msg = "closes must be indexed by a DatetimeIndex"
        raise ValueError(msg)
    if not (closes.index.is_monotonic_increasing and closes.index.is_unique) or closes.empty:
        msg = "closes must have at least one row, with unique increasing dates"
        raise ValueError(msg)
    frame = closes.loc[:, symbols].astype(float)
    values = frame.to_numpy()
    if not (np.isfinite(values).all() and (values > 0).all()):
        msg = "closes must be finite and > 0 for every symbol used (drop incomplete rows first)"
        raise ValueError(msg)
    return frame


def _check_weights(weights: Mapping[str, float], what: str) -> None:
    if any(not (math.isfinite(w) and w >= 0) for w in weights.values()):
        msg = f"{what} weights must be finite and ≥ 0, got {dict(weights)}"
        raise ValueError(msg)


def _backtest(
    strategy: bt.Strategy,
    data: pd.DataFrame,
    initial: float,
    additional_data: dict[str, pd.DataFrame] | None = None,
) -> bt.Backtest:
    return bt.Backtest(
        strategy,
        data,
        name=strategy.name,
        initial_capital=initial,
        commissions=_no_commission,
        integer_positions=False,
        progress_bar=False,
        additional_data=additional_data,
    )


def build_fixed_quarterly(
    closes: pd.DataFrame, weights: dict[str, float], initial: float = INITIAL_CAPITAL
) -> bt.Backtest:
    """The fixed-weight, quarter-start peer as an un-run ``bt.Backtest``."""
    _check_weights(weights, "fixed")
    if sum(weights.values()) > 1.0 + 1e-12:
        msg = f"weights sum to more than 1: {dict(weights)}"
        raise ValueError(msg)
    data = _checked_closes(closes, weights)
    strategy = bt.Strategy(
        "fixed_quarterly",
        [RunOnQuarterStart(), bt.algos.WeighSpecified(**weights), bt.algos.Rebalance()],
    )
    return _backtest(strategy, data, initial)


def build_inverse_vol_corridor(
    closes: pd.DataFrame,
    basket: list[str],
    fixed: dict[str, float],
    *,
    basket_weight: float = 0.85,
    lookback: int = 2,
    width: float = 0.01,
    initial: float = INITIAL_CAPITAL,
    vol_floor: float = VOL_FLOOR,
) -> bt.Backtest:
    """The inverse-vol corridor peer as an un-run ``bt.Backtest``."""
    if not basket or len(set(basket)) != len(basket) or set(basket) & set(fixed):
        msg = f"basket must be non-empty, without repeats, disjoint from fixed: {basket}, {fixed}"
        raise ValueError(msg)
    if lookback < 2:  # one return always has σ = 0
        msg = f"lookback must be ≥ 2 returns, got {lookback}"
        raise ValueError(msg)
    _check_weights({**fixed, "basket": basket_weight}, "basket and fixed")
    if basket_weight + sum(fixed.values()) > 1.0 + 1e-12:
        msg = "basket_weight plus the fixed sleeve exceed 1"
        raise ValueError(msg)
    if not (math.isfinite(width) and width >= 0):
        msg = f"width must be finite and ≥ 0, got {width}"
        raise ValueError(msg)
    data = _checked_closes(closes, [*basket, *fixed])
    strategy = bt.Strategy(
        "inverse_vol_corridor",
        [
            WeighInverseVolRows(basket, fixed, basket_weight, lookback, vol_floor),
            AbsoluteCorridor(width),
            bt.algos.Rebalance(),
        ],
    )
    return _backtest(strategy, data, initial, {CLOSES_KEY: data})


def run(backtest: bt.Backtest) -> pd.Series:
    """``bt.run`` the backtest; return its value at each close, without bt's bootstrap row."""
    bt.run(backtest)
    return equity(backtest)


def equity(backtest: bt.Backtest) -> pd.Series:
    """The equity curve of a backtest that has run, indexed like the ``closes`` it was given."""
    values: pd.Series = backtest.strategy.values
    if not values.index.equals(backtest.dates) or len(values) < 2:
        msg = "unexpected bt value index: the bootstrap row layout changed"
        raise RuntimeError(msg)
    curve = values.iloc[1:].astype(float)
    curve.name = backtest.name
    return curve


def bt_fixed_quarterly(
    closes: pd.DataFrame, weights: dict[str, float], initial: float = 100_000.0
) -> pd.Series:
    """Equity of fixed ``weights`` rebalanced at the first row and at each quarter's first day."""
    return run(build_fixed_quarterly(closes, weights, initial))


def bt_inverse_vol_corridor(
    closes: pd.DataFrame,
    basket: list[str],
    fixed: dict[str, float],
    *,
    basket_weight: float = 0.85,
    lookback: int = 2,
    width: float = 0.01,
    initial: float = 100_000.0,
) -> pd.Series:
    """Equity of the inverse-vol basket plus fixed sleeve, traded outside an absolute corridor."""
    return run(
        build_inverse_vol_corridor(
            closes,
            basket,
            fixed,
            basket_weight=basket_weight,
            lookback=lookback,
            width=width,
            initial=initial,
        )
    )


def trade_dates(backtest: bt.Backtest) -> pd.DatetimeIndex:
    """Dates on which any position changed, in a backtest that has run."""
    positions: pd.DataFrame = backtest.strategy.positions.iloc[1:]
    changed = positions.ne(positions.shift(fill_value=0.0)).any(axis=1)
    return pd.DatetimeIndex(positions.index[changed])


# --- timing on real data --------------------------------------------------------------------


def load_closes(
    symbols: Sequence[str], start: str, end: str, data_dir: Path = DATA_DIR
) -> pd.DataFrame:
    """Adjusted closes of ``symbols`` from ``start`` to ``end``, on the dates all of them have."""
    series = {
        s: pd.read_csv(data_dir / f"{s}.csv", index_col="Date", parse_dates=True)["Close"]
        for s in symbols
    }
    frame = pd.concat(series, axis=1, sort=True).loc[start:end]
    return frame.dropna(how="any")


def _median_seconds(build: Callable[[], bt.Backtest], runs: int) -> tuple[float, bt.Backtest]:
    """Median wall time of ``bt.run`` alone, over ``runs`` fresh backtests (each runs only once)."""
    times: list[float] = []
    backtest = build()
    for _ in range(runs):
        backtest = build()
        start = time.perf_counter()
        bt.run(backtest)
        times.append(time.perf_counter() - start)
    return statistics.median(times), backtest


def _main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message="A future version of pandas will return a BaseOffset")
    if not DATA_DIR.is_dir():
        print(f"skipped: no data at {DATA_DIR}")
        return
    hfea = load_closes(["UPRO", "TMF"], "2009-06-25", "2026-07-14")
    seconds, backtest = _median_seconds(
        lambda: build_fixed_quarterly(hfea, {"UPRO": 0.55, "TMF": 0.45}), args.runs
    )
    curve = equity(backtest)
    print(
        f"HFEA 55/45 quarterly  {hfea.index[0]:%Y-%m-%d} → {hfea.index[-1]:%Y-%m-%d} "
        f"({len(hfea)} rows, {len(trade_dates(backtest))} trade days): "
        f"bt.run median {seconds * 1000:.1f} ms over {args.runs}, final equity {curve.iloc[-1]:.6f}"
    )
    basket = ["TECL", "TMF", "DFEN", "UTSL", "VXUS", "UGL"]
    all_in = load_closes([*basket, "USFR"], "2017-06-01", "2026-07-14")
    seconds, backtest = _median_seconds(
        lambda: build_inverse_vol_corridor(all_in, basket, {"USFR": 0.15}), args.runs
    )
    curve = equity(backtest)
    weigh, corridor = backtest.strategy.stack.algos[:2]
    print(
        f"All In inverse-vol    {all_in.index[0]:%Y-%m-%d} → {all_in.index[-1]:%Y-%m-%d} "
        f"({len(all_in)} rows, {len(trade_dates(backtest))} trade days, "
        f"{len(weigh.skipped)} zero-vol days held): "
        f"bt.run median {seconds * 1000:.1f} ms over {args.runs}, final equity {curve.iloc[-1]:.6f}"
        f"; closest |drift − width| {corridor.closest:.3e}"
    )


if __name__ == "__main__":
    _main()
