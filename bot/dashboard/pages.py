"""The dashboard's pages as HTML text, rendered from the view model of ``bot.dashboard.state``
(pure: the same values the JSON API serves go in, markup comes out).

One small inline stylesheet, system fonts, charts as inline SVG, no script: a page is one
request, works offline, and reads on a phone (a single column under 700 px).
"""

# ruff: noqa: E501 - HTML and CSS read best a tag or a rule to a line, however long
from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from html import escape
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from bot.dashboard import svg

Section = dict[str, Any]
NEW_YORK = ZoneInfo("America/New_York")

STYLE = """
:root{--fg:#1b1f24;--mute:#5b6570;--bg:#fff;--card:#f5f7f9;--line:#d8dde3;--a:#1f6feb;
--b:#9a6700;--bad:#cf222e;--ok:#1a7f37;--band:#dbe9ff}
*{box-sizing:border-box}body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",
Roboto,sans-serif;color:var(--fg);background:var(--bg)}
header{background:#24292f;color:#fff;padding:.5rem 1rem;display:flex;flex-wrap:wrap;gap:.25rem 1rem;
align-items:baseline}header b{margin-right:.5rem}header a{color:#cfe3ff;text-decoration:none}
header a.on{color:#fff;text-decoration:underline}
main{max-width:1000px;margin:0 auto;padding:1rem}h1{font-size:1.35rem;margin:.2rem 0 .8rem}
h2{font-size:1.1rem;margin:1.4rem 0 .5rem;border-bottom:1px solid var(--line);padding-bottom:.2rem}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(210px,1fr));gap:.6rem}
.card{background:var(--card);border-radius:8px;padding:.6rem .8rem}.card .big{font-size:1.4rem;
font-weight:600}.mute{color:var(--mute)}.bad{color:var(--bad);font-weight:600}
.ok{color:var(--ok);font-weight:600}.alert{border-left:4px solid var(--bad);background:#fff1f0;
padding:.5rem .8rem;margin:.5rem 0;border-radius:4px}
table{border-collapse:collapse;width:100%;font-size:.92rem}th,td{text-align:left;padding:.3rem .4rem;
border-bottom:1px solid var(--line);vertical-align:top}td.num,th.num{text-align:right;
font-variant-numeric:tabular-nums}.scroll{overflow-x:auto}
figure{margin:.3rem 0 1rem}svg.chart{width:100%;height:auto;display:block;background:#fff}
svg .grid{stroke:#eceff2}svg text{font:11px system-ui,sans-serif;fill:var(--mute)}
svg .yl{text-anchor:end}svg .xl{text-anchor:middle}svg polyline{fill:none;stroke-width:1.6;
vector-effect:non-scaling-stroke}polyline.a{stroke:var(--a)}polyline.b{stroke:var(--b)}
polyline.dd{stroke:var(--bad)}polyline.bt{stroke:var(--b);stroke-dasharray:6 4}polyline.gap{stroke:#6e40c9}svg .band{fill:var(--band)}
svg .target{stroke:#24292f;stroke-width:2}svg .now{fill:var(--a)}svg .now.out{fill:var(--bad)}
svg .sym{fill:var(--fg);font-weight:600}svg .val{text-anchor:end;fill:var(--fg)}
figcaption{font-size:.85rem;color:var(--mute)}.key{margin-right:1rem}.key:before{content:"";
display:inline-block;width:.8rem;height:.25rem;margin-right:.3rem;vertical-align:middle;
background:currentColor}.key.a{color:var(--a)}.key.b{color:var(--b)}.key.dd{color:var(--bad)}
.key.gap{color:#6e40c9}.key.bt{color:var(--b)}.key.band{color:#9fc2f7}.key.target{color:#24292f}.key.now{color:var(--a)}
form{display:flex;flex-wrap:wrap;gap:.5rem;align-items:end;margin:.5rem 0}select,input,button{
font:inherit;padding:.25rem .4rem}code{font-size:.85rem;word-break:break-all}
@media (max-width:700px){main{padding:.6rem}td,th{padding:.25rem}.wide{display:none}
svg.chart text{font-size:22px}}
"""


