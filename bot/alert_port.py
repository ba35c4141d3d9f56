"""What an alert is and the port a channel implements: values only, no delivery.

The channels (``bot/adapters/slack.py``, ``bot/adapters/email_alerts.py``) and the dispatcher
(``bot/alerts.py``) both depend on this module and not on each other; the composition root
(``bot/bootstrap.py``) builds the channels the settings ask for and hands them to the dispatcher.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

REDACTED = "[redacted]"


class Severity(StrEnum):
    """How loudly to say it; channels use it for the subject prefix or the emoji."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class AlertDeliveryError(Exception):
    """A channel could not deliver an alert; the message is safe to log and record (no secrets)."""


@dataclass(frozen=True, slots=True)
class Alert:
    """One message for a human.

    ``key`` is deterministic (e.g. ``"trades:hfea:20260401-ab12cd34"`` or ``"banner:<start iso>"``)
    because it is what makes a restart not repeat an alert already sent. ``strategy`` is ``""`` for
    daemon-wide alerts; ``run_id`` (optional) ties the alert's tracker rows to its cycle.
    """

    key: str
    severity: Severity
    title: str
    text: str
    strategy: str = ""
    run_id: str = ""


class Channel(Protocol):
    """A way to reach a human (Slack, email); ``name`` identifies it in the tracker and health."""

    name: str

    def send(self, alert: Alert) -> None:
        """Deliver once; raise AlertDeliveryError (with no secret in its message) on failure."""
        ...


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """Remove every non-empty secret from ``text``: error text can echo what the client sent."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


def one_line(text: str) -> str:
    """Collapse whitespace: titles go into headers and bold lines, where a newline breaks things."""
    return " ".join(text.split())
