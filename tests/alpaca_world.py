"""A fake Alpaca account plus the bot wired to it through the real alpaca-py clients.

The bot's clock and the fake's clock are set together; the market data are synthetic (seeded)
closes of real XNYS sessions, so the pre-trade freshness checks see a normal trading day.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path

from bot.adapters.alpaca.transport import RetryPolicy
from bot.bootstrap import Bot, build_bot
from bot.clock import SimulatedClock
from bot.config import BotConfig
from bot.cycle import NEW_YORK, CycleResult, run_cycle
from bot.market.sessions import xnys_sessions
from bot.market.synthetic import synthetic_closes
from bot.settings import Settings
from bot.tracker import Tracker
from tests.fake_alpaca import FakeAlpaca
from tests.fake_alpaca.broker import AccountKind

ROOT = Path(__file__).resolve().parent.parent
TODAY = date(2026, 9, 21)  # a Monday session; 2026-09-18 is the previous one
KEY, SECRET = "test-key", "test-secret-DO-NOT-LEAK-7f3a"


def alpaca_config(name: str, **sections: str) -> BotConfig:
    """A shipped config with the Alpaca broker and instant polling (no real waiting)."""
    text = (ROOT / "config" / f"{name}.toml").read_text()
    raw = tomllib.loads(text)
    raw["broker"] = {
        "kind": "alpaca",
        "feed": "iex",
        "read_timeout_seconds": 0.5,
        "connect_timeout_seconds": 0.5,
    }
    raw["execution"] = {"poll_interval_seconds": 0, "max_polls": 5}
    for section, body in sections.items():
        raw[section] = {**raw.get(section, {}), **tomllib.loads(body)}
    return BotConfig.model_validate(raw)


@dataclass
class AlpacaWorld:
    """One fake account, one bot, one shared clock."""

    fake: FakeAlpaca
    clock: SimulatedClock
    state_dir: Path
    closes: dict[str, dict[date, float]]

    def settings(self, secret: str = SECRET) -> Settings:
        return Settings(
            BOT_STATE_DIR=self.state_dir,
            APCA_API_KEY_ID=KEY,
            APCA_API_SECRET_KEY=secret,
            APCA_API_BASE_URL=self.fake.url,
        )

    def at(self, day: date, hour: int = 15, minute: int = 45) -> None:
        moment = datetime.combine(day, time(hour, minute), NEW_YORK)
        self.clock.sleep_until(moment)
        self.fake.set_clock(moment)

    def bot(self, config: BotConfig, tracker: Tracker | None = None) -> Bot:
        tracker = tracker or Tracker(self.state_dir / "tracker.sqlite3")
        bot = build_bot(config, self.settings(), clock=self.clock, tracker=tracker)
        fast = RetryPolicy(sleep=lambda _seconds: None)
        bot.adapters.broker._retry = fast  # type: ignore[attr-defined]
        bot.adapters.market._retry = fast  # type: ignore[attr-defined]
        bot.adapters.calendar._retry = fast  # type: ignore[attr-defined]
        return bot

    def run(self, config: BotConfig, **kwargs: bool) -> CycleResult:
        """A fresh bot (as after a restart) running one cycle."""
        bot = self.bot(config)
        try:
            return run_cycle(bot.adapters, bot.runtime, **kwargs)
        finally:
            bot.adapters.tracker.close()

    def weights(self, symbols: list[str]) -> dict[str, float]:
        """Current weights at the fake's prices, from the fake's own book."""
        positions = self.fake.positions
        prices = {s: float(self.fake_price(s)) for s in symbols}
        values = {s: float(positions[s].qty) * prices[s] for s in symbols if s in positions}
        equity = float(self.fake.cash) + sum(
            float(p.qty) * float(self.fake_price(s)) for s, p in positions.items()
        )
        return {s: values.get(s, 0.0) / equity for s in symbols}

    def fake_price(self, symbol: str) -> Decimal:
        return Decimal(repr(self.closes[symbol][TODAY]))


def start_world(
    tmp_path: Path,
    symbols: list[str],
    cash: str = "100000",
    *,
    unknown: tuple[str, ...] = (),
    at: time = time(15, 45),
    account_kind: AccountKind = "margin",
) -> AlpacaWorld:
    """A started fake with assets, 120 sessions of bars up to the previous session, today's
    prices, and both clocks at ``at`` (15:45) New York on TODAY."""
    fake = FakeAlpaca(cash=Decimal(cash), key=KEY, secret=SECRET, account_kind=account_kind)
    fake.start()
    sessions = xnys_sessions(date(2026, 3, 1), TODAY)
    frame = synthetic_closes(symbols, sessions, seed=11)
    closes = {s: {ts.date(): float(v) for ts, v in frame[s].items()} for s in symbols}
    for symbol in symbols:
        if symbol not in unknown:
            fake.add_asset(symbol)
        fake.set_bars(symbol, {d: p for d, p in closes[symbol].items() if d < TODAY})
        fake.set_price(symbol, Decimal(repr(closes[symbol][TODAY])))
    world = AlpacaWorld(
        fake, SimulatedClock(datetime.combine(TODAY, time(9), NEW_YORK)), tmp_path / "state", closes
    )
    world.at(TODAY, at.hour, at.minute)
    return world
