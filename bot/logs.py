"""structlog set-up: readable console lines on a TTY, JSON lines otherwise, always on stderr
(stdout is reserved for command output such as ``--json``).

Three things every line gets, because an unattended daemon is debugged from its logs alone:

- the cycle it belongs to: ``bind_cycle(run_id, strategy)`` puts both on every line logged inside
  it, so one run of one strategy can be grepped out of years of output;
- no secrets: values registered with ``register_secret`` (the Alpaca secret, the webhook URL, the
  SMTP password) are replaced wherever they appear, in any field, nested value or traceback, and
  so is the value of any key whose name says it is secret;
- tracebacks as text, never with local variables (a local may hold a key).
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

REDACTED = "[REDACTED]"
SENSITIVE_KEY_PARTS = ("secret", "password", "token", "webhook")

_secrets: tuple[str, ...] = ()  # longest first, so a secret containing another goes whole
_secrets_lock = threading.Lock()


class _StderrLogger:
    """Writes each rendered line to whatever ``sys.stderr`` is at call time (tests swap it)."""

    def msg(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    log = debug = info = warn = warning = error = critical = exception = fatal = msg


def _stderr_logger(*_args: object) -> _StderrLogger:
    return _StderrLogger()


def register_secret(value: str | None) -> None:
    """Never let ``value`` reach a log line. Call it with each secret as soon as it is read;
    empty or missing values are ignored (they would redact everything, or nothing)."""
    global _secrets  # noqa: PLW0603 (one registry per process, read on every log line)
    if value is None or not value.strip():
        return
    forms = {value, json.dumps(value)[1:-1], repr(value)[1:-1]}  # as-is, JSON- and repr-escaped
    with _secrets_lock:
        _secrets = tuple(sorted(set(_secrets) | forms, key=len, reverse=True))


def clear_secrets() -> None:
    """Forget every registered secret (tests, or a process that re-reads its settings)."""
    global _secrets  # noqa: PLW0603
    with _secrets_lock:
        _secrets = ()


def redact_text(text: str) -> str:
    """``text`` with every registered secret replaced."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def _is_sensitive_key(key: object) -> bool:
    name = str(key).lower()
    return any(part in name for part in SENSITIVE_KEY_PARTS)


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {
            k: REDACTED if _is_sensitive_key(k) and v is not None else _redact_value(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        items = [_redact_value(v) for v in value]
        return items if isinstance(value, list) else tuple(items)
    return value


def redact_secrets(_logger: WrappedLogger, _name: str, event_dict: EventDict) -> EventDict:
    """Processor: redact registered secrets and secret-named keys anywhere in the event."""
    redacted: EventDict = _redact_value(event_dict)
    return redacted


def _redacting(renderer: Processor) -> Processor:
    """Redact the rendered line too: the console renderer formats tracebacks itself, after
    every processor has run, and an object's ``repr`` may show what its fields hid."""

    def render(logger: WrappedLogger, name: str, event_dict: EventDict) -> Any:
        rendered = renderer(logger, name, event_dict)
        return redact_text(rendered) if isinstance(rendered, str) else rendered

    return render


@contextmanager
def bind_cycle(run_id: str, strategy: str) -> Iterator[None]:
    """Put ``run_id`` and ``strategy`` on every line logged inside the block (this thread or
    task only); the previous values, if any, come back afterwards. (Reset by the tokens the
    binding returns: ``bound_contextvars`` first copies every context variable of the thread,
    which a backtest's thousands of cycles pay for.)"""
    tokens = structlog.contextvars.bind_contextvars(run_id=run_id, strategy=strategy)
    try:
        yield
    finally:
        structlog.contextvars.reset_contextvars(**tokens)


class _ToStructlog(logging.Handler):
    """Send the standard library's records (APScheduler's) through structlog: same format,
    same redaction."""

    def emit(self, record: logging.LogRecord) -> None:
        structlog.get_logger(record.name).log(
            record.levelno, record.getMessage(), logger=record.name, exc_info=record.exc_info
        )


_SIMULATED_NOW: list[Callable[[], datetime]] = []  # set by a run on a simulated clock


def log_simulated_time(now: Callable[[], datetime] | None) -> None:
    """Stamp each log line with ``sim_time`` from a simulated clock (None: stop): a replay's
    lines then say which market moment they are about, beside the wall-clock ``timestamp``."""
    _SIMULATED_NOW.clear()
    if now is not None:
        _SIMULATED_NOW.append(now)


def _simulated_time(_logger: WrappedLogger, _name: str, event: EventDict) -> EventDict:
    if _SIMULATED_NOW:
        event["sim_time"] = _SIMULATED_NOW[0]().isoformat()
    return event


def configure_logging(level: int = logging.INFO) -> None:
    """Configure structlog once per process: console on a TTY, JSON lines otherwise."""
    tty = sys.stderr.isatty()
    renderer: Processor = (
        structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback
        )
        if tty
        else structlog.processors.JSONRenderer()
    )
    # JSON needs the traceback as a string field; the console renderer formats it itself.
    tracebacks: list[Processor] = [] if tty else [structlog.processors.format_exc_info]
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _simulated_time,
            *tracebacks,
            redact_secrets,
            _redacting(renderer),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=_stderr_logger,
        # Not cached: a module-level logger must follow a later configure() (a re-configuration,
        # structlog.testing.capture_logs); the bot logs a few lines per cycle, speed is moot.
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=logging.WARNING, handlers=[_ToStructlog()], force=True)
