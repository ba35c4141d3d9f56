"""Environment settings (pydantic-settings; ``.env`` supported): state, Alpaca keys, endpoints.

Secrets are ``SecretStr``: they print as ``**********`` in reprs, logs and errors. alpaca-py reads
no environment variable itself, so this is the only place keys come from.

Alpaca's key id and secret go out as HTTP headers, so they must be printable ASCII without
whitespace: anything else (a "é" or "€" pasted by mistake, a trailing newline) is refused here
with a message naming the variable, instead of a UnicodeEncodeError deep inside requests.

An empty (or blank) value counts as unset, for every variable and wherever it comes from: the
environment, ``.env`` or keyword arguments. ``deploy/bot.env.example`` lists every variable with
an empty value, so a copy with only the keys filled in must behave exactly like an environment
that sets only the keys. Any invalid setting is a :class:`~bot.errors.ConfigError` (one line,
the variable's name and what is wrong, never the value): pydantic's own message would quote it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import ConfigError

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
    # The read-only dashboard beside the daemon (``bot run``) and ``bot dashboard``'s token.
    dashboard_port: int | None = Field(default=None, validation_alias="BOT_DASHBOARD_PORT")
    dashboard_host: str = Field(default="127.0.0.1", validation_alias="BOT_DASHBOARD_HOST")
    dashboard_token: SecretStr | None = Field(default=None, validation_alias="BOT_DASHBOARD_TOKEN")

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            # 'from None': pydantic's error (in __context__) holds the input, maybe a secret.
            raise ConfigError(settings_problem(exc)) from None

    @model_validator(mode="before")
    @classmethod
    def _empty_is_unset(cls, values: object) -> object:
        """Drop every empty or blank value, so the field keeps its default (None, or e.g.
        ``starttls``): ``SLACK_WEBHOOK_URL=`` means no Slack, not an invalid URL."""
        if not isinstance(values, dict):
            return values
        return {name: value for name, value in values.items() if not _blank(value)}

    @field_validator("api_key_id", "api_secret_key", mode="before")
    @classmethod
    def _header_safe(cls, value: object) -> object:
        """Empty means unset; otherwise printable ASCII with no whitespace (HTTP header safe)."""
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if not isinstance(raw, str):
            return value
        if raw == "":
            return None
        problem = key_problem(raw)
        if problem is not None:
            raise ValueError(problem)
        return value

    @property
    def tracker_path(self) -> Path:
        """The tracker database."""
        return self.state_dir / "tracker.sqlite3"


def _blank(value: object) -> bool:
    raw = value.get_secret_value() if isinstance(value, SecretStr) else value
    return isinstance(raw, str) and raw.strip() == ""


def key_problem(value: str) -> str | None:
    """Why ``value`` cannot be an Alpaca key or secret, without quoting it; None if it can."""
    rule = "an Alpaca key is printable ASCII without whitespace"
    if any(c.isspace() for c in value):
        return f"contains whitespace (a stray space or newline?): {rule}"
    if any(not c.isascii() for c in value):
        return f"contains a non-ASCII character (pasted from a formatted page?): {rule}"
    if not value.isprintable():
        return f"contains a control character: {rule}"
    return None


_SECRET_PARTS = ("KEY", "SECRET", "PASSWORD", "WEBHOOK", "TOKEN")


def settings_problem(exc: ValidationError) -> str:
    """One line naming each invalid variable and what is wrong, never its value."""
    problems = []
    for error in exc.errors(include_url=False, include_context=False, include_input=False):
        name = ".".join(str(part) for part in error["loc"]) or "settings"
        if error["type"] == "value_error":  # our own validators: they never quote the value
            message = error["msg"].removeprefix("Value error, ")
        elif any(part in name.upper() for part in _SECRET_PARTS):
            message = "is not valid"  # pydantic's text may quote part of the input
        else:
            message = f"is invalid: {error['msg']}"
        problems.append(f"{name} {message}")
    return "invalid setting: " + "; ".join(problems)
