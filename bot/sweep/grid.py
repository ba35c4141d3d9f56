"""The grid of a sweep: ``KEY=VALUES`` specs parsed against the config schema, and its points.

Pure: nothing here reads a file or runs a backtest. A key names a numeric or choice setting of
the strategy, trigger or sizing section (``strategy.lookback_days``, ``trigger.width``,
``sizing.over_capacity``); values are a comma list (``1.5,2,2.5,3``), an inclusive range
(``50..80``) or a stepped one (``0.01..0.05:0.01``), and ``none`` for a setting that may be
left unset (``strategy.max_held_legs=none,2``). Every point is validated by the same
schema as a config file, so a value the file would refuse is refused here, before any work.
"""

from __future__ import annotations

import enum
import itertools
import math
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from bot.config import BotConfig, describe_errors
from bot.errors import ConfigError

Value = bool | int | float | str | None | list[Any]
"""A setting's value: a number, yes/no, a choice or none from a ``--grid`` spec; a list (of
legs) only from Python (``plan.plan_points``: the calibration's families)."""
SECTIONS = ("strategy", "trigger", "sizing")
PLAIN: dict[object, type] = {bool: bool, int: int, float: float}
MAX_POINTS = 1_000_000  # a typo such as 1..100000 must not start a week of work


@dataclass(frozen=True, slots=True)
class Axis:
    """One varying setting and its values, in the order given."""

    key: str  # "section.field", e.g. "strategy.f"
    values: tuple[Value, ...]


@dataclass(frozen=True, slots=True)
class Point:
    """One combination of the grid: its position in the table and the settings it changes."""

    index: int
    settings: tuple[tuple[str, Value], ...]

    def label(self) -> str:
        """``strategy.f=2.5 strategy.lookback_days=60``, for messages."""
        return " ".join(f"{key}={value}" for key, value in self.settings)


@dataclass(frozen=True, slots=True)
class Grid:
    """Every combination of the axes; the first axis varies slowest (as nested loops)."""

    axes: tuple[Axis, ...]

    @property
    def keys(self) -> tuple[str, ...]:
        """The varying settings, in the order given."""
        return tuple(axis.key for axis in self.axes)

    @property
    def size(self) -> int:
        """The number of points (the product of the axes' lengths)."""
        return math.prod(len(axis.values) for axis in self.axes)

    def points(self) -> tuple[Point, ...]:
        """Every point, numbered from 0 in table order."""
        combos = itertools.product(*(axis.values for axis in self.axes))
        return tuple(
            Point(i, tuple(zip(self.keys, combo, strict=True))) for i, combo in enumerate(combos)
        )

    def describe(self) -> str:
        """``strategy.lookback_days (31 values) × strategy.f (4 values)``."""
        return " × ".join(f"{a.key} ({len(a.values)} values)" for a in self.axes)


def parse_grid(specs: Sequence[str], config: BotConfig) -> Grid:
    """The grid the ``--grid KEY=VALUES`` specs describe on ``config``.

    Raises ConfigError naming the spec for an empty grid, a malformed spec, an unknown key, a
    key given twice, a setting that is neither a number nor a choice, or a value its type
    refuses; ``validate_points`` then holds every combination to the whole config schema."""
    if not specs:
        msg = "the grid is empty: give at least one --grid KEY=VALUES (e.g. strategy.f=2,2.5,3)"
        raise ConfigError(msg)
    axes: list[Axis] = []
    for spec in specs:
        key, sep, text = spec.partition("=")
        key = key.strip()
        if not sep or not key or not text.strip():
            msg = f"--grid {spec!r}: expected KEY=VALUES, e.g. strategy.f=1.5,2,2.5"
            raise ConfigError(msg)
        if key in (a.key for a in axes):
            msg = f"--grid {key} is given twice: list all its values in one --grid"
            raise ConfigError(msg)
        kind = setting_kind(config, key)
        axes.append(Axis(key, _values(key, text, kind, nullable=_nullable(config, key))))
    grid = Grid(tuple(axes))
    if grid.size > MAX_POINTS:
        msg = f"the grid has {grid.size:,} points, more than {MAX_POINTS:,}: narrow it"
        raise ConfigError(msg)
    return grid


def config_with(base: Mapping[str, Any], settings: Sequence[tuple[str, Value]]) -> BotConfig:
    """``base`` (a config as data, ``BotConfig.model_dump()``) with ``settings`` changed,
    validated like a config file; a refusal is one ConfigError naming the settings."""
    raw = {name: dict(part) if isinstance(part, Mapping) else part for name, part in base.items()}
    for key, value in settings:
        section, field = key.split(".", 1)
        raw[section][field] = value
    try:
        return BotConfig.model_validate(raw)
    except ValidationError as exc:
        where = " ".join(f"{key}={value}" for key, value in settings)
        msg = f"grid point {where}: the config schema refuses it: {describe_errors(exc)}"
        raise ConfigError(msg) from exc


def validate_points(base: Mapping[str, Any], points: Sequence[Point]) -> None:
    """Hold every point to the config schema before any backtest runs (a combination can be
    refused where each value alone is fine, e.g. weights that no longer sum to 1)."""
    for point in points:
        config_with(base, point.settings)


