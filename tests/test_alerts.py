"""Alert delivery against real servers: aiosmtpd for email (plain, AUTH, STARTTLS, SSL) and a
local ThreadingHTTPServer as the Slack webhook. Dedupe across restarts, retries with backoff,
no blocking, and no secret in the tracker, the logs or the errors."""

from __future__ import annotations

import email
import email.policy
import json
import shutil
import socket
import sqlite3
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage, Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from structlog.testing import capture_logs

from bot.adapters.email_alerts import EmailChannel
from bot.adapters.slack import SlackChannel
from bot.alerts import (
    Alert,
    AlertDeliveryError,
    AlertDispatcher,
    Channel,
    Severity,
    channel_health,
)
from bot.bootstrap import channels_from_settings
from bot.errors import ConfigError
from bot.settings import Settings
from bot.tracker import EventKind, Tracker

TOKEN = "T0SECRET/B0SECRET/xoxbSECRETtoken123"
PASSWORD = "hunter2-very-secret"
NOW = datetime(2026, 4, 1, 19, 45, tzinfo=UTC)


def alert(key: str = "trades:hfea:20260401-ab12cd34", **kwargs: Any) -> Alert:
    values: dict[str, Any] = {
        "severity": Severity.INFO,
        "title": "hfea traded",
        "text": "UPRO 55% -> 55%\nTMF 45% -> 45%",
        "strategy": "hfea",
        "run_id": "20260401-ab12cd34",
    }
    values.update(kwargs)
    return Alert(key=key, **values)


class FixedClock:
    """A clock that never moves."""

    def now(self) -> datetime:
        return NOW

    def sleep_until(self, moment: datetime) -> None:
        pass


@pytest.fixture
def tracker(tmp_path: Path) -> Iterator[Tracker]:
    tracker = Tracker(tmp_path / "t.sqlite3")
    yield tracker
    tracker.close()


# --- a real webhook server ---------------------------------------------------------------------


@dataclass
class Webhook:
    """A local HTTP server standing in for Slack: scripted statuses, an optional gate."""

    statuses: list[int] = field(default_factory=list)  # answered in order, then 200
    requests: list[dict[str, Any]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    gate: threading.Event | None = None  # when set, each request waits for it
    arrived: threading.Event = field(default_factory=threading.Event)
    echo_path: bool = False  # an error body that quotes the request path (the token)
    url: str = ""


def _handler(hook: Webhook) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            hook.arrived.set()
            if hook.gate is not None:
                hook.gate.wait(timeout=10)  # if send() blocked, this times out and the test fails
            payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            hook.requests.append(payload)
            hook.paths.append(self.path)
            status = hook.statuses.pop(0) if hook.statuses else 200
            text = f"no_service {self.path}" if hook.echo_path else ("ok" if status == 200 else "")
            body = text.encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def webhook() -> Iterator[Callable[..., Webhook]]:
    servers: list[ThreadingHTTPServer] = []

    def start(**kwargs: Any) -> Webhook:
        hook = Webhook(**kwargs)
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(hook))
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        hook.url = f"http://127.0.0.1:{server.server_address[1]}/services/{TOKEN}"
        return hook

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def slack(hook: Webhook) -> SlackChannel:
    session = requests.Session()
    session.trust_env = False  # no proxy from the environment between us and 127.0.0.1
    return SlackChannel(hook.url, timeout=15, session=session)


# --- a real SMTP server ------------------------------------------------------------------------


