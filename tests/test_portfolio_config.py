"""The portfolio file: the shipped one loads; every mistake is one error naming the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.portfolio.config import is_portfolio_file, load_portfolio

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, body: str) -> Path:
    for name in ("hfea", "all_in"):
        (tmp_path / f"{name}.toml").write_text((ROOT / "config" / f"{name}.toml").read_text())
    path = tmp_path / "portfolio.toml"
    path.write_text(body)
    return path


def test_the_shipped_portfolio_is_the_four_seeds_summing_to_one() -> None:
    path = ROOT / "config" / "portfolio.toml"
    loaded = load_portfolio(path)
    assert is_portfolio_file(path)
    assert not is_portfolio_file(ROOT / "config" / "hfea.toml")
    assert [s.name for s in loaded.strategies] == ["hfea", "uisx3", "all_in", "max_yield"]
    assert [s.share for s in loaded.config.sleeves] == [0.40, 0.25, 0.20, 0.15]


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (
            'name = "p"\n[[sleeves]]\nconfig = "hfea.toml"\nshare = 0.5\n'
            '[[sleeves]]\nconfig = "all_in.toml"\nshare = 0.4\n',
            "sum to 0.9, not 1",
        ),
        (
            'name = "p"\n[[sleeves]]\nconfig = "hfea.toml"\nshare = 0.5\n'
            '[[sleeves]]\nconfig = "hfea.toml"\nshare = 0.5\n',
            "two strategies are named hfea",
        ),
        (
            'name = "hfea"\n[[sleeves]]\nconfig = "hfea.toml"\nshare = 1.0\n',
            "may not be named 'hfea'",
        ),
        (  # a top-level key written below a [[sleeves]] table belongs to that sleeve
            'name = "p"\n[[sleeves]]\nconfig = "hfea.toml"\nshare = 1.0\nmin_order_usd = 2\n',
            "sleeves.0.min_order_usd: unknown key",
        ),
        ('name = "p"\n[[sleeves]]\nconfig = "nope.toml"\nshare = 1.0\n', "nope.toml not found"),
    ],
)
def test_a_wrong_portfolio_is_one_error_naming_the_problem(
    tmp_path: Path, body: str, says: str
) -> None:
    with pytest.raises(ConfigError, match=says.replace("(", r"\(").replace(".", r"\.")):
        load_portfolio(write(tmp_path, body))
