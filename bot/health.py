"""Liveness for supervisors: a heartbeat file, a loopback ``/healthz``, and the Docker check.

A daemon that sleeps for days between wakes still has to prove it is alive, and a process that
exists is not the same as a loop that turns. The daemon calls ``Heartbeat.beat`` on every turn of
its loop (and while idle, more often than ``max_age``); Docker's ``HEALTHCHECK`` runs
``healthcheck_main`` against the file, systemd or a load balancer can poll ``/healthz``. Both
answer the same question the same way: was the last beat recent enough?

The heartbeat is written with the wall clock: a simulated clock's time means nothing to a
supervisor comparing it with its own.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import structlog

DEFAULT_MAX_AGE = timedelta(minutes=10)
HEALTH_PATH = "/healthz"

log = structlog.get_logger()


class NowSource(Protocol):
    """Anything that tells the time (the bot's clocks do); all a heartbeat needs."""

    def now(self) -> datetime:
        """The current time, timezone-aware."""
        ...


class Heartbeat:
    """The last sign of life: kept in memory, and in a JSON file when a path is configured."""

    def __init__(self, path: Path | None, clock: NowSource) -> None:
        self.path = path
        self.clock = clock
        self._last: dict[str, Any] | None = None

    def beat(self, **info: Any) -> None:
        """Record a beat now; a failed write is logged, never raised (it must not stop trading)."""
        beat = {"at": self.clock.now().isoformat(), "pid": os.getpid(), **info}
        self._last = beat
        if self.path is None:
            return
        try:
            _write_atomically(self.path, json.dumps(beat, default=str, sort_keys=True))
        except OSError as exc:
            log.warning("heartbeat_write_failed", path=str(self.path), error=str(exc))

    def read(self) -> dict[str, Any] | None:
        """The last beat: from the file when there is one (another process may have written it),
        else from memory; None when there is none or the file is unreadable."""
        if self.path is None:
            return self._last
        try:
            beat = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None
        return beat if isinstance(beat, dict) and _beat_time(beat) is not None else None

    def age(self, now: datetime) -> timedelta | None:
        """How long ago the last beat was; None when there was none."""
        beat = self.read()
        at = None if beat is None else _beat_time(beat)
        return None if at is None else now - at

    def is_fresh(self, now: datetime, max_age: timedelta) -> bool:
        """True when the last beat is at most ``max_age`` old. A beat more than ``max_age`` in
        the future is not fresh either: a clock that jumped must not keep a dead bot healthy."""
        age = self.age(now)
        return age is not None and -max_age <= age <= max_age

    def stopped(self) -> bool:
        """True when the last beat is the one a daemon writes as it stops (``Daemon.stopped``):
        however recent, it is no sign of life."""
        beat = self.read()
        return beat is not None and bool(beat.get("stopped"))

    def status(self, now: datetime, max_age: timedelta) -> dict[str, Any]:
        """The health answer as a JSON-ready dict: ``ok`` (fresh, and not a stop), the beat's
        own fields (``stopped`` and ``reason`` after a stop), and its age."""
        beat = self.read() or {}
        age = self.age(now)
        return {
            "ok": self.is_fresh(now, max_age) and not self.stopped(),
            **{k: v for k, v in beat.items() if k != "ok"},
            "age_seconds": None if age is None else round(age.total_seconds(), 3),
            "max_age_seconds": max_age.total_seconds(),
        }


def heartbeat_status(path: Path, now: datetime, max_age: timedelta) -> dict[str, Any]:
    """``Heartbeat.status`` of the file at ``path`` as of ``now``, read-only (for ``bot status``,
    which must not write a beat of its own)."""
    return Heartbeat(path, _At(now)).status(now, max_age)


@dataclass(frozen=True, slots=True)
class _At:
    """A clock stopped at one moment: reading a heartbeat needs no real time."""

    moment: datetime

    def now(self) -> datetime:
        return self.moment


def _beat_time(beat: dict[str, Any]) -> datetime | None:
    try:
        at = datetime.fromisoformat(str(beat["at"]))
    except (KeyError, ValueError):
        return None
    return at if at.tzinfo is not None else None


def _write_atomically(path: Path, text: str) -> None:
    """Write a temporary file next to ``path`` and rename it over: a reader sees the old beat
    or the new one, never half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


class _HealthHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    health: HealthServer


class _HealthHandler(BaseHTTPRequestHandler):
    server: _HealthHTTPServer

    def do_GET(self) -> None:
        if urlsplit(self.path).path != HEALTH_PATH:
            self._reply(404, {"ok": False, "error": f"not found; try {HEALTH_PATH}"})
            return
        body = self.server.health.report()
        self._reply(200 if body["ok"] else 503, body)

    def _reply(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body, default=str).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        # The stdlib writes every request to stderr; a poll every few seconds is noise.
        log.debug("healthz_request", line=format % args)


class HealthServer:
    """``GET /healthz`` on loopback, in a daemon thread: 200 while the heartbeat is fresh, 503
    when it is stale or missing, 404 for any other path. Loopback by default because it needs
    no authentication: only the host (or a container's own healthcheck) should reach it."""

    def __init__(
        self,
        heartbeat: Heartbeat,
        *,
        port: int,
        host: str = "127.0.0.1",
        max_age: timedelta = DEFAULT_MAX_AGE,
        clock: NowSource | None = None,
    ) -> None:
        self.heartbeat = heartbeat
        self.host = host
        self.max_age = max_age
        self.clock = clock or heartbeat.clock
        self._requested_port = port
        self._server: _HealthHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port (the real one when started on port 0)."""
        if self._server is None:
            return self._requested_port
        return int(self._server.server_address[1])

    def report(self) -> dict[str, Any]:
        """What ``/healthz`` answers now."""
        return self.heartbeat.status(self.clock.now(), self.max_age)

    def start(self) -> None:
        """Bind and serve in a background thread (raises OSError if the port is taken)."""
        if self._server is not None:
            return
        server = _HealthHTTPServer((self.host, self._requested_port), _HealthHandler)
        server.health = self
        # serve_forever's poll interval bounds how long stop() waits for the loop to notice.
        thread = threading.Thread(
            target=server.serve_forever, args=(0.2,), name="healthz", daemon=True
        )
        thread.start()
        self._server, self._thread = server, thread
        log.info("healthz_listening", host=self.host, port=self.port)

    def stop(self) -> None:
        """Stop serving and release the port; safe to call twice."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join()

    def __enter__(self) -> HealthServer:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def healthcheck_main(
    path: Path | None, max_age: timedelta = DEFAULT_MAX_AGE, *, clock: NowSource
) -> int:
    """The Docker ``HEALTHCHECK``: exit 0 when the heartbeat file is fresh, else 1, with one
    line saying why (Docker keeps it in ``docker inspect``). ``clock`` is the wall clock (the
    composition root's), or a test's."""
    if path is None:
        print("unhealthy: no heartbeat file configured (set BOT_HEARTBEAT_FILE)")
        return 1
    heartbeat = Heartbeat(path, clock)
    now = heartbeat.clock.now()
    age = heartbeat.age(now)
    if age is None:
        print(f"unhealthy: no readable heartbeat at {path}")
        return 1
    limit = f"{max_age.total_seconds():.0f}s"
    beat = heartbeat.read() or {}
    if beat.get("stopped"):
        at = datetime.fromisoformat(str(beat["at"])).astimezone(UTC)
        reason = beat.get("reason") or "no reason recorded"
        print(f"unhealthy: the daemon stopped at {at:%Y-%m-%d %H:%M:%S} UTC ({reason})")
        return 1
    fresh = heartbeat.is_fresh(now, max_age)
    print(f"{'healthy' if fresh else 'unhealthy'}: last heartbeat {_ago(age)} (limit {limit})")
    return 0 if fresh else 1


def _ago(age: timedelta) -> str:
    seconds = age.total_seconds()
    return f"{seconds:.0f}s ago" if seconds >= 0 else f"{-seconds:.0f}s in the future"
