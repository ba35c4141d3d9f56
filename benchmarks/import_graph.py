"""The import drawing of ``bot/`` and ``strategies/``: which module imports which (read by ``ast``).

Every ``import`` statement counts: at module level, inside functions (a lazy import is still a
dependency), and under ``if TYPE_CHECKING:`` (marked as such: it does not run, but it still ties
the two modules together). ``tests/test_architecture.py`` asserts on the graph; run this file to
print it::

    python -m benchmarks.import_graph            # the adjacency list, cycles, core violations
    python -m benchmarks.import_graph --core     # only the core modules and what they reach

Two graphs are kept apart:

* the *import* graph: one edge per statement, to the module named (``from bot.x import y``
  names ``bot.x``, or ``bot.x.y`` when that is a module). Cycles are looked for here.
* the *load* graph: the import graph plus, for every imported module, its parent packages
  (importing ``strategies.base`` runs ``strategies/__init__.py``). What a module drags in at
  run time (``sqlite3``, ``numba``...) is read here.
"""

from __future__ import annotations

import ast
import itertools
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "strategies")

# The core: trading rules and the ports they talk through. Nothing here may reach a concrete
# adapter's library, directly or through another module of ours. A package counts with every
# module in it.
CORE_MODULES = (
    "bot.cycle",
    "bot.planner",
    "bot.execution",
    "bot.triggers",
    "bot.domain",
    "bot.checks",
    "bot.splits",
    "bot.ports",
    "bot.errors",
    "bot.stopping",
    "bot.portfolio.ledger",
    "bot.portfolio.sleeve_broker",
    "bot.portfolio.wake",
    "strategies",
)
FORBIDDEN_IN_CORE = ("sqlite3", "alpaca", "apscheduler", "smtplib", "numba", "requests")

RUNTIME, FUNCTION, TYPE_ONLY = "runtime", "function", "type-checking"
ImportNode = ast.Import | ast.ImportFrom


@dataclass(frozen=True, slots=True)
class Edge:
    """One import statement: ``source`` imports ``target`` (a module of ours, or an outside
    top-level name), at ``line``, of the given ``kind``."""

    source: str
    target: str
    kind: str  # RUNTIME (module level), FUNCTION (inside a def), TYPE_ONLY (if TYPE_CHECKING)
    line: int


@dataclass(slots=True)
class Graph:
    """Our modules, the edges between them, and the outside modules each one imports."""

    root: Path = ROOT
    modules: dict[str, Path] = field(default_factory=dict)
    internal: list[Edge] = field(default_factory=list)
    external: list[Edge] = field(default_factory=list)

    def successors(self, module: str, *, with_parents: bool = False) -> set[str]:
        """The modules of ours that ``module`` imports (with their packages: ``with_parents``)."""
        found = {e.target for e in self.internal if e.source == module}
        if with_parents:
            found |= {parent for target in found for parent in _parents(target, self.modules)}
            found |= set(_parents(module, self.modules))  # a module's own package runs first
            found.discard(module)
        return found

    def cycles(self) -> list[list[str]]:
        """Every strongly connected set of two or more modules (or a module importing itself),
        each as one closed path through it."""
        adjacency = {m: sorted(self.successors(m)) for m in self.modules}
        found = []
        for component in _strongly_connected(adjacency):
            self_loop = len(component) == 1 and component[0] in adjacency[component[0]]
            if len(component) > 1 or self_loop:
                found.append(_closed_path(component, adjacency))
        return sorted(found)

    def reach(self, module: str) -> dict[str, list[str]]:
        """Every module of ours that loading ``module`` loads, with one import path to each."""
        paths = {module: [module]}
        todo = [module]
        while todo:
            current = todo.pop()
            for target in sorted(self.successors(current, with_parents=True)):
                if target not in paths:
                    paths[target] = [*paths[current], target]
                    todo.append(target)
        return paths

    def forbidden(self, module: str, names: Iterable[str]) -> list[str]:
        """How ``module`` reaches each forbidden outside module, one line per (path, name)."""
        names = tuple(names)
        lines = []
        for reached, path in sorted(self.reach(module).items()):
            for edge in self.external:
                if edge.source == reached and edge.target in names:
                    chain = " → ".join([*path, edge.target])
                    lines.append(f"{chain} ({edge.kind}, {self.where(edge)})")
        return lines

    def where(self, edge: Edge) -> str:
        path = self.modules[edge.source].relative_to(self.root)
        return f"{path}:{edge.line}"

    def drawing(self, only: Iterable[str] | None = None) -> str:
        """The adjacency list as text: one module per line, then what it imports (``~`` marks
        an import inside a function, ``?`` one under TYPE_CHECKING; outside modules in [ ])."""
        wanted = sorted(self.modules) if only is None else sorted(only)
        mark = {RUNTIME: "", FUNCTION: "~", TYPE_ONLY: "?"}
        lines = []
        for module in wanted:
            ours = sorted({mark[e.kind] + e.target for e in self.internal if e.source == module})
            theirs = sorted({mark[e.kind] + e.target for e in self.external if e.source == module})
            lines.append(f"{module} -> {', '.join(ours) or '-'}  [{', '.join(theirs)}]")
        return "\n".join(lines)


