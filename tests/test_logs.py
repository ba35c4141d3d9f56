"""Logging as configured for the bot: secrets never rendered, secret-named keys redacted, the
cycle's run id and strategy on its lines, JSON off a TTY and console on one, always on stderr."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from bot.logs import REDACTED, bind_cycle, clear_secrets, configure_logging, register_secret

SECRET = "sk-live-7f3a9c2e51d04b8e"
WEBHOOK = "https://hooks.slack.example/services/T000/B000/XXXXSECRETPATH"


class TtyBuffer(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self) -> bool:
        """Pretend to be a TTY."""
        return True


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Leave structlog, the context and the secret registry as they were."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)
    structlog.contextvars.clear_contextvars()
    clear_secrets()


def logged(monkeypatch: pytest.MonkeyPatch, *, tty: bool = False, **calls: Any) -> str:
    """Configure logging with stderr swapped for a buffer, log what ``calls`` says (event name
    → fields), and return everything written to stderr."""
    buffer = TtyBuffer() if tty else io.StringIO()
    monkeypatch.setattr(sys, "stderr", buffer)
    configure_logging()
    log = structlog.get_logger()
    for event, fields in calls.items():
        log.info(event, **fields)
    return buffer.getvalue()


def json_lines(text: str) -> list[dict[str, Any]]:
    """Each rendered JSON line as a dict."""
    return [json.loads(line) for line in text.splitlines()]


@pytest.mark.parametrize("tty", [False, True])
def test_a_registered_secret_never_appears_anywhere(
    monkeypatch: pytest.MonkeyPatch, tty: bool
) -> None:
    """As a field, inside a message, nested in containers, in an object's repr: the registered
    secret and webhook URL are replaced, on the console and in JSON."""
    register_secret(SECRET)
    register_secret(WEBHOOK)

    class Endpoint:
        def __repr__(self) -> str:
            return f"Endpoint(secret={SECRET})"

    out = logged(
        monkeypatch,
        tty=tty,
        as_field={"key": SECRET},
        in_message={"error": f"POST {WEBHOOK} returned 500"},
        nested={"where": {"a": [SECRET, ("x", SECRET)]}},
        in_repr={"endpoint": Endpoint()},
    )

    assert SECRET not in out
    assert WEBHOOK not in out
    assert "XXXXSECRETPATH" not in out
    assert out.count(REDACTED) >= 5
    assert "POST [REDACTED] returned 500" in out


@pytest.mark.parametrize("tty", [False, True])
def test_a_secret_in_a_traceback_is_redacted(monkeypatch: pytest.MonkeyPatch, tty: bool) -> None:
    """log.exception renders the traceback (console renderer, or format_exc_info for JSON);
    the exception's message carries the secret and still does not get out."""
    register_secret(SECRET)
    buffer = TtyBuffer() if tty else io.StringIO()
    monkeypatch.setattr(sys, "stderr", buffer)
    configure_logging()

    try:
        raise ValueError(f"refused key {SECRET}")
    except ValueError:
        structlog.get_logger().exception("cycle_crashed")

    out = buffer.getvalue()
    assert "Traceback (most recent call last)" in out
    assert "ValueError: refused key [REDACTED]" in out
    assert SECRET not in out