@dataclass
class Mailbox:
    """What the local SMTP server received, and with which login."""

    port: int = 0
    messages: list[Message] = field(default_factory=list)
    envelopes: list[tuple[str | None, list[str]]] = field(default_factory=list)
    logins: list[LoginPassword | None] = field(default_factory=list)
    tls: list[bool] = field(default_factory=list)

    async def handle_DATA(  # noqa: N802 (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        raw = envelope.content
        assert isinstance(raw, bytes)
        self.messages.append(
            email.message_from_bytes(raw.replace(b"\r\n", b"\n"), policy=email.policy.default)
        )
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.logins.append(session.auth_data)
        self.tls.append(session.ssl is not None)
        return "250 OK"


def authenticator(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data == (b"bot", PASSWORD.encode())
    if not ok:
        return AuthResult(success=False, handled=False)  # aiosmtpd answers 535
    return AuthResult(success=True, auth_data=auth_data)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[Callable[..., Mailbox]]:
    controllers: list[Controller] = []

    def start(**kwargs: Any) -> Mailbox:
        box = Mailbox(port=free_port())
        controller = Controller(
            box, hostname="127.0.0.1", port=box.port, server_hostname="localhost", **kwargs
        )
        controller.start()
        controllers.append(controller)
        return box

    yield start
    for controller in controllers:
        controller.stop()


def email_channel(box: Mailbox, **kwargs: Any) -> EmailChannel:
    values: dict[str, Any] = {
        "security": "none",
        "sender": "Bot <bot@example.com>",
        "recipients": ["ops@example.com", "me@example.com"],
        "timeout": 15.0,
    }
    values.update(kwargs)
    return EmailChannel("127.0.0.1", box.port, **values)


@dataclass
class Cert:
    server: ssl.SSLContext
    client: ssl.SSLContext


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> Cert:
    """A self-signed certificate for 127.0.0.1, made with openssl at test time."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: no certificate for the TLS tests")
    folder = tmp_path_factory.mktemp("tls")
    key, crt = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(crt), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(crt, key)
    return Cert(server=server, client=ssl.create_default_context(cafile=str(crt)))


def dispatcher(tracker: Tracker, channels: list[Channel], **kwargs: Any) -> AlertDispatcher:
    values: dict[str, Any] = {"sleep": lambda _s: None, "background": False}
    values.update(kwargs)
    return AlertDispatcher(tracker, channels, FixedClock(), **values)


def payloads(tracker: Tracker, kind: EventKind) -> list[dict[str, Any]]:
    return [dict(row.payload) for row in tracker.events(kind=kind)]


# --- email ---------------------------------------------------------------------------------------


def test_email_plain_delivers_subject_body_and_recipients(
    tracker: Tracker, smtp_server: Callable[..., Mailbox]
) -> None:
    box = smtp_server()
    dispatcher(tracker, [email_channel(box)]).send(alert(severity=Severity.ERROR))

    (message,) = box.messages
    assert message["Subject"] == "[bot] ERROR: hfea traded"
    assert message["From"] == "Bot <bot@example.com>"
    assert message["X-Bot-Alert-Key"] == "trades:hfea:20260401-ab12cd34"
    assert isinstance(message, EmailMessage)
    text = message.get_content()
    assert "UPRO 55% -> 55%\nTMF 45% -> 45%" in text
    assert "strategy: hfea" in text
    assert box.envelopes == [("bot@example.com", ["ops@example.com", "me@example.com"])]
    assert box.logins == [None]  # no user configured: no login
    (sent,) = payloads(tracker, EventKind.ALERT_SENT)
    assert sent == {
        "key": "trades:hfea:20260401-ab12cd34",
        "channel": "email",
        "title": "hfea traded",
        "severity": "error",
    }


def test_info_subject_has_no_severity_prefix_and_title_is_one_line(
    tracker: Tracker, smtp_server: Callable[..., Mailbox]
) -> None:
    box = smtp_server()
    dispatcher(tracker, [email_channel(box)]).send(alert(title="bot started:\nhfea"))
    assert box.messages[0]["Subject"] == "[bot] bot started: hfea"


def test_email_login_uses_the_configured_user_and_password(
    tracker: Tracker, smtp_server: Callable[..., Mailbox]
) -> None:
    box = smtp_server(authenticator=authenticator, auth_require_tls=False)
    channel = email_channel(box, user="bot", password=PASSWORD)
    dispatcher(tracker, [channel]).send(alert())

    assert len(box.messages) == 1
    assert box.logins == [LoginPassword(b"bot", PASSWORD.encode())]


def test_wrong_smtp_password_is_recorded_not_raised(
    tracker: Tracker, smtp_server: Callable[..., Mailbox]
) -> None:
    box = smtp_server(authenticator=authenticator, auth_require_tls=False)
    channel = email_channel(box, user="bot", password="wrong-" + PASSWORD)
    dispatcher(tracker, [channel], attempts=2).send(alert())

    assert box.messages == []
    (failed,) = payloads(tracker, EventKind.ALERT_FAILED)
    assert failed["channel"] == "email"
    assert "SMTPAuthenticationError" in failed["error"]
    assert "535" in failed["error"]
    assert PASSWORD not in failed["error"]
    assert payloads(tracker, EventKind.ALERT_SENT) == []


def test_user_set_but_server_offers_no_auth_fails_instead_of_sending_unauthenticated(
    tracker: Tracker, smtp_server: Callable[..., Mailbox]
) -> None:
    box = smtp_server()  # AUTH only after TLS (aiosmtpd's default): not offered in plain
    dispatcher(tracker, [email_channel(box, user="bot", password=PASSWORD)]).send(alert())
    assert box.messages == []
    assert "SMTPNotSupportedError" in payloads(tracker, EventKind.ALERT_FAILED)[0]["error"]


def test_starttls_with_login(
    tracker: Tracker, smtp_server: Callable[..., Mailbox], cert: Cert
) -> None:
    box = smtp_server(
        tls_context=cert.server,
        require_starttls=True,
        authenticator=authenticator,
        auth_required=True,
    )
    channel = email_channel(
        box, security="starttls", user="bot", password=PASSWORD, ssl_context=cert.client
    )
    dispatcher(tracker, [channel]).send(alert())

    assert len(box.messages) == 1
    assert box.tls == [True]
    assert box.logins == [LoginPassword(b"bot", PASSWORD.encode())]


def test_starttls_verifies_the_certificate_by_default(
    tracker: Tracker, smtp_server: Callable[..., Mailbox], cert: Cert
) -> None:
    box = smtp_server(tls_context=cert.server, require_starttls=True)
    dispatcher(tracker, [email_channel(box, security="starttls")], attempts=1).send(alert())

    assert box.messages == []
    assert "CERTIFICATE_VERIFY_FAILED" in payloads(tracker, EventKind.ALERT_FAILED)[0]["error"]


def test_implicit_ssl(tracker: Tracker, smtp_server: Callable[..., Mailbox], cert: Cert) -> None:
    box = smtp_server(ssl_context=cert.server)
    channel = email_channel(box, security="ssl", ssl_context=cert.client)
    dispatcher(tracker, [channel]).send(alert())
    assert len(box.messages) == 1


# --- slack ---------------------------------------------------------------------------------------


def test_slack_posts_one_message_with_title_and_text(
    tracker: Tracker, webhook: Callable[..., Webhook]
) -> None:
    hook = webhook()
    dispatcher(tracker, [slack(hook)]).send(alert(severity=Severity.WARNING, text="a < b & c"))

    (posted,) = hook.requests
    assert posted == {"text": ":warning: *hfea traded*\na &lt; b &amp; c"}
    assert hook.paths == [f"/services/{TOKEN}"]
    assert [p["channel"] for p in payloads(tracker, EventKind.ALERT_SENT)] == ["slack"]


def test_retried_with_backoff_until_delivered(
    tracker: Tracker, webhook: Callable[..., Webhook]
) -> None:
    hook = webhook(statuses=[500, 500])
    delays: list[float] = []
    alerts = dispatcher(
        tracker, [slack(hook)], attempts=3, backoff_seconds=2.0, sleep=delays.append
    )
    with capture_logs() as logs:
        alerts.send(alert())

    assert len(hook.requests) == 3  # delivered on the third attempt
    assert delays == [2.0, 4.0]
    assert len(payloads(tracker, EventKind.ALERT_SENT)) == 1
    assert payloads(tracker, EventKind.ALERT_FAILED) == []  # only outcomes are recorded...
    retries = [e for e in logs if e["event"] == "alert.attempt_failed"]
    assert [e["attempt"] for e in retries] == [1, 2]  # ...each failed attempt is logged
    assert all("HTTP 500" in e["error"] for e in retries)


def test_failing_channel_is_recorded_and_does_not_stop_the_other(
    tracker: Tracker, webhook: Callable[..., Webhook], smtp_server: Callable[..., Mailbox]
) -> None:
    hook = webhook(statuses=[500] * 3)
    box = smtp_server()
    alerts = dispatcher(tracker, [slack(hook), email_channel(box)], background=True)
    with capture_logs() as logs:
        alerts.send(alert())  # does not raise
        assert alerts.flush()

    assert len(hook.requests) == 3
    assert len(box.messages) == 1
    (failed,) = payloads(tracker, EventKind.ALERT_FAILED)
    assert failed["channel"] == "slack"
    assert failed["error"].startswith("slack webhook answered HTTP 500")
    assert [p["channel"] for p in payloads(tracker, EventKind.ALERT_SENT)] == ["email"]
    (warning,) = [e for e in logs if e["event"] == "alert.failed"]
    assert warning["log_level"] == "warning"
    assert warning["channel"] == "slack"
    assert warning["strategy"] == "hfea"
    alerts.close()


def test_unreachable_webhook_is_a_recorded_failure(tracker: Tracker) -> None:
    url = f"http://127.0.0.1:{free_port()}/services/{TOKEN}"  # nobody listens there
    dispatcher(tracker, [SlackChannel(url, timeout=5)], attempts=2).send(alert())
    (failed,) = payloads(tracker, EventKind.ALERT_FAILED)
    assert failed["error"] == "slack webhook unreachable (ConnectionError)"


# --- dedupe and restarts -------------------------------------------------------------------------


def test_a_key_is_sent_once_even_after_a_restart(
    tmp_path: Path, webhook: Callable[..., Webhook], smtp_server: Callable[..., Mailbox]
) -> None:
    hook, box = webhook(), smtp_server()
    path = tmp_path / "state" / "tracker.sqlite3"
    first = Tracker(path)
    alerts = dispatcher(first, [slack(hook), email_channel(box)], background=True)
    alerts.send(alert())
    alerts.send(alert())
    assert alerts.close()
    first.close()

    restarted = Tracker(path)  # a new process: new tracker, new dispatcher, same file
    again = dispatcher(restarted, [slack(hook), email_channel(box)], background=True)
    again.send(alert())
    again.send(alert(key="trades:hfea:20260402-cd34ef56"))  # a new key still goes out
    assert again.close()

    assert len(hook.requests) == 2
    assert len(box.messages) == 2
    sent = [(p["key"], p["channel"]) for p in payloads(restarted, EventKind.ALERT_SENT)]
    assert sorted(sent) == sorted(
        (key, channel)
        for key in ("trades:hfea:20260401-ab12cd34", "trades:hfea:20260402-cd34ef56")
        for channel in ("slack", "email")
    )
    restarted.close()


def test_a_failed_key_is_tried_again_on_the_next_send(
    tracker: Tracker, webhook: Callable[..., Webhook]
) -> None:
    hook = webhook(statuses=[500])
    alerts = dispatcher(tracker, [slack(hook)], attempts=1)
    alerts.send(alert())
    alerts.send(alert())
    assert len(hook.requests) == 2
    assert len(payloads(tracker, EventKind.ALERT_FAILED)) == 1
    assert len(payloads(tracker, EventKind.ALERT_SENT)) == 1


# --- never blocks --------------------------------------------------------------------------------


def test_send_returns_while_the_webhook_is_still_answering(
    tracker: Tracker, webhook: Callable[..., Webhook]
) -> None:
    hook = webhook(gate=threading.Event())
    alerts = dispatcher(tracker, [slack(hook)], background=True)

    alerts.send(alert())
    assert hook.requests == []  # send() returned before the server answered anything
    assert hook.arrived.wait(timeout=10)  # ...while the worker is mid-delivery
    assert not alerts.flush(timeout=0.05)  # still pending: flush reports it
    assert payloads(tracker, EventKind.ALERT_SENT) == []

    assert hook.gate is not None
    hook.gate.set()
    assert alerts.flush()
    assert len(hook.requests) == 1
    assert len(payloads(tracker, EventKind.ALERT_SENT)) == 1
    alerts.close()


def test_a_hanging_slack_does_not_hold_up_the_other_channel(
    tracker: Tracker, webhook: Callable[..., Webhook]
) -> None:
    """Each channel has its own worker: while Slack's server has not answered, the email
    channel (a recording fake of our Channel port) has already got the alert."""
    hanging = webhook(gate=threading.Event())
    delivered = threading.Event()

    class Recording:
        name = "email"

        def send(self, alert: Alert) -> None:
            delivered.set()

    alerts = dispatcher(tracker, [slack(hanging), Recording()], background=True)
    alerts.send(alert())

    assert delivered.wait(timeout=10)
    assert hanging.arrived.wait(timeout=10)
    assert hanging.requests == []  # Slack is still mid-request, and email already has it
    assert hanging.gate is not None
    hanging.gate.set()
    assert alerts.close()
    assert sorted(p["channel"] for p in payloads(tracker, EventKind.ALERT_SENT)) == [
        "email",
        "slack",
    ]


def test_an_alert_still_in_flight_when_the_process_stops_is_sent_at_the_next_start(
    tracker: Tracker, webhook: Callable[..., Webhook]
) -> None:
    """The first run queues an alert and stops while Slack is still answering (the daemon is
    gone: nothing recorded it as sent). The next run's start-up sends it once, marked delayed;
    a second start-up sends nothing more."""
    stuck = webhook(gate=threading.Event())
    first = dispatcher(tracker, [slack(stuck)], background=True)
    first.send(alert())
    assert stuck.arrived.wait(timeout=10)  # delivery started and never finished
    assert [p["key"] for p in payloads(tracker, EventKind.ALERT_QUEUED)] == [alert().key]

    working = webhook()
    restarted = dispatcher(tracker, [slack(working)])
    assert restarted.resend_unsent() == 1
    assert restarted.resend_unsent() == 0

    assert len(working.requests) == 1
    assert "[delayed from 2026-04-01T19:45]" in json.dumps(working.requests[0])
    assert [p["channel"] for p in payloads(tracker, EventKind.ALERT_SENT)] == ["slack"]
    assert stuck.gate is not None
    stuck.gate.set()  # let the first run's thread end (a real stop would have killed it)
    first.close()


def test_alerts_are_not_resent_after_delivery_or_to_a_channel_added_later(
    tracker: Tracker, webhook: Callable[..., Webhook]
) -> None:
    hook = webhook(statuses=[500])
    dispatcher(tracker, [slack(hook)], attempts=1).send(alert("failed:1"))  # given up: final
    dispatcher(tracker, [slack(hook)]).send(alert("sent:2"))

    class Later:
        name = "email"

        def __init__(self) -> None:
            self.sent: list[Alert] = []

        def send(self, alert: Alert) -> None:
            self.sent.append(alert)

    email_channel = Later()
    assert dispatcher(tracker, [slack(hook), email_channel]).resend_unsent() == 0
    assert email_channel.sent == []


# --- secrets -------------------------------------------------------------------------------------


def test_no_secret_in_tracker_logs_or_errors(
    tmp_path: Path, webhook: Callable[..., Webhook], smtp_server: Callable[..., Mailbox]
) -> None:
    hook = webhook(statuses=[500] * 2, echo_path=True)  # the error body quotes the token
    box = smtp_server(authenticator=authenticator, auth_require_tls=False)
    dead = SlackChannel(f"http://127.0.0.1:{free_port()}/services/{TOKEN}", timeout=5)
    dead.name = "slack-dead"
    wrong = email_channel(box, user="bot", password=PASSWORD + "-wrong")
    good = email_channel(box, user="bot", password=PASSWORD)
    good.name = "email-ok"
    path = tmp_path / "t.sqlite3"
    tracker = Tracker(path)
    alerts = dispatcher(tracker, [slack(hook), dead, wrong, good], attempts=2)
    with capture_logs() as logs:
        alerts.send(alert())
        dispatcher(tracker, [dead], attempts=2).send(alert(key="k2"))
    tracker.close()

    errors = []
    for channel in (slack(webhook(statuses=[500], echo_path=True)), dead, wrong):
        with pytest.raises(AlertDeliveryError) as caught:
            channel.send(alert())
        errors.append(str(caught.value))

    with sqlite3.connect(path) as db:
        rows = json.dumps(db.execute("SELECT * FROM events").fetchall())
    assert "alert_failed" in rows
    assert "alert_sent" in rows  # the good channel delivered
    assert "[redacted]" in errors[0]  # the echoed token was cut out of the quoted body
    everything = "\n".join([rows, repr(logs), *errors, repr(slack(hook)), repr(wrong)])
    for secret in ("SECRET", TOKEN, PASSWORD):
        assert secret not in everything


def test_a_channel_bug_is_recorded_by_type_only(tracker: Tracker) -> None:
    class Broken:
        name = "broken"

        def send(self, alert: Alert) -> None:
            raise RuntimeError(f"boom with {PASSWORD}")

    with capture_logs() as logs:
        dispatcher(tracker, [Broken()], attempts=1).send(alert())
    (failed,) = payloads(tracker, EventKind.ALERT_FAILED)
    assert failed["error"] == "unexpected RuntimeError in the broken channel"
    assert PASSWORD not in repr(logs)


# --- no channel, health, settings ----------------------------------------------------------------


def test_no_channel_records_nothing_and_says_so_once(tracker: Tracker) -> None:
    """The first alert without a channel is logged at info with how to get alerts; the next
    ones at debug (the demo once printed 247 of these lines among 380)."""
    with capture_logs() as logs:
        sender = dispatcher(tracker, [])
        for _ in range(3):
            sender.send(alert())
    assert tracker.events() == []
    assert [e["event"] for e in logs] == ["alert.no_channel"] * 3
    assert [e["log_level"] for e in logs] == ["info", "debug", "debug"]
    assert "SLACK_WEBHOOK_URL" in logs[0]["hint"]


def test_health_reports_successes_failures_and_survives_a_restart(
    tmp_path: Path, webhook: Callable[..., Webhook]
) -> None:
    hook = webhook(statuses=[500, 500])
    path = tmp_path / "t.sqlite3"
    tracker = Tracker(path)
    alerts = dispatcher(tracker, [slack(hook)], attempts=1)
    assert alerts.health() == {
        "slack": {
            "last_success_at": None,
            "last_failure_at": None,
            "last_error": None,
            "consecutive_failures": 0,
        }
    }
    alerts.send(alert(key="a"))
    alerts.send(alert(key="b"))
    health = alerts.health()["slack"]
    assert health["consecutive_failures"] == 2
    assert health["last_failure_at"] == NOW.isoformat()
    assert str(health["last_error"]).startswith("slack webhook answered HTTP 500")

    alerts.send(alert(key="c"))
    tracker.close()
    later = Tracker(path)  # `bot status` in another process reads the same file
    after = channel_health(later, ["slack", "email"])
    assert after["slack"]["consecutive_failures"] == 0
    assert after["slack"]["last_success_at"] == NOW.isoformat()
    assert after["slack"]["last_error"] is not None  # the last failure stays visible
    assert after["email"]["last_success_at"] is None
    later.close()


ALERT_ENV = (
    "SLACK_WEBHOOK_URL", "SMTP_HOST", "SMTP_PORT", "SMTP_USER", "SMTP_PASSWORD",
    "SMTP_SECURITY", "ALERT_EMAIL_FROM", "ALERT_EMAIL_TO",
)  # fmt: skip


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Settings]:
    for name in ALERT_ENV:
        monkeypatch.delenv(name, raising=False)

    def settings(**values: str) -> Settings:
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        return Settings(_env_file=None)

    return settings


def test_channels_from_settings(env: Callable[..., Settings]) -> None:
    assert channels_from_settings(env()) == []

    both = channels_from_settings(
        env(
            SLACK_WEBHOOK_URL=f"https://hooks.slack.com/services/{TOKEN}",
            SMTP_HOST="smtp.example.com",
            SMTP_USER="bot",
            SMTP_PASSWORD=PASSWORD,
            ALERT_EMAIL_FROM="bot@example.com",
            ALERT_EMAIL_TO="a@example.com, b@example.com,",
        )
    )
    assert [c.name for c in both] == ["slack", "email"]
    assert TOKEN not in repr(both)
    assert PASSWORD not in repr(both)
    assert "smtp.example.com:587, security=starttls" in repr(both[1])
    assert "['a@example.com', 'b@example.com']" in repr(both[1])


@pytest.mark.parametrize(("security", "port"), [("ssl", 465), ("none", 25), ("starttls", 587)])
def test_smtp_port_defaults_by_security(
    env: Callable[..., Settings], security: str, port: int
) -> None:
    (channel,) = channels_from_settings(
        env(
            SMTP_HOST="mail",
            SMTP_SECURITY=security,
            ALERT_EMAIL_FROM="bot@example.com",
            ALERT_EMAIL_TO="me@example.com",
        )
    )
    assert f"mail:{port}, security={security}" in repr(channel)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"SMTP_HOST": "mail"}, "ALERT_EMAIL_FROM, ALERT_EMAIL_TO"),
        ({"ALERT_EMAIL_TO": "me@example.com"}, "SMTP_HOST, ALERT_EMAIL_FROM"),
        (
            {
                "SMTP_HOST": "m",
                "ALERT_EMAIL_FROM": "b@x",
                "ALERT_EMAIL_TO": "a@x",
                "SMTP_USER": "u",
            },
            "SMTP_USER and SMTP_PASSWORD",
        ),
        ({"SMTP_HOST": "m", "ALERT_EMAIL_FROM": "b@x", "ALERT_EMAIL_TO": " , "}, "no address"),
        ({"SLACK_WEBHOOK_URL": "hooks.slack.com/services/x"}, "http(s) URL"),
    ],
)
def test_half_configured_channels_are_config_errors(
    env: Callable[..., Settings], values: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        channels_from_settings(env(**values))
