"""``bot dashboard``: the read-only dashboard of the state directory, in the foreground; and the
same app beside the daemon (``bot run`` with ``BOT_DASHBOARD_PORT``)."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from bot.bootstrap import channels_from_settings, open_tracker, wall_clock
from bot.config import BotConfig, load_config
from bot.errors import ConfigError
from bot.portfolio.config import is_portfolio_file, load_portfolio
from bot.settings import Settings

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from bot.dashboard.app import NowSource

EXIT_ERROR = 2


class Stoppable(Protocol):
    """A server the daemon stops on its way out."""

    def stop(self) -> None:
        """Stop serving and release the port."""
        ...


def dashboard_command(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C: check the bind and the token first, then say where to look."""
    settings = Settings()
    host = args.host or settings.dashboard_host
    try:
        from bot.dashboard.server import DashboardServer  # noqa: PLC0415 - uvicorn on use
    except ImportError as exc:
        print(f"error: the dashboard needs Starlette and uvicorn ({exc.name} is missing): "
              "pip install -e . again", file=sys.stderr)  # fmt: skip
        return EXIT_ERROR
    check_bind(settings, host)
    configs = configs_of(args.config)
    app = dashboard_app(settings, configs, args.data, config_path=args.config, host=host)
    server = DashboardServer(app, host, args.port)
    if not settings.tracker_path.exists():
        print(f"note: no tracker at {settings.tracker_path} yet: pages will say so until the "
              "bot has run (BOT_STATE_DIR)")  # fmt: skip
    print(f"dashboard of {settings.state_dir.resolve()}: {server.url} (read-only; Ctrl-C stops)")
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how a user stops it
        server.serve_forever()
    return 0


def configs_of(path: Path | None) -> dict[str, BotConfig]:
    """The strategies of ``--config``: one strategy file, or every strategy of a portfolio."""
    if path is None:
        return {}
    if is_portfolio_file(path):
        return {c.name: c for c in load_portfolio(path).strategies}
    config = load_config(path)
    return {config.name: config}


def dashboard_app(
    settings: Settings,
    configs: Mapping[str, BotConfig],
    data_dir: Path | None,
    *,
    config_path: Path | None = None,
    clock: NowSource | None = None,
    host: str = "127.0.0.1",
) -> ASGIApp:
    """The app over ``settings.state_dir``, with the token when one is set and every secret
    of the environment scrubbed from its answers."""
    from bot.dashboard.app import Dashboard, build_app, is_loopback  # noqa: PLC0415 - on use
    from bot.dashboard.state import Source  # noqa: PLC0415

    token = settings.dashboard_token.get_secret_value() if settings.dashboard_token else None
    try:
        channels = tuple(c.name for c in channels_from_settings(settings))
    except ConfigError:
        channels = ()
    source = Source(settings, dict(configs), data_dir, channels, config_path)
    secrets = [
        s.get_secret_value()
        for s in (
            settings.api_key_id,
            settings.api_secret_key,
            settings.slack_webhook_url,
            settings.smtp_password,
            settings.dashboard_token,
        )
        if s is not None
    ]
    dashboard = Dashboard(source, clock or wall_clock(), lambda: open_tracker(settings), secrets)
    return build_app(dashboard, token, loopback=is_loopback(host))


def check_bind(settings: Settings, host: str) -> None:
    """A non-loopback bind needs BOT_DASHBOARD_TOKEN (raised as a one-line error)."""
    from bot.dashboard.server import require_token_off_loopback  # noqa: PLC0415

    token = settings.dashboard_token.get_secret_value() if settings.dashboard_token else None
    require_token_off_loopback(host, token)


def start_beside_daemon(settings: Settings, configs: list[BotConfig]) -> Stoppable | None:
    """``bot run`` with ``BOT_DASHBOARD_PORT``: the same app in a thread of the daemon, on
    ``BOT_DASHBOARD_HOST`` (loopback by default; any other needs the token). None when no
    port is set: the daemon imports nothing of the web stack then."""
    if settings.dashboard_port is None:
        return None
    check_bind(settings, settings.dashboard_host)
    from bot.dashboard.server import DashboardServer  # noqa: PLC0415 - uvicorn on use

    host = settings.dashboard_host
    app = dashboard_app(settings, {c.name: c for c in configs}, None, host=host)
    server = DashboardServer(app, host, settings.dashboard_port).start()
    print(f"dashboard: {server.url} (read-only)")
    return server