def test_a_secret_that_json_escapes_is_redacted_in_its_escaped_form(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """JSON writes a quote as \\" and a backslash as \\\\; the escaped form is caught too."""
    password = 'pa"ss\\word-42'
    register_secret(password)

    out = logged(monkeypatch, smtp={"detail": f"login with {password} failed"})

    assert json.dumps(password)[1:-1] not in out
    assert "pa" + '\\"' + "ss" not in out
    assert json_lines(out)[0]["detail"] == "login with [REDACTED] failed"


def test_keys_named_like_secrets_are_redacted_at_any_depth(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """password, secret, token and webhook in a key's name redact its value, even if the value
    was never registered; other keys and unset (None) values are left alone."""
    out = logged(
        monkeypatch,
        settings={
            "smtp_password": "hunter2",
            "API_SECRET_KEY": "abc",
            "channels": {"slack_webhook_url": "https://x", "auth": {"token": 12345}},
            "smtp_host": "mail.example",
            "refresh_token": None,
        },
    )

    line = json_lines(out)[0]
    assert line["smtp_password"] == REDACTED
    assert line["API_SECRET_KEY"] == REDACTED
    assert line["channels"] == {"slack_webhook_url": REDACTED, "auth": {"token": REDACTED}}
    assert line["smtp_host"] == "mail.example"
    assert line["refresh_token"] is None
    assert "hunter2" not in out


def test_an_empty_secret_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    """Registering an unset value (empty, blank, None) must not redact every line."""
    register_secret("")
    register_secret("  ")
    register_secret(None)

    out = logged(monkeypatch, plain={"note": "nothing secret here"})

    assert json_lines(out)[0]["note"] == "nothing secret here"


def test_lines_inside_bind_cycle_carry_run_id_and_strategy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Inside the block every line has the cycle's run id and strategy; outside, none; a
    nested block for another strategy gives the outer values back when it ends."""
    buffer = io.StringIO()
    monkeypatch.setattr(sys, "stderr", buffer)
    configure_logging()
    log = structlog.get_logger()

    log.info("before")
    with bind_cycle("20261127-aaaa", "hfea"):
        log.info("inside")
        with bind_cycle("20261127-bbbb", "all_in"):
            log.info("nested")
        log.info("inside_again")
    log.info("after")

    lines = {line["event"]: line for line in json_lines(buffer.getvalue())}
    assert "run_id" not in lines["before"]
    assert "strategy" not in lines["before"]
    assert (lines["inside"]["run_id"], lines["inside"]["strategy"]) == ("20261127-aaaa", "hfea")
    assert (lines["nested"]["run_id"], lines["nested"]["strategy"]) == ("20261127-bbbb", "all_in")
    assert lines["inside_again"]["run_id"] == "20261127-aaaa"
    assert "run_id" not in lines["after"]
    assert "strategy" not in lines["after"]


def test_json_off_a_tty_and_console_on_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """Piped output is one JSON object per line; a terminal gets key=value text."""
    piped = logged(monkeypatch, cycle_done={"outcome": "held"})
    terminal = logged(monkeypatch, tty=True, cycle_done={"outcome": "held"})

    assert json_lines(piped)[0]["outcome"] == "held"
    assert json_lines(piped)[0]["level"] == "info"
    assert "cycle_done" in terminal
    assert "outcome=held" in terminal
    with pytest.raises(json.JSONDecodeError):
        json.loads(terminal.splitlines()[0])


def test_lines_go_to_the_stderr_of_the_moment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Configured once, a logger writes to whatever sys.stderr is when it logs (never stdout)."""
    first, second, stdout = io.StringIO(), io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdout", stdout)
    monkeypatch.setattr(sys, "stderr", first)
    configure_logging()
    log = structlog.get_logger()

    log.info("one")
    monkeypatch.setattr(sys, "stderr", second)
    log.info("two")

    assert [line["event"] for line in json_lines(first.getvalue())] == ["one"]
    assert [line["event"] for line in json_lines(second.getvalue())] == ["two"]
    assert stdout.getvalue() == ""


def test_a_replay_stamps_its_lines_with_the_simulated_time() -> None:
    """A run on a simulated clock logs the market moment it is at (``sim_time``) beside the
    wall-clock ``timestamp``; without one, no ``sim_time``."""
    import io  # noqa: PLC0415 - only here
    import json  # noqa: PLC0415
    from datetime import UTC, datetime  # noqa: PLC0415

    import structlog  # noqa: PLC0415

    from bot.logs import configure_logging, log_simulated_time  # noqa: PLC0415

    moment = datetime(2026, 1, 2, 20, 45, tzinfo=UTC)
    stream = io.StringIO()
    configure_logging()
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(stream))
    try:
        log_simulated_time(lambda: moment)
        structlog.get_logger().info("replayed")
        log_simulated_time(None)
        structlog.get_logger().info("live")
    finally:
        log_simulated_time(None)
        configure_logging()  # back to the process's own logger for the tests that follow
    replayed, live = (json.loads(line) for line in stream.getvalue().splitlines()[-2:])
    assert replayed["sim_time"] == "2026-01-02T20:45:00+00:00"
    assert "sim_time" not in live
