"""Config files: the shipped ones load, and every malformation is one clear ConfigError."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.bootstrap import build_runtime
from bot.config import load_config
from bot.errors import ConfigError
from bot.triggers import CalendarRule, Schedule

CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"
HFEA = """
name = "hfea"
[strategy]
kind = "fixed"
weights = { UPRO = 0.55, TMF = 0.45 }
[trigger]
kind = "calendar"
schedule = "quarter_start"
"""


def write(tmp_path: Path, text: str) -> Path:
    """Write a config file and return its path."""
    path = tmp_path / "strategy.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("name", ["all_in", "hfea", "uisx3", "max_yield", "demo"])
def test_every_shipped_config_loads_and_builds(name: str) -> None:
    """Each file in config/ validates and builds a strategy runtime."""
    config = load_config(CONFIG_DIR / f"{name}.toml")
    runtime = build_runtime(config)
    assert runtime.name == config.name
    assert runtime.strategy.symbols


def test_shipped_strategies_match_the_seeds() -> None:
    """HFEA is 55/45 quarterly; All In is 8 funds + 15% USFR with a 1 pp corridor."""
    hfea = build_runtime(load_config(CONFIG_DIR / "hfea.toml"))
    all_in = load_config(CONFIG_DIR / "all_in.toml")
    assert hfea.trigger == CalendarRule(Schedule.QUARTER_START)
    assert set(hfea.strategy.symbols) == {"UPRO", "TMF"}
    assert all_in.strategy.kind == "inverse_volatility"
    assert len(all_in.strategy.basket) == 8  # type: ignore[union-attr]
    assert all_in.strategy.fixed == {"USFR": 0.15}  # type: ignore[union-attr]
    assert all_in.trigger.kind == "drift"
    assert all_in.trigger.width == 0.01  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (HFEA + "capital_fracton = 0.5\n", "capital_fracton: unknown key"),
        (HFEA.replace("0.45", "0.40"), "sum to 0.95, not 1"),
        (HFEA.replace("0.45", "nan"), "weights.TMF: Input should be a finite number"),
        (HFEA + "[broker]\ninitial_cash = inf\n", "initial_cash: Input should be a finite"),
        (
            HFEA + "[sizing]\nmin_order_usd = inf\n",
            "sizing.min_order_usd: Input should be a finite",
        ),
        (HFEA.replace('"quarter_start"', '"weekly"'), "trigger.calendar.schedule"),
        (HFEA.replace('kind = "fixed"', 'kind = "magic"'), "strategy"),
        (HFEA.replace('name = "hfea"', 'name = "HFEA with spaces"'), "name"),
        (HFEA.replace("UPRO", "upro"), "weights.upro"),
        (HFEA + "[sizing]\ncapital_fraction = 1.5\n", "sizing.capital_fraction"),
        (HFEA + '[market]\nsource = "csv"\n', "needs market.data_dir"),
        (HFEA + '[clock]\nkind = "simulated"\n', "needs clock.start and clock.end"),
        ("name = 'x'\n[strategy\n", "not valid TOML"),
    ],
)
def test_malformed_configs_give_one_clear_error(tmp_path: Path, text: str, expected: str) -> None:
    """Typos, bad sums, unknown values and broken TOML are refused naming the file and field."""
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in str(info.value)
    assert expected in str(info.value)


def test_a_short_leg_needs_allow_shorts(tmp_path: Path) -> None:
    """A negative-multiplier leg without sizing.allow_shorts is refused, naming the symbol."""
    text = """
name = "my"
[strategy]
kind = "modified_sharpe"
legs = [{ name = "ziv", symbol = "VXZ", multiplier = -1.0 }, { name = "ubt", symbol = "UBT" }]
[trigger]
kind = "calendar"
schedule = "twice_monthly"
"""
    with pytest.raises(ConfigError, match=r"VXZ: set sizing\.allow_shorts = true"):
        load_config(write(tmp_path, text))
    assert load_config(write(tmp_path, text + "[sizing]\nallow_shorts = true\n")).name == "my"


def test_inverse_vol_weights_must_sum_to_one(tmp_path: Path) -> None:
    """basket_weight 0.85 with a 0.10 sleeve is a typo, not a strategy."""
    text = """
name = "allin"
[strategy]
kind = "inverse_volatility"
basket = ["TECL", "TMF"]
fixed = { USFR = 0.10 }
[trigger]
kind = "drift"
"""
    with pytest.raises(ConfigError, match=r"sum to 0\.95"):
        load_config(write(tmp_path, text))


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    """A config path that does not exist gives a one-line error with the path."""
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")


def test_a_latin_1_config_is_one_line_naming_the_byte(tmp_path: Path) -> None:
    """'é' saved as Latin-1 is the single byte 0xe9: it is 18 bytes into the file
    (``description = "Caf`` is 11 + 3 + 1 + 3 bytes)."""
    path = tmp_path / "latin1.toml"
    path.write_bytes('description = "Café"\n'.encode("latin-1"))

    with pytest.raises(ConfigError) as caught:
        load_config(path)

    assert str(caught.value) == (
        f"config file {path} is not UTF-8 text (byte 0xe9 at offset 18): "
        "TOML files must be saved as UTF-8"
    )


def test_a_binary_file_or_a_directory_is_one_clear_line(tmp_path: Path) -> None:
    """A PNG given as config, or a directory: what is wrong, not an errno or a traceback."""
    png = tmp_path / "chart.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")

    with pytest.raises(ConfigError, match=r"is not UTF-8 text \(byte 0x89 at offset 0\)"):
        load_config(png)
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    assert (
        str(caught.value) == f"config file {tmp_path} is a directory: give the path of a .toml file"
    )
    assert "Errno" not in str(caught.value)


def test_a_utf8_file_with_a_byte_order_mark_loads(tmp_path: Path) -> None:
    """Notepad's UTF-8 adds a BOM: still UTF-8, still the same config."""
    text = (CONFIG_DIR / "hfea.toml").read_text()
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())

    assert load_config(path) == load_config(CONFIG_DIR / "hfea.toml")


def test_a_negative_fixed_weight_without_allow_shorts_is_refused_at_load(tmp_path: Path) -> None:
    """A short written as a negative fixed weight needs the same permission as a short leg."""
    path = tmp_path / "short.toml"
    path.write_text(
        'name = "s"\n[strategy]\nkind = "fixed"\nweights = { UPRO = 1.2, TMF = -0.2 }\n'
        '[trigger]\nkind = "calendar"\nschedule = "quarter_start"\n'
    )
    with pytest.raises(ConfigError, match=r"negative weights short TMF: set sizing\.allow_shorts"):
        load_config(path)
    path.write_text(path.read_text() + "[sizing]\nallow_shorts = true\n")
    assert load_config(path).sizing.allow_shorts
