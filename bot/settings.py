"""Environment settings (pydantic-settings; ``.env`` supported): state, Alpaca keys, endpoints.

Secrets are ``SecretStr``: they print as ``**********`` in reprs, logs and errors. alpaca-py reads
no environment variable itself, so this is the only place keys come from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PAPER_URL = "https://paper-api.alpaca.markets"
LIVE_URL = "https://api.alpaca.markets"


class Settings(BaseSettings):
    """Settings read from the environment (and ``.env``); tests pass values explicitly."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    state_dir: Path = Field(default=Path("state"), validation_alias="BOT_STATE_DIR")
    api_key_id: SecretStr | None = Field(default=None, validation_alias="APCA_API_KEY_ID")
    api_secret_key: SecretStr | None = Field(default=None, validation_alias="APCA_API_SECRET_KEY")
    base_url: str | None = Field(default=None, validation_alias="APCA_API_BASE_URL")
    data_url: str | None = Field(default=None, validation_alias="APCA_API_DATA_URL")
    allow_live: bool = Field(default=False, validation_alias="BOT_ALLOW_LIVE_TRADING")

    slack_webhook_url: SecretStr | None = Field(default=None, validation_alias="SLACK_WEBHOOK_URL")
    smtp_host: str | None = Field(default=None, validation_alias="SMTP_HOST")
    smtp_port: int | None = Field(default=None, validation_alias="SMTP_PORT")
    smtp_user: str | None = Field(default=None, validation_alias="SMTP_USER")
    smtp_password: SecretStr | None = Field(default=None, validation_alias="SMTP_PASSWORD")
    smtp_security: Literal["starttls", "ssl", "none"] = Field(
        default="starttls", validation_alias="SMTP_SECURITY"
    )
    alert_email_from: str | None = Field(default=None, validation_alias="ALERT_EMAIL_FROM")
    alert_email_to: str | None = Field(default=None, validation_alias="ALERT_EMAIL_TO")

    heartbeat_file: Path | None = Field(default=None, validation_alias="BOT_HEARTBEAT_FILE")
    health_port: int | None = Field(default=None, validation_alias="BOT_HEALTH_PORT")

    @property
    def tracker_path(self) -> Path:
        """The tracker database."""
        return self.state_dir / "tracker.sqlite3"