def page(title: str, body: str, nav: Sequence[str], current: str, *, now: str = "") -> str:
    """A whole page: the header with its links (``nav`` are strategy names), then ``body``."""
    links = [("/", "Overview"), *[(f"/strategy/{quote(n)}", n) for n in nav]]
    links += [("/journal", "Journal"), ("/health", "Health"), ("/api", "API")]
    menu = "".join(
        f'<a href="{href}"{" class=on" if href == current else ""}>{escape(text)}</a>'
        for href, text in links
    )
    stamp = f'<span class="mute">as of {escape(_when(now))}</span>' if now else ""
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)} — bot dashboard</title><style>{STYLE}</style></head>"
        f"<body><header><b>bot dashboard</b>{menu}{stamp}</header>"
        f"<main><h1>{escape(title)}</h1>{body}</main></body></html>"
    )


def _when(text: str | None) -> str:
    if not text:
        return "-"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    # New York time, as `bot status` prints it: the market's clock is the one that matters.
    return moment.astimezone(NEW_YORK).strftime("%Y-%m-%d %H:%M %Z") if moment.tzinfo else text


def _money(value: float | None) -> str:
    return "-" if value is None else svg.money(value)


def _pct(value: float | None, signed: bool = True) -> str:
    if value is None:
        return "-"
    return f"{value:+.1%}" if signed else f"{value:.1%}"


def _points(series: list[list[Any]] | None) -> list[svg.Point]:
    return [(date.fromisoformat(str(d)), float(v)) for d, v in series or []]


# --- overview ----------------------------------------------------------------------------------


def overview_page(view: Section, nav: Sequence[str]) -> str:
    """The account, one card per strategy, and whatever needs a look (health, errors)."""
    body = [health_banner(view["health"])]
    cards = []
    for card in view["strategies"]:
        last = card["last_cycle"]
        outcome = "no cycle yet" if last is None else f"{last['session']}: {last['outcome']}"
        error = card["last_error"]
        cards.append(
            f'<a class="card" href="/strategy/{quote(card["strategy"])}" '
            f'style="color:inherit;text-decoration:none" data-strategy="{escape(card["strategy"])}">'
            f"<div>{escape(card['strategy'])}</div>"
            f'<div class="big" data-k="equity">{_money(card["equity"])}</div>'
            f'<div class="mute">{_pct(card["return_since_start"])} since start · '
            f"{escape(str(card['as_of'] or '-'))}</div>"
            f'<div class="mute">last cycle {escape(outcome)}</div>'
            + (f'<div class="bad">error: {escape(str(error["error"]))}</div>' if error else "")
            + "</a>"
        )  # fmt: skip
    body.append(f'<div class="cards">{"".join(cards) or "<p>nothing recorded yet</p>"}</div>')
    body.append("<h2>The whole account</h2>")
    body.append(equity_block(view["account"]))
    return page("Overview", "".join(body), nav, "/", now=view["now"])


def health_banner(health: Section) -> str:
    """A red box for a stale or stopped heartbeat, a failing alert channel or a recent error;
    a green line when all is well."""
    problems = []
    beat = health["heartbeat"]
    if beat.get("configured") and beat.get("stopped"):
        problems.append(f"The daemon STOPPED: {beat.get('reason') or 'no reason recorded'}")
    elif beat.get("configured") and not beat.get("ok"):
        age = beat.get("age_seconds")
        problems.append(
            "Heartbeat STALE: " + ("none readable" if age is None else f"last beat {_age(age)} ago")
        )
    for name, channel in health["alerts"].items():
        if not channel["ok"]:
            problems.append(f"Alert channel {name} is failing: {channel.get('last_error')}")
    for row in health["strategies"]:
        error = row["last_error"]
        last = row["last_wake"]
        if error and (
            last is None or error["run_id"] == last["run_id"] or error["at"] > last["finished_at"]
        ):
            problems.append(f"{row['strategy']}: ERROR {error['error']}: {error['message']}")
    if not problems:
        return '<p class="ok" id="health-ok">All is well: heartbeat fresh, no error in the last cycles.</p>'
    items = "".join(f"<div>{escape(p)}</div>" for p in problems)
    return f'<div class="alert" id="problems">{items}</div>'


def _age(seconds: float) -> str:
    seconds = abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"


