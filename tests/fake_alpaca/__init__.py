"""A fake Alpaca server for offline integration tests of the real alpaca-py clients.

``FakeAlpaca`` serves the Trading API v2 and the stock Market Data API v2 on one loopback port.
Tests point ``TradingClient(..., url_override=fake.url)`` and
``StockHistoricalDataClient(..., url_override=fake.url)`` at it; nothing in alpaca-py is mocked.

The model, in one paragraph: one paper account (margin, cash or IRA: cash, margin multiplier,
account flags) holds signed positions in assets the test declares; market orders fill at the price
the test sets, at the fake's own clock, which decides with the XNYS calendar whether the market is
open. Orders pass Alpaca's documented checks (client-order-id uniqueness, qty/notional,
fractionability, shorting, wash trades, held quantity, buying power valued with Alpaca's
market-buy collar) and then follow a fill policy. Requests are logged and faults can be scripted
per route. Details live in the modules:

- :mod:`.broker`: state, accounting model (equity, buying power), test controls;
- :mod:`.rules` and :mod:`.tickets`: the pre-trade checks and their exact error bodies;
- :mod:`.execution`: order lifecycle and fill policies;
- :mod:`.shapes`, :mod:`.hours`, :mod:`.market_data`: JSON shapes, clock/calendar, bars;
- :mod:`.routes` and :mod:`.server`: endpoints, HTTP framing, request log, faults;
- :mod:`.corruptions`: what the ``bad_json_fields`` fault changes in each route's answer.
"""

from .broker import AccountKind, FakeBroker, FillPolicy, PartialFill
from .model import FakeAsset, FakeFill, FakeOrder, FakePosition
from .server import FAULTS, FakeAlpaca, Fault, RecordedRequest

__all__ = [
    "FAULTS",
    "AccountKind",
    "FakeAlpaca",
    "FakeAsset",
    "FakeBroker",
    "FakeFill",
    "FakeOrder",
    "FakePosition",
    "Fault",
    "FillPolicy",
    "PartialFill",
    "RecordedRequest",
]
