"""Pure strategy functions: price history and an as-of date in, target weights out."""

from strategies.base import (
    BadPriceError,
    InsufficientHistoryError,
    MissingSymbolError,
    NoDecisionError,
    Strategy,
    StrategyError,
    TargetWeights,
)
from strategies.fixed import FixedWeights
from strategies.inverse_vol import InverseVolatility
from strategies.modified_sharpe import Leg, ModifiedSharpeMix

__all__ = [
    "BadPriceError",
    "FixedWeights",
    "InsufficientHistoryError",
    "InverseVolatility",
    "Leg",
    "MissingSymbolError",
    "ModifiedSharpeMix",
    "NoDecisionError",
    "Strategy",
    "StrategyError",
    "TargetWeights",
]
