"""The dashboard as a Starlette app: a thin adapter from HTTP to ``bot.dashboard.state`` (the
view model) and ``bot.dashboard.pages`` (its HTML). Read-only: GET only, nothing trades, the
tracker is opened per request and closed (never created: no state, no tracker).

Safe by default: a token, when set, is required for every request (``Authorization: Bearer``,
or ``?token=`` once, which sets an HttpOnly cookie); the command requires one for any bind that
is not loopback. Every response is scrubbed of the secrets the process knows (the Alpaca keys,
the webhook URL, the SMTP password, the token), whatever a recorded message may contain.
"""

from __future__ import annotations

import hmac
import html
import ipaddress
import json
import threading
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any, Protocol
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.dashboard import pages, state
from bot.errors import BotError
from bot.health import DEFAULT_MAX_AGE, heartbeat_status
from bot.tracker import Tracker

COOKIE = "bot_dashboard_token"
HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}


class NowSource(Protocol):
    """The wall clock (the composition root's), or a test's."""

    def now(self) -> datetime:
        """The current time, timezone-aware."""
        ...


class Dashboard:
    """The app's state: where to read, the clock, the secrets to scrub, and a cache of the
    backtest comparisons (a backtest per page view would be wasted: it changes only when the
    journal does)."""

    def __init__(
        self,
        source: state.Source,
        clock: NowSource,
        open_tracker: Callable[[], Tracker],
        secrets: Sequence[str] = (),
    ) -> None:
        self.source = source
        self.clock = clock
        self._open = open_tracker
        self._secrets = sorted(
            {form for s in secrets if len(s) >= 4 for form in _written_forms(s)},
            key=len,
            reverse=True,
        )
        self._backtests: dict[tuple[str, int], dict[str, Any]] = {}
        self._lock = threading.Lock()

    def tracker(self) -> Tracker | None:
        """The tracker, opened for this request; None when the bot has not run here yet."""
        if not self.source.settings.tracker_path.exists():
            return None
        return self._open()

    def scrub(self, text: str) -> str:
        """``text`` with every known secret replaced: the last line of defence."""
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return text

    def backtest(self, tracker: Tracker, name: str) -> dict[str, Any]:
        """The live-against-backtest view, computed once per state of the journal."""
        key = (name, tracker.last_event_id())
        with self._lock:
            cached = self._backtests.get(key)
        if cached is None:
            cached = state.live_vs_backtest(tracker, self.source, name)
            with self._lock:
                self._backtests = {k: v for k, v in self._backtests.items() if k[0] != name}
                self._backtests[key] = cached
        return cached


def _written_forms(secret: str) -> set[str]:
    """Every way a page or its JSON may spell ``secret``: as it is, HTML-escaped (``&`` is
    ``&amp;`` there) and JSON-escaped (``"`` is ``\\"``, non-ASCII as ``\\u`` escapes). The
    scrub runs on the rendered text, so a password with one of those characters would pass a
    replace of its plain form only."""
    forms = {secret, html.escape(secret), html.escape(secret, quote=False)}
    forms |= {json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]}
    forms |= {json.dumps(f)[1:-1] for f in list(forms)}  # an escaped form inside JSON text
    return forms


LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1", "[::1]")


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost: only this machine can reach the server."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build_app(dashboard: Dashboard, token: str | None, *, loopback: bool = True) -> ASGIApp:
    """The ASGI app: the pages, their JSON, ``/healthz``; behind the token when one is set.

    On a loopback bind without a token, only requests addressed to a loopback name are
    answered: a web page elsewhere cannot point its own host name at 127.0.0.1 (DNS
    rebinding) and read the account through the visitor's browser."""
    view = _Views(dashboard)
    routes = [
        Route("/", view.overview),
        Route("/strategy/{name}", view.strategy),
        Route("/strategy/{name}/backtest", view.backtest),
        Route("/journal", view.journal),
        Route("/health", view.health),
        Route("/api", view.api),
        Route("/api/overview", view.overview),
        Route("/api/account", view.account),
        Route("/api/health", view.health),
        Route("/api/journal", view.journal),
        Route("/api/strategies/{name}", view.strategy),
        Route("/api/strategies/{name}/backtest", view.backtest),
        Route("/healthz", view.healthz),
    ]
    app: ASGIApp = Starlette(routes=routes)
    if loopback:
        app = TrustedHostMiddleware(app, allowed_hosts=list(LOOPBACK_NAMES))
    return TokenGate(app, token) if token else app


