"""Slack incoming-webhook channel for alerts.

The webhook URL *is* the credential (its path holds the token), so it is kept out of the repr and
out of every error message: a transport error's text names the URL, which is why it is replaced by
the exception's type, and a response body is redacted before it is quoted.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import requests

from bot.alert_port import Alert, AlertDeliveryError, Severity, one_line, redact

EMOJI = {
    Severity.INFO: ":information_source:",
    Severity.WARNING: ":warning:",
    Severity.ERROR: ":rotating_light:",
}
BODY_QUOTE_LIMIT = 200


def escape(text: str) -> str:
    """Slack's mrkdwn treats ``&``, ``<`` and ``>`` as control characters; escape them."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_text(alert: Alert) -> str:
    """The message: severity emoji and bold title on the first line, then the body."""
    return f"{EMOJI[alert.severity]} *{escape(one_line(alert.title))}*\n{escape(alert.text)}"


class SlackChannel:
    """Posts each alert as one message to a Slack incoming webhook."""

    name: str = "slack"

    def __init__(
        self, webhook_url: str, *, timeout: float = 10.0, session: requests.Session | None = None
    ) -> None:
        self._url = webhook_url
        self._secrets = (webhook_url, urlsplit(webhook_url).path)
        self._timeout = timeout
        self._session = session or requests.Session()

    def __repr__(self) -> str:
        return f"SlackChannel(webhook_url='{redact(self._url, self._secrets)}')"

    def send(self, alert: Alert) -> None:
        """POST once; a transport error or a non-2xx answer raises AlertDeliveryError."""
        try:
            response = self._session.post(
                self._url,
                json={"text": slack_text(alert)},
                timeout=self._timeout,
                allow_redirects=False,  # a redirect is not a delivery
            )
        except requests.RequestException as exc:
            # ``from None``: the chained exception's text holds the URL.
            msg = f"slack webhook unreachable ({type(exc).__name__})"
            raise AlertDeliveryError(msg) from None
        if not 200 <= response.status_code < 300:
            raise AlertDeliveryError(self._refusal(response))

    def _refusal(self, response: requests.Response) -> str:
        body = one_line(redact(response.text, self._secrets))[:BODY_QUOTE_LIMIT]
        return f"slack webhook answered HTTP {response.status_code}: {body or '(no body)'}"