def equity_block(view: Section) -> str:
    """Equity with the benchmark, the drawdown, and the forum-style quarterly lines."""
    equity = _points(view["equity"])
    lines = [svg.Line("equity", equity, "a")]
    bench = view.get("benchmark")
    if bench:
        lines.append(svg.Line(f"{bench['symbol']}, same start", _points(bench["equity"]), "b"))
    chart = svg.line_chart(lines, label="equity")
    dd = svg.line_chart(
        [svg.Line("drawdown", _points(view["drawdown"]), "dd")],
        label="drawdown",
        fmt=svg.percent,
        height=140,
    )
    worst = view["max_drawdown"]
    rows = "".join(
        f'<tr><td>{escape(line["period"])}</td><td class="num">{svg.money(line["equity"])}</td>'
        f'<td class="num">{line["return_since_start"]:+.1%}</td>'
        f'<td class="mute">{"latest" if line["latest"] else ""}</td></tr>'
        for line in view["tracker_lines"]
    )
    tracker = (
        f'<table id="tracker-lines"><tr><th>quarter</th><th class="num">equity</th>'
        f'<th class="num">since start</th><th></th></tr>{rows}</table>'
        if rows
        else "<p>no equity recorded yet</p>"
    )
    deepest = (
        f'<p class="mute">max drawdown {worst["depth"]:.1%} '
        f"({escape(str(worst['peak']))} → {escape(str(worst['trough']))})</p>"
        if worst["trough"]
        else ""
    )
    return f"{chart}{dd}{deepest}<h2>Tracker (quarterly, as bot tracker prints it)</h2>{tracker}"


# --- a strategy --------------------------------------------------------------------------------


def strategy_page(view: Section, nav: Sequence[str]) -> str:
    """Equity, positions against targets with the corridor, the next wake, and a link to the
    live-against-backtest page."""
    name = view["strategy"]
    body = [
        equity_block(view),
        "<h2>Positions against targets</h2>",
        positions_block(view["positions"]),
    ]
    body.append("<h2>Next wake</h2>" + next_wake_block(view["next_wake"]))
    body.append(
        f'<p><a href="/strategy/{quote(name)}/backtest">Live against backtest →</a> · '
        f'<a href="/journal?strategy={quote(name)}">journal</a></p>'
    )
    return page(name, "".join(body), nav, f"/strategy/{quote(name)}")


def positions_block(view: Section | None) -> str:
    """The corridor chart and the table of ``bot status``'s positions."""
    if view is None:
        return "<p>no positions recorded yet</p>"
    rows = view["symbols"]
    chart = svg.corridor_chart(
        [
            (r["symbol"], r["target"], r["current"], r["lower"], r["upper"], r["outside"])
            for r in rows
        ]
    )
    corridor = view["corridor"]
    band = ""
    if corridor:
        band = (
            f"corridor ±{corridor['width']:.0%} of each target"
            if corridor["relative"]
            else f"corridor ±{corridor['width'] * 100:g} pp around each target"
        )
    table = "".join(
        f'<tr data-symbol="{escape(r["symbol"])}"><td>{escape(r["symbol"])}</td>'
        f'<td class="num">{_pct(r["target"], False)}</td><td class="num">{_pct(r["current"], False)}</td>'
        f'<td class="num{" bad" if r["outside"] else ""}">'
        f"{_pp(r['drift'])}</td>"
        f'<td class="num wide">{escape(r["qty"])}</td></tr>'
        for r in rows
    )
    measured = view.get("measured") or {}
    return (
        f"{chart}<p class=mute>{escape(band)} {escape(view['note'])}"
        f"{' (run ' + escape(str(measured.get('run_id'))) + ')' if measured else ''}</p>"
        '<div class="scroll"><table id="positions"><tr><th>fund</th><th class="num">target</th>'
        '<th class="num">now</th><th class="num">drift</th><th class="num wide">shares</th></tr>'
        f"{table}</table></div>"
    )


def next_wake_block(view: Section | None) -> str:
    """When the bot wakes next and what it will do then."""
    if view is None:
        return "<p class=mute>start the dashboard with --config FILE to see the next wake</p>"
    wake = view["wake"]
    when = wake.get("new_york") or f"none ({wake.get('note', '')})"
    plan = view.get("plan", "")
    return f'<p id="next-wake"><b>{escape(str(when))}</b> ({escape(wake.get("clock", ""))} clock)<br>{escape(plan)}</p>'


# --- live against backtest ---------------------------------------------------------------------