class _Views:
    """Each route: the view model from ``state``, as JSON under ``/api``, else as a page."""

    def __init__(self, dashboard: Dashboard) -> None:
        self.d = dashboard

    def _reply(self, request: Request, view: dict[str, Any], render: Callable[[], str]) -> Response:
        if request.url.path.startswith("/api/"):  # "/api" itself is the page listing them
            body = json.dumps(view, default=str, allow_nan=False, separators=(",", ":"))
            return self._send(body, "application/json")
        return self._send(render(), "text/html; charset=utf-8")

    def _send(self, text: str, media: str, status: int = 200) -> Response:
        return Response(self.d.scrub(text), status, headers=HEADERS, media_type=media)

    def _with_tracker(
        self,
        request: Request,
        make: Callable[[Tracker, list[str]], tuple[dict[str, Any], Callable[[], str]]],
    ) -> Response:
        tracker = self.d.tracker()
        if tracker is None:
            path = self.d.source.settings.tracker_path.name
            text = f"no tracker ({path}) in the state directory yet: run the bot first"
            if request.url.path.startswith("/api/"):  # "/api" itself is the page listing them
                return self._send(json.dumps({"error": text}), "application/json", 404)
            return self._send(
                pages.page("No state yet", f"<p>{text}</p>", [], "/"), "text/html", 404
            )
        try:
            names = state.strategy_names(tracker, self.d.source)
            view, render = make(tracker, names)
            return self._reply(request, view, render)
        except _NotFoundError as exc:
            return self._send(json.dumps({"error": str(exc)}), "application/json", 404)
        except BotError as exc:
            return self._send(json.dumps({"error": str(exc)}), "application/json", 500)
        finally:
            tracker.close()

    def overview(self, request: Request) -> Response:
        def make(tracker: Tracker, names: list[str]) -> tuple[dict[str, Any], Callable[[], str]]:
            view = state.overview(tracker, self.d.source, self.d.clock.now())
            return view, lambda: pages.overview_page(view, names)

        return self._with_tracker(request, make)

    def account(self, request: Request) -> Response:
        def make(tracker: Tracker, names: list[str]) -> tuple[dict[str, Any], Callable[[], str]]:
            view = state.account(tracker, self.d.source)
            return view, lambda: pages.page("Account", pages.equity_block(view), names, "/")

        return self._with_tracker(request, make)

    def strategy(self, request: Request) -> Response:
        name = str(request.path_params["name"])

        def make(tracker: Tracker, names: list[str]) -> tuple[dict[str, Any], Callable[[], str]]:
            _known(name, names)
            view = state.strategy(tracker, self.d.source, name, self.d.clock.now())
            return view, lambda: pages.strategy_page(view, names)

        return self._with_tracker(request, make)

    def backtest(self, request: Request) -> Response:
        name = str(request.path_params["name"])

        def make(tracker: Tracker, names: list[str]) -> tuple[dict[str, Any], Callable[[], str]]:
            _known(name, names)
            view = self.d.backtest(tracker, name)
            return view, lambda: pages.backtest_page(view, names)

        return self._with_tracker(request, make)

    def journal(self, request: Request) -> Response:
        day_text = request.query_params.get("day") or ""
        strategy = request.query_params.get("strategy") or None
        try:
            day = date.fromisoformat(day_text) if day_text else None
        except ValueError:
            return self._send(
                json.dumps({"error": f"{day_text!r} is not a date"}), "application/json", 400
            )

        def make(tracker: Tracker, names: list[str]) -> tuple[dict[str, Any], Callable[[], str]]:
            view = state.journal(tracker, self.d.source, day, strategy)
            return view, lambda: pages.journal_page(view, names)

        return self._with_tracker(request, make)

    def health(self, request: Request) -> Response:
        def make(tracker: Tracker, names: list[str]) -> tuple[dict[str, Any], Callable[[], str]]:
            view = state.health(tracker, self.d.source, self.d.clock.now())
            return view, lambda: pages.health_page(view, names)

        return self._with_tracker(request, make)

    def api(self, request: Request) -> Response:
        def make(_tracker: Tracker, names: list[str]) -> tuple[dict[str, Any], Callable[[], str]]:
            return {"strategies": names}, lambda: pages.api_page(names, names)

        return self._with_tracker(request, make)

    def healthz(self, _request: Request) -> Response:
        """The daemon's heartbeat, as ``bot run``'s ``/healthz`` answers it (200 or 503)."""
        from bot.bootstrap import heartbeat_path  # noqa: PLC0415 - a function, not an adapter

        now = self.d.clock.now()
        body = heartbeat_status(heartbeat_path(self.d.source.settings), now, DEFAULT_MAX_AGE)
        body.pop("file", None)
        return self._send(
            json.dumps(body, default=str), "application/json", 200 if body["ok"] else 503
        )


class _NotFoundError(LookupError):
    pass


def _known(name: str, names: list[str]) -> None:
    if name not in names:
        msg = f"no strategy {name!r} in this state directory (known: {', '.join(names) or 'none'})"
        raise _NotFoundError(msg)


class TokenGate:
    """Refuse every request without the token (401). ``?token=`` on any page sets the cookie
    and redirects to the same page without it, so the token leaves the address bar (and the
    browser history) at once; scripts send ``Authorization: Bearer TOKEN``."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        header = request.headers.get("authorization", "")
        given = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
        given = given or request.cookies.get(COOKIE, "")
        if self._matches(given):
            await self.app(scope, receive, send)
            return
        query = request.query_params.get("token", "")
        if self._matches(query):
            rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
            target = request.url.path + (
                "?" + "&".join(f"{quote(k)}={quote(v)}" for k, v in rest) if rest else ""
            )
            reply: Response = RedirectResponse(target, status_code=303, headers=HEADERS)
            reply.set_cookie(COOKIE, query, httponly=True, samesite="strict", path="/")
        else:
            reply = Response(
                "401: this dashboard needs its token (BOT_DASHBOARD_TOKEN): open it once as "
                "/?token=TOKEN, or send 'Authorization: Bearer TOKEN'\n",
                401,
                headers={**HEADERS, "WWW-Authenticate": "Bearer"},
                media_type="text/plain",
            )
        await reply(scope, receive, send)

    def _matches(self, given: str) -> bool:
        return bool(given) and hmac.compare_digest(given.encode(), self.token)
