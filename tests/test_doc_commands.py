"""Every `bot …` command written in a code block of the README or docs/ is one the command line
accepts today (a renamed flag or config would fail here), and the backtests of
docs/backtests.md print what the page shows (with the real closes, when they are present)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from bot.cli import _parser, main

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT.parent / "shared" / "data"
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL = {"sh", "bash", "shell", "console", "text"}


def documented(page: Path) -> list[tuple[str, str]]:
    """(command, the next ```text block after it) of each `bot …` line in a shell block."""
    found: list[tuple[str, str]] = []
    fence: str | None = None
    pending, block = "", []
    for raw in page.read_text().splitlines():
        line = raw.rstrip()
        if line.lstrip().startswith("```"):
            if fence is None:
                fence, block = line.strip()[3:] or "text", []
            else:
                if fence == "text" and found and not found[-1][1]:
                    found[-1] = (found[-1][0], "\n".join(block))
                fence = None
            continue
        if fence is None:
            continue
        block.append(line)
        if fence not in SHELL:
            continue
        line = f"{pending} {line.strip()}" if pending else line
        pending = ""
        if line.endswith("\\"):
            pending = line[:-1]
            continue
        text = line.strip().removeprefix("$ ")
        command = re.search(r"(?:^|&&\s*|\.venv/bin/)(bot\s[^#]*)", text)
        if command and not text.startswith("#"):
            found.append((command.group(1).strip(), ""))
    return found


COMMANDS = [(page.relative_to(ROOT), c, out) for page in PAGES for c, out in documented(page)]


def test_the_pages_document_commands() -> None:
    assert len(COMMANDS) >= 15
    assert {str(p) for p, _, _ in COMMANDS} >= {"README.md", "docs/backtests.md", "docs/alpaca.md"}


@pytest.mark.parametrize(("page", "command", "output"), COMMANDS, ids=lambda v: str(v)[:60])
def test_every_documented_command_is_accepted_by_the_command_line(
    page: Path, command: str, output: str
) -> None:
    argv = shlex.split(command.replace("$DATA", "/data"))[1:]
    args = _parser().parse_args(argv)  # exits (a test failure) on an unknown or missing flag
    config = getattr(args, "config", None)
    for path in config if isinstance(config, list) else [config] if config else []:
        assert (ROOT / path).is_file(), f"{page}: {command} names {path}, which does not exist"


BACKTESTS = [(c, out) for p, c, out in COMMANDS if str(p) == "docs/backtests.md" and out]


@pytest.mark.skipif(not REAL.is_dir(), reason=f"real data not present at {REAL}")
@pytest.mark.parametrize(("command", "output"), BACKTESTS, ids=lambda v: str(v)[:70])
def test_the_documented_backtests_print_what_the_page_shows(
    command: str, output: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.chdir(ROOT)
    argv = shlex.split(command.replace("$DATA", str(REAL)))[1:]
    if "--plot" in argv:  # the page's figure stays as committed
        argv[argv.index("--plot") + 1] = str(tmp_path / "plot.png")
    if "--out" in argv:  # so do a sweep's table and heatmap
        argv[argv.index("--out") + 1] = str(tmp_path / "sweep")
    assert main(argv) == 0
    printed = set(capsys.readouterr().out.splitlines())
    missing = [line for line in output.splitlines() if line.strip() and line not in printed]
    assert not missing, f"{command}: the page shows lines the command no longer prints"