def backtest_page(view: Section, nav: Sequence[str]) -> str:
    """The account next to its backtest over the same days, the gap, and its causes."""
    name = view["strategy"]
    live = _points(view["live"])
    if "backtest" not in view:
        chart = svg.line_chart([svg.Line("live", live, "a")], label="live equity")
        note = escape(view.get("note", ""))
        return page(
            f"{name}: live against backtest", f'{chart}<p class="alert">{note}</p>', nav, ""
        )
    bt = _points(view["backtest"])
    body = [
        svg.line_chart(
            [svg.Line("live", live, "a"), svg.Line("backtest, same days", bt, "bt")],
            label="live and backtest equity",
        ),
        svg.line_chart(
            [svg.Line("gap: live − backtest", _points(view["gap"]), "gap")],
            label="gap",
            height=140,
            fmt=_usd,
        ),
    ]
    gap = view["shortfall"]
    if gap:
        causes = gap["causes"]
        body.append(
            '<h2>The gap and its causes</h2><table id="shortfall">'
            f'<tr><td>live on {escape(gap["day"])}</td><td class="num" data-k="live">{_usd(gap["live"])}</td></tr>'
            f'<tr><td>backtest</td><td class="num" data-k="backtest">{_usd(gap["backtest"])}</td></tr>'
            f'<tr><th>gap (live − backtest)</th><th class="num" data-k="gap">{_usd(gap["gap"])}'
            f" ({_pct(gap['gap_pct'], True)})</th></tr>"
            f'<tr><td>fills away from the close</td><td class="num" data-k="fills">{_usd(causes["fills_away_from_close"])}</td></tr>'
            f'<tr><td>fees</td><td class="num" data-k="fees">{_usd(causes["fees"])}</td></tr>'
            f"<tr><td>the rest: skipped or late days, cash held, rounding</td>"
            f'<td class="num" data-k="other">{_usd(causes["other"])}</td></tr></table>'
            '<p class="mute">Each cause is what the backtest paid minus what the account paid: '
            "positive helped the account, negative cost it; in dollars at the time, not "
            "compounded, so the parts add up to the gap.</p>"
        )
    cash = view["cash"]
    body.append(
        f"<p>Cash held on average: live {_pct(cash['live'], False)}, backtest "
        f"{_pct(cash['backtest'], False)} (cash buffer {cash['buffer']:.1%}).</p>"
    )
    days = view["days"]
    body.append(
        "<h2>Days that differ</h2>"
        + (
            "<ul>" + "".join(f"<li>{escape(d)}</li>" for d in days[:50]) + "</ul>"
            if days
            else "<p>none: the account traded on the backtest's days</p>"
        )
    )
    synthetic = " The closes are SYNTHETIC (the demo's market)." if view["synthetic"] else ""
    body.append(
        f"<p class=mute>Backtest: {escape(view['costs'])}; the same as "
        f"<code>{escape(view['command'])}</code>.{synthetic}</p>"
    )
    return page(f"{name}: live against backtest", "".join(body), nav, "")


def _pp(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:+.2f} pp"


def _usd(value: float | None) -> str:
    """$1,234.56 or −$0.13: cents matter in a gap."""
    return "-" if value is None else f"{'−' if value < 0 else ''}${abs(value):,.2f}"


# --- journal and health ------------------------------------------------------------------------


def journal_page(view: Section, nav: Sequence[str]) -> str:
    """A day's events (a form picks the day and the strategy) and the latest problems."""
    day_options = "".join(
        f"<option{' selected' if d == view['day'] else ''}>{escape(d)}</option>"
        for d in view["days"][:400]
    )
    strategy_options = '<option value="">all</option>' + "".join(
        f"<option{' selected' if s == view['strategy'] else ''}>{escape(s)}</option>"
        for s in view["strategies"]
    )
    form = (
        f'<form method="get"><label>day<br><select name="day">{day_options}</select></label>'
        f'<label>strategy<br><select name="strategy">{strategy_options}</select></label>'
        "<button>show</button></form>"
    )
    problems = _events_table(view["problems"], "problems")
    events = _events_table(view["events"], "events")
    return page(
        "Journal",
        f"{form}<h2>Problems (latest)</h2>{problems}<h2>{escape(str(view['day']))}</h2>{events}",
        nav,
        "/journal",
    )


