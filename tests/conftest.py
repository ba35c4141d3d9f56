"""Shared builders: a bot wired to the simulated broker on a frame of closes, with a test clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from bot.adapters.frame_market import FrameMarketData
from bot.adapters.sim_broker import NO_FEES, CloseTable, SimulatedBroker
from bot.adapters.xnys_calendar import XnysCalendar
from bot.clock import SimulatedClock
from bot.cycle import NEW_YORK, Adapters
from bot.tracker import Tracker


@dataclass
class World:
    """A simulated world for one test: clock, prices, broker, tracker."""

    clock: SimulatedClock
    broker: SimulatedBroker
    tracker: Tracker
    adapters: Adapters

    def at(self, day: date, hour: int = 15, minute: int = 45) -> None:
        """Move the clock to ``day`` at ``hour:minute`` New York time."""
        self.clock.sleep_until(datetime.combine(day, time(hour, minute), NEW_YORK))


@pytest.fixture
def make_world(tmp_path: Path) -> Iterator[Callable[..., World]]:
    """Build a World from a frame of closes; slippage and fees off unless asked for."""
    trackers: list[Tracker] = []

    def build(
        closes: pd.DataFrame,
        cash: str = "100000",
        *,
        start: date | None = None,
        slippage_bps: str = "0",
        margin: str = "1",
    ) -> World:
        first = start or closes.index[0].date()
        clock = SimulatedClock(datetime.combine(first, time(9, 0), NEW_YORK))
        broker = SimulatedBroker(
            CloseTable(closes, clock),
            Decimal(cash),
            slippage_bps=Decimal(slippage_bps),
            fees=NO_FEES,
            margin_multiplier=Decimal(margin),
        )
        tracker = Tracker(tmp_path / f"tracker{len(trackers)}.sqlite3")
        trackers.append(tracker)
        adapters = Adapters(broker, FrameMarketData(closes), XnysCalendar(), tracker, clock)
        return World(clock, broker, tracker, adapters)

    yield build
    for tracker in trackers:
        tracker.close()


@pytest.fixture(scope="session")
def dashboard_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's state directory, made once for the dashboard's tests (HTTP and browser)."""
    from tests.dashboard_world import run_demo  # noqa: PLC0415 - only the dashboard's tests

    state = tmp_path_factory.mktemp("dashboard-demo") / "state"
    run_demo(state)
    return state


@pytest.fixture(scope="session")
def dashboard_month(tmp_path_factory: pytest.TempPathFactory) -> object:
    """A month of All In wakes on the fake Alpaca (tests.dashboard_world.AlpacaMonth)."""
    from tests.dashboard_world import alpaca_month  # noqa: PLC0415 - only the dashboard's tests

    return alpaca_month(tmp_path_factory.mktemp("dashboard-alpaca"))
