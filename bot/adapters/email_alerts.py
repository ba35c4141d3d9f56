"""Email channel for alerts: stdlib smtplib and email.message, STARTTLS, SSL or plain.

TLS is verified by default (``ssl.create_default_context``); tests pass their own context to trust
a self-signed certificate. Errors never include the password: smtplib's exceptions quote the
server's reply, which is redacted anyway in case a server echoes what it was sent.
"""

from __future__ import annotations

import hashlib
import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from typing import Literal

from bot.alert_port import Alert, AlertDeliveryError, Severity, one_line, redact

Security = Literal["starttls", "ssl", "none"]
DEFAULT_PORTS: dict[Security, int] = {"starttls": 587, "ssl": 465, "none": 25}


def subject(alert: Alert) -> str:
    """``[bot] title``, with the severity first for warnings and errors so they stand out."""
    prefix = "" if alert.severity is Severity.INFO else f"{alert.severity.value.upper()}: "
    return f"[bot] {prefix}{one_line(alert.title)}"


def body(alert: Alert) -> str:
    """The alert text and a footer that ties the mail back to the tracker."""
    footer = [f"severity: {alert.severity.value}", f"alert: {alert.key}"]
    if alert.strategy:
        footer.insert(1, f"strategy: {alert.strategy}")
    return f"{alert.text.rstrip()}\n\n-- \n" + "\n".join(footer) + "\n"


class EmailChannel:
    """Sends each alert as one plain-text email to every recipient."""

    name: str = "email"

    def __init__(
        self,
        host: str,
        port: int,
        *,
        security: Security = "starttls",
        user: str | None = None,
        password: str | None = None,
        sender: str,
        recipients: Sequence[str],
        timeout: float = 15.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if not recipients:
            msg = "an email channel needs at least one recipient"
            raise ValueError(msg)
        if security not in ("starttls", "ssl", "none"):
            msg = f"SMTP security must be starttls, ssl or none, not {security!r}"
            raise ValueError(msg)
        self._host, self._port, self._security = host, port, security
        self._user, self._password = user, password
        self._sender, self._recipients = sender, tuple(recipients)
        self._timeout = timeout
        self._context = ssl_context

    def __repr__(self) -> str:
        return (
            f"EmailChannel({self._host}:{self._port}, security={self._security},"
            f" user={self._user!r}, recipients={list(self._recipients)})"
        )

    def send(self, alert: Alert) -> None:
        """Connect, secure, log in if a user is set, send; any failure raises AlertDeliveryError."""
        message = self._message(alert)
        try:
            with self._connect() as smtp:
                if self._security == "starttls":
                    smtp.starttls(context=self._tls())
                if self._user:
                    smtp.login(self._user, self._password or "")
                smtp.send_message(message)
        except (smtplib.SMTPException, OSError) as exc:
            raise AlertDeliveryError(self._describe(exc)) from None

    def _connect(self) -> smtplib.SMTP:
        if self._security == "ssl":
            return smtplib.SMTP_SSL(
                self._host, self._port, timeout=self._timeout, context=self._tls()
            )
        return smtplib.SMTP(self._host, self._port, timeout=self._timeout)

    def _tls(self) -> ssl.SSLContext:
        return self._context or ssl.create_default_context()

    def _message(self, alert: Alert) -> EmailMessage:
        message = EmailMessage()
        message["Subject"] = subject(alert)
        message["From"] = self._sender
        message["To"] = ", ".join(self._recipients)
        message["Date"] = formatdate(usegmt=True)
        # Derived from the key: a mail client can fold a repeat (after a crash) into one message.
        digest = hashlib.sha256(alert.key.encode()).hexdigest()[:32]
        domain = parseaddr(self._sender)[1].rpartition("@")[2] or "bot"
        message["Message-ID"] = f"<{digest}@{domain}>"
        message["X-Bot-Alert-Key"] = one_line(alert.key)
        message.set_content(body(alert))
        return message

    def _describe(self, exc: BaseException) -> str:
        detail = one_line(redact(str(exc), [self._password]))
        where = f"{self._host}:{self._port} ({self._security})"
        return f"email via {where} failed: {type(exc).__name__}: {detail or 'no detail'}"
