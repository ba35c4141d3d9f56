"""Environment settings (pydantic-settings): where state lives. Secrets arrive in a later layer."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Settings read from the environment (and ``.env``); tests pass values explicitly."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    state_dir: Path = Field(default=Path("state"), validation_alias="BOT_STATE_DIR")

    @property
    def tracker_path(self) -> Path:
        """The tracker database."""
        return self.state_dir / "tracker.sqlite3"