def core_modules(graph: Graph) -> list[str]:
    """The core, as defined above, among the modules that exist."""
    return sorted(
        m for m in graph.modules if any(m == c or m.startswith(f"{c}.") for c in CORE_MODULES)
    )


def build_graph(root: Path = ROOT, packages: Iterable[str] = PACKAGES) -> Graph:
    """Read every ``.py`` file of ``packages`` under ``root``."""
    graph = Graph(root)
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            graph.modules[_module_name(path, root)] = path
    for module, path in graph.modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        is_package = path.name == "__init__.py"
        for node, kind in _imports(tree):
            for name in _imported_names(node, module, is_package=is_package):
                target = _resolve(name, graph.modules)
                if target is not None:
                    if target != module:  # `from . import x` in a package names itself first
                        graph.internal.append(Edge(module, target, kind, node.lineno))
                elif name.split(".")[0] not in (*PACKAGES, "__future__"):
                    graph.external.append(Edge(module, name.split(".")[0], kind, node.lineno))
    return graph


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(tree: ast.Module) -> Iterator[tuple[ImportNode, str]]:
    """Every import statement with its kind, walking into functions and TYPE_CHECKING blocks."""

    def walk(nodes: Iterable[ast.AST], kind: str) -> Iterator[tuple[ImportNode, str]]:
        for node in nodes:
            if isinstance(node, ast.Import | ast.ImportFrom):
                yield node, kind
            elif isinstance(node, ast.If) and _is_type_checking(node.test):
                yield from walk(node.body, TYPE_ONLY)
                yield from walk(node.orelse, kind)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                inner = TYPE_ONLY if kind == TYPE_ONLY else FUNCTION
                yield from walk(ast.iter_child_nodes(node), inner)
            else:
                yield from walk(ast.iter_child_nodes(node), kind)

    yield from walk(tree.body, RUNTIME)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported_names(node: ImportNode, module: str, *, is_package: bool) -> list[str]:
    """The dotted names one statement imports: ``from a import b`` gives ``a.b`` (resolved to
    ``a`` later when ``a.b`` is not a module)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        package = module.split(".") if is_package else module.split(".")[:-1]
        anchor = package[: len(package) - (node.level - 1)]
        base = ".".join([*anchor, base] if base else anchor)
    return [f"{base}.{alias.name}" for alias in node.names]


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The longest prefix of ``name`` that is one of our modules, or None."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


def _parents(module: str, modules: dict[str, Path]) -> list[str]:
    parts = module.split(".")
    return [p for p in (".".join(parts[:i]) for i in range(1, len(parts))) if p in modules]


def _strongly_connected(adjacency: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (no recursion limit to worry about)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0
    for start in sorted(adjacency):
        if start in index:
            continue
        work = [(start, iter(adjacency[start]))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(adjacency[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component))
    return components


def _closed_path(component: list[str], adjacency: dict[str, list[str]]) -> list[str]:
    """A shortest cycle through the component's first module, as ``[a, b, ..., a]``."""
    members = set(component)
    start = component[0]
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in adjacency[node]:
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [start, *reversed(path[:-1]), start] if node != start else [start, start]
                if child in members and child not in previous:
                    previous[child] = node
                    following.append(child)
        frontier = following
    return [start, start]


def cycle_lines(graph: Graph) -> list[str]:
    """Each tangle (modules that all reach each other) with one cycle through it, each step
    with its kind and place."""
    lines = []
    for cycle in graph.cycles():
        members = _tangle(graph, cycle[0])
        steps = []
        for source, target in itertools.pairwise(cycle):
            edge = next(e for e in graph.internal if e.source == source and e.target == target)
            steps.append(f"{source} → {target} ({edge.kind}, {graph.where(edge)})")
        lines.append(f"{{{', '.join(members)}}}: " + "; ".join(steps))
    return lines


def _tangle(graph: Graph, module: str) -> list[str]:
    adjacency = {m: sorted(graph.successors(m)) for m in graph.modules}
    return next(c for c in _strongly_connected(adjacency) if module in c)