def _events_table(events: list[Section], table_id: str) -> str:
    if not events:
        return "<p>none</p>"
    rows = "".join(
        f'<tr class="k-{escape(e["kind"])}"><td class="wide">{escape(e["at"][11:19])}</td>'
        f"<td>{escape(e['strategy'] or 'daemon')}</td><td>{escape(e['kind'])}</td>"
        f"<td>{'<code>' + escape(e['client_order_id']) + '</code> ' if e['client_order_id'] else ''}"
        f"{escape(e['summary'])}</td></tr>"
        for e in events
    )
    return (
        f'<div class="scroll"><table id="{table_id}"><tr><th class="wide">time (UTC)</th>'
        f"<th>strategy</th><th>event</th><th>what</th></tr>{rows}</table></div>"
    )


def health_page(view: Section, nav: Sequence[str]) -> str:
    """Heartbeat, daemon, wakes, alert channels, data freshness and data flags."""
    beat = view["heartbeat"]
    if not beat.get("configured"):
        beat_text = "not configured"
    elif beat.get("age_seconds") is None:
        beat_text = '<span class="bad">none readable</span>'
    else:
        state = "STOPPED" if beat.get("stopped") else "fresh" if beat["ok"] else "STALE"
        css = "ok" if state == "fresh" else "bad"
        beat_text = (
            f'<span class="{css}" id="heartbeat-state">{state}</span>: last beat '
            f"{_age(beat['age_seconds'])} ago ({escape(_when(beat.get('at')))})"
        )
    daemon = view["daemon"]
    rows = []
    for row in view["strategies"]:
        last = row["last_wake"] or {}
        wake = row["next_wake"] or {}
        data = row["data"] or {}
        fresh = (
            "-"
            if not data
            else f'<span class="{"ok" if data["fresh"] else "bad"}">'
            f"{escape(str(data['last_bar']))}{'' if data['fresh'] else ' STALE'}</span>"
        )
        rows.append(
            f"<tr><td>{escape(row['strategy'])}</td>"
            f"<td>{escape(_when(last.get('finished_at')))} {escape(str(last.get('outcome') or ''))}</td>"
            f"<td>{escape(str(wake.get('new_york') or wake.get('note') or '-'))}</td><td>{fresh}</td></tr>"
        )
    alerts = "".join(
        f'<tr><td>{escape(name)}</td><td class="{"ok" if c["ok"] else "bad"}">'
        f"{'ok' if c['ok'] else 'FAILING'}</td><td>{escape(_when(c.get('last_success_at')))}</td>"
        f"<td>{escape(str(c.get('last_error') or ''))}</td></tr>"
        for name, c in view["alerts"].items()
    )
    flags = "".join(
        f"<li>{escape(f['at'][:10])} {escape(f['strategy'])}: {escape(f['summary'])}</li>"
        for f in view["data_flags"]
    )
    body = (
        health_banner(view)
        + f"<p>Heartbeat: {beat_text}</p><p>Daemon: {escape(daemon['state'])}"
        + (f" ({escape(str(daemon.get('reason')))})" if daemon.get("reason") else "")
        + "</p>"
        + '<div class="scroll"><table id="wakes"><tr><th>strategy</th><th>last wake</th>'
        + f"<th>next wake</th><th>last bar</th></tr>{''.join(rows)}</table></div>"
        + "<h2>Alert channels</h2>"
        + (
            f'<table id="alerts"><tr><th>channel</th><th>state</th><th>last sent</th><th>last error</th></tr>{alerts}</table>'
            if alerts
            else "<p>none configured (set SLACK_WEBHOOK_URL or the SMTP settings)</p>"
        )
        + "<h2>Data: bad prints, stale or missing prices</h2>"
        + (f'<ul id="data-flags">{flags}</ul>' if flags else "<p>none recorded</p>")
    )
    return page("Health", body, nav, "/health", now=view["now"])


def api_page(nav: Sequence[str], names: Sequence[str]) -> str:
    """The JSON endpoints, with links (docs/dashboard.md describes every field)."""
    paths = ["/api/overview", "/api/account", "/api/health", "/api/journal"]
    for name in names:
        paths += [f"/api/strategies/{quote(name)}", f"/api/strategies/{quote(name)}/backtest"]
    items = "".join(f'<li><a href="{p}"><code>{escape(p)}</code></a></li>' for p in paths)
    return page(
        "JSON API",
        f"<p>Read-only JSON, the numbers of these pages.</p><ul>{items}</ul>",
        nav,
        "/api",
    )