def setting_kind(config: BotConfig, key: str) -> type | tuple[Value, ...]:
    """``int``, ``float`` or ``bool`` for a numeric or yes/no setting, or the tuple of a
    choice's allowed values; ConfigError for any other key, listing the ones that can vary."""
    section, _, field = key.partition(".")
    if section not in SECTIONS or not field:
        msg = f"--grid key {key!r}: expected SECTION.SETTING with SECTION one of {SECTIONS}"
        raise ConfigError(msg)
    model = getattr(config, section)
    kinds = sweepable(model)
    if field not in kinds:
        what = getattr(model, "kind", section)
        msg = (
            f"--grid key {key!r} is not a numeric or choice setting of this config's "
            f"[{section}] ({what}); those are: {', '.join(f'{section}.{k}' for k in kinds)}"
        )
        raise ConfigError(msg)
    return kinds[field]


def sweepable(model: BaseModel) -> dict[str, type | tuple[Value, ...]]:
    """The settings of one config section that a grid can vary, with their kind: numbers,
    yes/no and choices; not ``kind`` (it changes the section's schema), not lists or tables."""
    kinds: dict[str, type | tuple[Value, ...]] = {}
    for name, info in type(model).model_fields.items():
        annotation = info.annotation
        if name == "kind":
            continue
        if isinstance(annotation, types.UnionType):  # an optional number: X | None
            options = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = options[0] if len(options) == 1 else annotation
        plain = PLAIN.get(annotation)
        if plain is not None:
            kinds[name] = plain
        elif typing.get_origin(annotation) is Literal:
            kinds[name] = tuple(typing.get_args(annotation))
        elif isinstance(annotation, type) and issubclass(annotation, enum.Enum):
            kinds[name] = tuple(member.value for member in annotation)
    return kinds


def _nullable(config: BotConfig, key: str) -> bool:
    """Whether the setting may be unset (``X | None``): then ``none`` is one of its values."""
    section, _, field = key.partition(".")
    annotation = type(getattr(config, section)).model_fields[field].annotation
    return isinstance(annotation, types.UnionType) and type(None) in typing.get_args(annotation)


def _values(
    key: str, text: str, kind: type | tuple[Value, ...], *, nullable: bool = False
) -> tuple[Value, ...]:
    values: list[Value] = []
    for token in (t.strip() for t in text.split(",")):
        if not token:
            msg = f"--grid {key}: an empty value in {text!r}"
            raise ConfigError(msg)
        if nullable and token.lower() == "none":
            values.append(None)
            continue
        values += _range(key, token, kind) if ".." in token else [_one(key, token, kind)]
    if len(set(values)) != len(values):
        msg = f"--grid {key}: a value is listed twice in {text!r}"
        raise ConfigError(msg)
    return tuple(values)


def _one(key: str, token: str, kind: type | tuple[Value, ...]) -> Value:
    if isinstance(kind, tuple):
        for choice in kind:
            if str(choice) == token:
                return choice
        msg = f"--grid {key}: {token!r} is not one of {', '.join(str(c) for c in kind)}"
        raise ConfigError(msg)
    if kind is bool:
        if token.lower() not in ("true", "false"):
            msg = f"--grid {key}: {token!r} is not true or false"
            raise ConfigError(msg)
        return token.lower() == "true"
    try:
        number = float(token)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        msg = f"--grid {key}: {token!r} is not a finite number"
        raise ConfigError(msg)
    if kind is int:
        if number != int(number):
            msg = f"--grid {key}: {token!r} is not a whole number ({key} is an integer)"
            raise ConfigError(msg)
        return int(number)
    return number


def _range(key: str, token: str, kind: type | tuple[Value, ...]) -> list[Value]:
    """``A..B`` (step 1) or ``A..B:STEP``, both ends included; the values are A + i·STEP
    rounded to 12 significant digits, so 0.1 steps give 0.3, not 0.30000000000000004."""
    bounds, _, step_text = token.partition(":")
    first_text, _, last_text = bounds.partition("..")
    if kind not in (int, float) or not first_text or not last_text:
        msg = f"--grid {key}: {token!r}: ranges (A..B or A..B:STEP) are for numeric settings"
        raise ConfigError(msg)
    first, last = (_number(key, t, kind) for t in (first_text, last_text))
    step = _number(key, step_text, kind) if step_text else 1.0
    if step <= 0 or last < first:
        msg = f"--grid {key}: {token!r} is an empty range (A..B:STEP needs A ≤ B and STEP > 0)"
        raise ConfigError(msg)
    count = math.floor((last - first) / step + 1e-9) + 1
    if count > MAX_POINTS:
        msg = f"--grid {key}: {token!r} has more than {MAX_POINTS:,} values"
        raise ConfigError(msg)
    if kind is int:
        return [round(first + i * step) for i in range(count)]
    return [float(f"{first + i * step:.12g}") for i in range(count)]


def _number(key: str, token: str, kind: type | tuple[Value, ...]) -> float:
    """A range's bound or step: ``_one``'s number (a numeric kind never gives anything else)."""
    value = _one(key, token.strip(), kind)
    assert isinstance(value, int | float)
    return float(value)
