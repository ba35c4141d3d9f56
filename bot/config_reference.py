"""The configuration reference (docs/configuration.md), generated from the config models.

    python -m bot.config_reference > docs/configuration.md

Every key of a strategy file and of a portfolio file, with its type, default, allowed range and
the note written beside it in ``bot/config.py``; ``tests/test_config_reference.py`` fails when
the committed page and the models differ, so the page cannot go stale.
"""

from __future__ import annotations

import inspect
import re
import sys
import types
import typing
from collections.abc import Iterator
from typing import Any

from annotated_types import Ge, Gt, Le, Lt, MaxLen, MinLen
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from bot import config as strategy_config
from bot.portfolio import config as portfolio_config

HEADER = """# Configuration reference

Generated from the config models (`python -m bot.config_reference > docs/configuration.md`;
a test fails when this page and the code differ). A strategy file (`config/hfea.toml` …) holds
the top-level keys and the sections below; a portfolio file (`config/portfolio.toml`) names
strategy files and their shares. Unknown keys are refused (a typo is an error, not a default).
"""

SECTIONS: list[tuple[str, type[BaseModel]]] = [
    ("Strategy file: top level", strategy_config.BotConfig),
    ('[strategy] kind = "fixed"', strategy_config.FixedStrategyConfig),
    ('[strategy] kind = "inverse_volatility"', strategy_config.InverseVolatilityConfig),
    ('[strategy] kind = "modified_sharpe"', strategy_config.ModifiedSharpeConfig),
    ("[strategy] legs = [{...}] (modified_sharpe)", strategy_config.LegConfig),
    ('[trigger] kind = "calendar"', strategy_config.CalendarTriggerConfig),
    ('[trigger] kind = "drift"', strategy_config.DriftTriggerConfig),
    ('[trigger] kind = "relative_drift"', strategy_config.RelativeDriftTriggerConfig),
    ("[sizing]", strategy_config.SizingConfig),
    ('[broker] kind = "simulated"', strategy_config.SimulatedBrokerConfig),
    ('[broker] kind = "alpaca"', strategy_config.AlpacaBrokerConfig),
    ("[execution]", strategy_config.ExecutionConfig),
    ("[checks]", strategy_config.ChecksConfig),
    ("[market]", strategy_config.MarketConfig),
    ("[clock]", strategy_config.ClockConfig),
    ("Portfolio file: top level", portfolio_config.PortfolioConfig),
    ("[[sleeves]] (portfolio file)", portfolio_config.SleeveConfig),
]
BOUNDS = ((Ge, "≥", "ge"), (Gt, ">", "gt"), (Le, "≤", "le"), (Lt, "<", "lt"))
NESTED = {"strategy", "trigger", "sizing", "broker", "execution", "checks", "market", "clock"}


def render() -> str:
    """The whole page."""
    parts = [HEADER]
    for title, model in SECTIONS:
        parts.append(f"## {title}\n")
        doc = inspect.getdoc(model) or ""
        parts.append(f"{' '.join(doc.split())}\n")
        parts.append("| key | type | default | allowed | note |")
        parts.append("|---|---|---|---|---|")
        notes = _comments(model)
        for name, info in model.model_fields.items():
            if name == "kind" and _is_literal_tag(info):
                continue
            parts.append(
                f"| `{name}` | {_type(info.annotation)} | {_default(name, info)} | "
                f"{_allowed(info)} | {notes.get(name, '')} |"
            )
        parts.append("")
    return "\n".join(parts)


def _is_literal_tag(info: FieldInfo) -> bool:
    return (
        typing.get_origin(info.annotation) is typing.Literal
        and len(typing.get_args(info.annotation)) == 1
    )


def _comments(model: type[BaseModel]) -> dict[str, str]:
    """The ``# note`` written beside each field in the model's source."""
    notes = {}
    for line in inspect.getsource(model).splitlines():
        found = re.match(r"\s+(\w+): .*?#\s*(.+)$", line)
        if found and "noqa" not in found.group(2):
            notes[found.group(1)] = found.group(2).replace("|", "\\|")
    return notes


def _type(annotation: Any) -> str:  # noqa: PLR0911 - one answer per kind of type
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type(args[0])
    if origin is typing.Literal:
        return " \\| ".join(f'`"{a}"`' if isinstance(a, str) else f"`{a}`" for a in args)
    if origin in (typing.Union, types.UnionType) and all(_kind(a) for a in args):
        return "section, `kind` = " + " \\| ".join(f'`"{_kind(a)}"`' for a in args)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type(a) for a in args if a is not type(None)) + (
            " (optional)" if type(None) in args else ""
        )
    if origin is list:
        return f"list of {_type(args[0])}"
    if origin is dict:
        return f"table {_type(args[0])} → {_type(args[1])}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "section"
    if annotation is str:
        return "string"
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def _kind(model: Any) -> str | None:
    """The ``kind`` tag of a section model, if it has one."""
    if typing.get_origin(model) is typing.Annotated:
        model = typing.get_args(model)[0]
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return None
    field = model.model_fields.get("kind")
    if field is None or typing.get_origin(field.annotation) is not typing.Literal:
        return None
    return str(typing.get_args(field.annotation)[0])


def _default(name: str, info: FieldInfo) -> str:
    if name in NESTED:
        return "see below"
    if info.default_factory is not None:
        value = info.default_factory()  # type: ignore[call-arg]
        return "see below" if isinstance(value, BaseModel) else f"`{value!r}`"
    if info.default is PydanticUndefined:
        return "**required**"
    if info.default is None:
        return "none"
    if isinstance(info.default, str):
        return f'`"{info.default}"`'
    return f"`{info.default!r}`"


def _allowed(info: FieldInfo) -> str:
    bounds = []
    for item in _metadata(info):
        for kind, sign, attribute in BOUNDS:
            if isinstance(item, kind):
                bounds.append(f"{sign} {getattr(item, attribute)}")
        if isinstance(item, MinLen):
            bounds.append(f"at least {item.min_length}")
        if isinstance(item, MaxLen):
            bounds.append(f"at most {item.max_length}")
        pattern = getattr(item, "pattern", None)
        if isinstance(pattern, str):
            bounds.append(f"`{pattern}`")
    return ", ".join(bounds)


def _metadata(info: FieldInfo) -> Iterator[Any]:
    yield from info.metadata
    annotation = info.annotation
    if typing.get_origin(annotation) is typing.Annotated:
        for item in typing.get_args(annotation)[1:]:
            yield from getattr(item, "metadata", [item])


def main() -> int:
    """Print the page."""
    sys.stdout.write(render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
