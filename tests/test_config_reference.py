"""docs/configuration.md is generated from the config models and must not go stale."""

from __future__ import annotations

from pathlib import Path

from bot.config_reference import SECTIONS, render

PAGE = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"


def test_the_committed_reference_is_what_the_models_say() -> None:
    assert PAGE.read_text() == render(), (
        "docs/configuration.md is stale: python -m bot.config_reference > docs/configuration.md"
    )


def test_every_key_of_every_section_is_listed() -> None:
    page = render()
    for _, model in SECTIONS:
        for name in model.model_fields:
            assert f"| `{name}` |" in page or name == "kind", (model.__name__, name)
    assert "| `share` | float | **required** | > 0.0, ≤ 1.0 |" in page
