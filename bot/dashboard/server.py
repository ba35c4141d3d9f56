"""The dashboard's HTTP server: uvicorn, in a thread beside the daemon (``bot run``) or in the
foreground (``bot dashboard``). The socket is bound before the thread starts, so the port is
known (port 0 picks a free one) and a request made at once waits in the listen queue instead of
being refused: nobody has to sleep until the server "is up"."""

from __future__ import annotations

import socket
import threading

import structlog
import uvicorn
from starlette.types import ASGIApp

from bot.dashboard.app import is_loopback
from bot.errors import ConfigError

log = structlog.get_logger()
INSTALL_HINT = "pip install 'starlette>=0.37' 'uvicorn>=0.29' (or pip install -e . again)"


def require_token_off_loopback(host: str, token: str | None) -> None:
    """Refuse to serve beyond this machine without a token: the dashboard shows the account."""
    if not is_loopback(host) and not token:
        msg = (
            f"--host {host} is reachable from other machines: set BOT_DASHBOARD_TOKEN to a long "
            "random value first (python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
        raise ConfigError(msg)


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host``:``port`` (an error in one line if it is taken)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        msg = f"cannot listen on {host}:{port}: {exc.strerror or exc}"
        raise ConfigError(msg) from exc
    sock.listen(64)
    return sock


class DashboardServer:
    """uvicorn serving ``app`` on an already bound socket, in a daemon thread."""

    def __init__(self, app: ASGIApp, host: str, port: int) -> None:
        self.host = host
        self._socket = bind(host, port)
        self.port = int(self._socket.getsockname()[1])
        config = uvicorn.Config(
            app, log_level="warning", access_log=False, lifespan="off", ws="none", http="h11"
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The address to open (IPv6 hosts in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def start(self) -> DashboardServer:
        """Serve in the background; returns self."""
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="dashboard",
            daemon=True,
        )  # fmt: skip
        self._thread.start()
        log.info("dashboard_listening", url=self.url)
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted (``bot dashboard``)."""
        self._server.run(sockets=[self._socket])

    def stop(self) -> None:
        """Stop serving and release the port; safe to call twice."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._socket.close()
