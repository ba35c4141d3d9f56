"""The import drawing of bot/ and strategies/ (benchmarks/import_graph.py, read with ``ast``):
no import circle, a core that reaches no adapter's library, and adapters built in one place.

Every import statement counts: module level, inside functions, and under ``if TYPE_CHECKING:``
(a type-only import does not run, but it still ties two modules together, so a circle through
one is a circle). ``python -m benchmarks.import_graph`` prints the whole drawing.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from benchmarks.import_graph import (
    CORE_MODULES,
    FORBIDDEN_IN_CORE,
    FUNCTION,
    ROOT,
    RUNTIME,
    TYPE_ONLY,
    Construction,
    build_graph,
    constructions,
    core_modules,
    cycle_lines,
)

GRAPH = build_graph()
CORE = core_modules(GRAPH)

# Adapters built outside bot/bootstrap.py on purpose: (module, constructor) -> why.
BUILT_ELSEWHERE = {
    ("bot.alerts", "Tracker"): (
        "each delivery thread opens its own connection to the tracker file the dispatcher was "
        "given (SQLite connections belong to the thread that opened them)"
    ),
}


def _drawing(modules: list[str] | None = None) -> str:
    return "import drawing (~ inside a function, ? under TYPE_CHECKING):\n" + GRAPH.drawing(modules)


def test_the_drawing_covers_the_core() -> None:
    """Every module or package named as core exists (a rename must not drop one silently), and
    a package counts with its modules: every strategy, every trigger."""
    assert set(CORE_MODULES) <= set(GRAPH.modules)
    strategies = [m for m in GRAPH.modules if m.split(".")[0] == "strategies"]
    assert len(strategies) >= 5  # the package and its four modules
    assert set(strategies) <= set(CORE)
    assert {m for m in GRAPH.modules if m.startswith("bot.triggers.")} <= set(CORE)


def test_no_import_circle() -> None:
    """No set of modules imports itself round, counting imports in functions and type-only
    imports too."""
    circles = cycle_lines(GRAPH)
    assert not circles, "\n".join(["import circles:", *circles, "", _drawing()])


@pytest.mark.parametrize("module", CORE)
def test_core_reaches_no_adapter_library(module: str) -> None:
    """A core module imports none of sqlite3, alpaca, apscheduler, smtplib, numba or requests,
    itself or through any module of ours it loads (parent packages included)."""
    found = GRAPH.forbidden(module, FORBIDDEN_IN_CORE)
    assert not found, "\n".join(
        [f"{module} reaches:", *found, "", _drawing(sorted(GRAPH.reach(module)))]
    )


def test_importing_the_core_loads_no_adapter_library() -> None:
    """The same, at run time: a fresh interpreter that imports the core has none of the
    forbidden modules loaded, whatever the libraries do."""
    modules = CORE
    script = textwrap.dedent(
        f"""
        import importlib, sys
        for name in {modules!r}:
            importlib.import_module(name)
        print(",".join(sorted(m for m in {FORBIDDEN_IN_CORE!r} if m in sys.modules)))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == ""


def test_adapters_are_built_only_in_the_composition_root() -> None:
    """Brokers, market data, calendars, clocks, the tracker, alert channels and the health
    server are constructed in bot/bootstrap.py (or inside bot/adapters/), nowhere else."""
    built = [c for c in constructions(GRAPH) if (c.module, c.name) not in BUILT_ELSEWHERE]
    assert not built, "\n".join(
        f"{c.module}:{c.line} builds {c.name} ({c.origin}): ask bot.bootstrap for it" for c in built
    )


def test_the_exceptions_are_still_needed() -> None:
    """Each adapter allowed outside the composition root is still built there."""
    built = {(c.module, c.name) for c in constructions(GRAPH)}
    assert set(BUILT_ELSEWHERE) <= built


# --- the drawing itself, on a made-up package ------------------------------------------------


def _package(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def test_the_drawing_reads_every_kind_of_import(tmp_path: Path) -> None:
    _package(
        tmp_path,
        {
            "bot/__init__.py": "",
            "bot/a.py": """
                from typing import TYPE_CHECKING

                from bot import c

                if TYPE_CHECKING:
                    from bot.b import Thing

                def later():
                    import requests
            """,
            "bot/b.py": """
                def make():
                    from bot.a import later
                    return later
            """,
            "bot/c.py": "from .sub.d import helper\n",
            "bot/sub/__init__.py": "from bot.sub import e\n",
            "bot/sub/d.py": "def helper(): ...\n",
            "bot/sub/e.py": "import sqlite3\n",
            "strategies/__init__.py": "",
        },
    )
    graph = build_graph(tmp_path)
    kinds = {(e.source, e.target): e.kind for e in graph.internal}
    assert kinds[("bot.a", "bot.c")] == RUNTIME
    assert kinds[("bot.a", "bot.b")] == TYPE_ONLY
    assert kinds[("bot.b", "bot.a")] == FUNCTION
    assert kinds[("bot.c", "bot.sub.d")] == RUNTIME  # a relative import, resolved
    assert ("bot.a", "requests", FUNCTION) in {(e.source, e.target, e.kind) for e in graph.external}
    # a → b only under TYPE_CHECKING, b → a only inside a function: still a circle
    assert graph.cycles() == [["bot.a", "bot.b", "bot.a"]]
    # c loads bot.sub.d, so bot.sub's __init__ runs, which imports e, which imports sqlite3
    (path,) = graph.forbidden("bot.a", ["sqlite3"])
    assert path.startswith("bot.a → bot.c → bot.sub → bot.sub.e → sqlite3 (runtime")
    assert graph.forbidden("bot.b", ["requests"])  # through its lazy import of bot.a


def test_the_drawing_finds_adapters_built_outside_the_root(tmp_path: Path) -> None:
    _package(
        tmp_path,
        {
            "bot/__init__.py": "",
            "bot/adapters/__init__.py": "",
            "bot/adapters/paper.py": """
                from dataclasses import dataclass

                class PaperBroker:
                    pass

                @dataclass
                class Fees:
                    rate: float = 0.0
            """,
            "bot/bootstrap.py": """
                from bot.adapters.paper import PaperBroker

                def build():
                    return PaperBroker()
            """,
            "bot/command.py": """
                import bot.adapters.paper
                from bot.adapters import paper
                from bot.adapters.paper import Fees
                from bot.tracker import Tracker

                def run():
                    return paper.PaperBroker(), Fees(), Tracker(":memory:")

                def again():
                    return bot.adapters.paper.PaperBroker()
            """,
            "bot/tracker.py": "class Tracker:\n    def __init__(self, path): ...\n",
            "strategies/__init__.py": "",
        },
    )
    built = constructions(build_graph(tmp_path))
    assert built == [  # not the value (a dataclass), nor the root's own PaperBroker
        Construction("bot.command", "PaperBroker", "bot.adapters.paper", 8),
        Construction("bot.command", "Tracker", "bot.tracker", 8),
        Construction("bot.command", "PaperBroker", "bot.adapters.paper", 11),
    ]
