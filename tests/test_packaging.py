"""What an install carries: the daemon (and its Docker image) installs only what trading needs;
numba, which only the compiled backtest loop uses, is the ``backtest`` extra. No command imports
it: ``bot backtest`` runs the plain loop and works with numba absent; the compiled loop, asked for
without numba, says in one line what to install. CI runs the README's test command.

numba's absence is simulated by a package named ``numba`` first on the path whose import fails.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from datetime import date
from pathlib import Path

import pytest

from bot.backtest.compiled import INSTALL_HINT
from bot.market.sessions import xnys_sessions
from bot.market.synthetic import synthetic_closes

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("numba", "llvmlite", "matplotlib")
# What the daemon and the command line load: none may pull in HEAVY.
ENTRY_MODULES = (
    "bot.cli",
    "bot.run_command",
    "bot.daemon",
    "bot.scheduler",
    "bot.health",
    "bot.backtest.command",
    "bot.backtest.fast",
)


def project() -> dict[str, object]:
    with (ROOT / "pyproject.toml").open("rb") as file:
        table: dict[str, object] = tomllib.load(file)["project"]
    return table


def names(requirements: object) -> set[str]:
    assert isinstance(requirements, list)
    return {re.split(r"[\s<>=!~\[;]", str(r), maxsplit=1)[0].lower() for r in requirements}


def python(code: str, *, block_numba: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a new interpreter from the repository root (numba blocked if asked)."""
    env = dict(os.environ)
    paths = [str(block_numba)] if block_numba else []
    env["PYTHONPATH"] = os.pathsep.join([*paths, str(ROOT), env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture
def no_numba(tmp_path: Path) -> Path:
    """A directory whose ``numba`` package refuses to import, as if numba were not installed
    (and leaves ``sys.numba_import_tried`` behind: the plain paths must not even try)."""
    stub = tmp_path / "blocked" / "numba"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text(
        "import sys\n"
        "sys.numba_import_tried = True  # type: ignore[attr-defined]\n"
        'raise ImportError("numba is blocked by this test")\n'
    )
    return stub.parent


def test_the_daemon_installs_without_numba_and_backtests_have_an_extra() -> None:
    table = project()
    extras = table["optional-dependencies"]
    assert isinstance(extras, dict)

    assert not names(table["dependencies"]) & set(HEAVY)
    assert {"numba", "matplotlib"} <= names(extras["backtest"])
    assert names(extras["plot"]) == {"matplotlib"}  # what --plot's error tells a user to install
    assert "letf-rebalancer[backtest]" in extras["dev"]  # the tests compare both loops


def test_the_docker_image_installs_the_project_without_extras() -> None:
    """The locked runtime dependencies (no extra is in the lock: tests/test_deploy.py), then
    the project itself without resolving anything more."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    installs = re.findall(r"pip install[^\n]*", dockerfile)

    assert installs == [
        "pip install --no-cache-dir --require-hashes -r requirements.lock",
        "pip install --no-cache-dir --no-deps --no-build-isolation .",
    ]
    assert "NUMBA_" not in dockerfile  # no numba cache to place: numba is not installed


def test_ci_runs_the_readmes_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    command = re.search(r"Run the tests[^\n]*\n+```sh\n([^\n]+)\n```", readme)
    assert command is not None

    assert command.group(1) in (ROOT / ".ci" / "run").read_text()


def test_the_command_line_and_the_daemon_do_not_import_numba_or_matplotlib() -> None:
    imports = "; ".join(f"import {m}" for m in ENTRY_MODULES)
    code = f"import sys; {imports}; print(sorted(m for m in {HEAVY!r} if m in sys.modules))"

    result = python(code)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_bot_help_runs_without_numba(no_numba: Path) -> None:
    code = (
        "import sys; from bot.cli import main\n"
        "try:\n    main(['--help'])\n"
        "finally:\n    assert not getattr(sys, 'numba_import_tried', False)"
    )

    result = python(code, block_numba=no_numba)

    assert result.returncode == 0, result.stderr
    assert "backtest" in result.stdout


def test_a_backtest_runs_without_numba(no_numba: Path, tmp_path: Path) -> None:
    sessions = xnys_sessions(date(2023, 1, 3), date(2024, 6, 28))
    closes = synthetic_closes(["UPRO", "TMF", "SPY"], sessions, seed=3)
    data = tmp_path / "data"
    data.mkdir()
    for symbol in closes.columns:
        closes[[symbol]].rename(columns={symbol: "Close"}).rename_axis("Date").to_csv(
            data / f"{symbol}.csv"
        )
    argv = ["backtest", "--config", "config/hfea.toml", "--data", str(data), "--json"]
    code = (
        "import sys; from bot.cli import main; code = main(" + repr(argv) + "); "
        "sys.exit(99 if getattr(sys, 'numba_import_tried', False) else code)"
    )

    result = python(code, block_numba=no_numba)

    assert result.returncode == 0, result.stderr
    assert '"strategy": "hfea"' in result.stdout
    assert "numba" not in result.stderr


def test_the_compiled_loop_without_numba_says_what_to_install_in_one_line(
    no_numba: Path,
) -> None:
    result = python(
        "from bot.backtest.warm import main; raise SystemExit(main())", block_numba=no_numba
    )

    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert INSTALL_HINT in lines[0]
    assert lines[0].startswith("error: the compiled backtest loop needs numba")


def test_the_parser_loads_nothing_heavy() -> None:
    """`bot --help` builds the parser from argparse alone: each command's handler (pandas,
    alpaca-py, the cycle) is imported when that command runs, so help is instant."""
    script = (
        "import sys\nfrom bot.cli import _parser\n_parser()\n"
        "heavy = ('pandas', 'numpy', 'alpaca', 'requests', 'numba', 'bot.cycle', 'sqlite3')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy or m in heavy))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"