# --- who builds adapters ------------------------------------------------------------------------

COMPOSITION_ROOT = "bot.bootstrap"
# Adapters that live outside bot/adapters/ (the journal, the clocks, alert delivery, liveness)
# and the factory functions of the Alpaca transport.
OTHER_ADAPTERS = {
    "bot.tracker": ("Tracker",),
    "bot.clock": ("WallClock", "SimulatedClock"),
    "bot.alerts": ("AlertDispatcher",),
    "bot.health": ("Heartbeat", "HealthServer"),
    "bot.adapters.alpaca.transport": ("trading_client", "data_client"),
}


@dataclass(frozen=True, slots=True)
class Construction:
    """``module`` calls ``name`` (an adapter class or factory defined in ``origin``) at ``line``."""

    module: str
    name: str
    origin: str
    line: int


def adapter_constructors(graph: Graph) -> dict[str, set[str]]:
    """Per module, the names that build an adapter: every plain class (no base, no decorator:
    not a value, not an error) under ``bot/adapters/``, and ``OTHER_ADAPTERS``."""
    found: dict[str, set[str]] = {m: set(names) for m, names in OTHER_ADAPTERS.items()}
    for module, path in graph.modules.items():
        if module == "bot.adapters" or module.startswith("bot.adapters."):
            tree = ast.parse(path.read_text(), filename=str(path))
            found.setdefault(module, set()).update(
                node.name
                for node in tree.body
                if isinstance(node, ast.ClassDef) and not node.bases and not node.decorator_list
            )
    return found


def constructions(graph: Graph) -> list[Construction]:
    """Every call of an adapter constructor outside the composition root, the adapters'
    own package and the module that defines it."""
    constructors = adapter_constructors(graph)
    calls = []
    for module, path in sorted(graph.modules.items()):
        if module == COMPOSITION_ROOT or module.startswith("bot.adapters"):
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        names, modules = _bindings(tree, graph, constructors)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            target = _called(node.func, names, modules, constructors)
            if target is not None and target[0] != module:
                calls.append(Construction(module, target[1], target[0], node.lineno))
    return sorted(calls, key=lambda c: (c.module, c.line, c.name))


def _bindings(
    tree: ast.Module, graph: Graph, constructors: dict[str, set[str]]
) -> tuple[dict[str, tuple[str, str]], dict[str, str]]:
    """What the file's imports bind: local name -> (origin module, constructor), and local
    name -> one of our modules."""
    names: dict[str, tuple[str, str]] = {}
    modules: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                local = alias.asname or alias.name
                if alias.name in constructors.get(node.module, ()):
                    names[local] = (node.module, alias.name)
                elif f"{node.module}.{alias.name}" in graph.modules:
                    modules[local] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in graph.modules:
                    top = alias.name.split(".")[0]  # `import a.b` binds `a`
                    modules[alias.asname or top] = alias.name if alias.asname else top
    return names, modules


def _called(
    func: ast.expr,
    names: dict[str, tuple[str, str]],
    modules: dict[str, str],
    constructors: dict[str, set[str]],
) -> tuple[str, str] | None:
    if isinstance(func, ast.Name):
        return names.get(func.id)
    if isinstance(func, ast.Attribute):
        dotted = []
        value: ast.expr = func.value
        while isinstance(value, ast.Attribute):
            dotted.append(value.attr)
            value = value.value
        if isinstance(value, ast.Name) and value.id in modules:
            origin = ".".join([modules[value.id], *reversed(dotted)])
            if func.attr in constructors.get(origin, ()):
                return origin, func.attr
    return None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    graph = build_graph()
    core = core_modules(graph)
    if "--core" in argv:
        reached = sorted({m for c in core for m in graph.reach(c)})
        print(graph.drawing(reached))
    else:
        print(graph.drawing())
    cycles = cycle_lines(graph)
    violations = [line for module in core for line in graph.forbidden(module, FORBIDDEN_IN_CORE)]
    print(f"\ncycles: {len(cycles)}")
    print("\n".join(f"  {line}" for line in cycles))
    print(f"core modules reaching {', '.join(FORBIDDEN_IN_CORE)}: {len(violations)}")
    print("\n".join(f"  {line}" for line in violations))
    built = constructions(graph)
    print(f"adapters built outside {COMPOSITION_ROOT}: {len(built)}")
    print("\n".join(f"  {c.module}:{c.line} {c.name} ({c.origin})" for c in built))
    return 1 if cycles or violations else 0


if __name__ == "__main__":
    raise SystemExit(main())
