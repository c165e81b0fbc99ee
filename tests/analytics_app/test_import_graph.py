"""The import graph of Sextant's packages: no cycles, and no app reaching into another's internals.

Read with the stdlib `ast` (nothing is imported), every import counts, including the
ones inside functions: a lazy import is still a dependency. The layers and the public
modules are written down in docs/architecture.md ("Dependencies"); PUBLIC below is
that list.

    python tests/analytics_app/test_import_graph.py   # prints the package graph and its cycles
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORE = "analytics_app"
SHARED = "insights"
# The policy every layer enforces (roles, permissions, the PII text rules and presenter): it imports
# nothing of ours, and the core's gate, the shared layer and every app may import it.
POLICY = {
    "governance.roles",
    "governance.masking",
    "governance.presenter",
    "governance.models",
    "governance.audit",
}
# Cohort membership (who is in cohort N) sits below the shared layer: the shared property
# filters read it (a cohort filter in any insight), while the rest of the cohorts app
# builds on the shared layer. These modules import only the core, the policy and each other.
MEMBERSHIP = {"cohorts.membership", "cohorts.models"}
# What an app offers other apps, besides its package (`<app>/__init__.py`).
PUBLIC: dict[str, set[str]] = {
    "ingestion": {"ingestion.processing", "ingestion.decoder", "ingestion.writer"},
    "explorer": {"explorer.queries"},
    "cohorts": {"cohorts.membership"},
    "replay": {"replay.deletion"},
    "dashboards": {"dashboards.cache"},
}
# Of the apps, the shared layer imports only these (public and in MEMBERSHIP).
SHARED_IMPORTS = {"cohorts.membership"}


@dataclass(frozen=True)
class Import:
    source: str  # importing module, dotted
    path: str  # file, relative to the repository root
    line: int
    target: str  # imported module, dotted

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


def packages() -> list[str]:
    return sorted(
        p.name
        for p in ROOT.iterdir()
        if (p / "__init__.py").is_file() and (p / "apps.py").is_file() and p.name != "tests"
    )


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(dotted: str) -> bool:
    base = ROOT.joinpath(*dotted.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def imports() -> list[Import]:
    """Every import of a module in our packages by a module of our packages."""
    ours = set(packages())
    found: list[Import] = []
    for package in sorted(ours):
        for path in sorted((ROOT / package).rglob("*.py")):
            module = _module_name(path)
            is_package = path.name == "__init__.py"
            rel = str(path.relative_to(ROOT))
            for node in ast.walk(ast.parse(path.read_text(), rel)):
                targets: list[str] = []
                if isinstance(node, ast.Import):
                    targets = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom):
                    if node.level:
                        anchor = module.split(".")
                        anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                        base = ".".join([*anchor, *([node.module] if node.module else [])])
                    else:
                        base = node.module or ""
                    # `from pkg import name` imports the module pkg.name when there is one
                    targets = [
                        f"{base}.{a.name}" if _is_module(f"{base}.{a.name}") else base for a in node.names
                    ]
                for target in dict.fromkeys(targets):
                    if target.split(".")[0] in ours:
                        found.append(Import(module, rel, node.lineno, target))
    return found


def _node(module: str) -> str:
    """A module's node in the package graph: its package, "governance.policy" or "cohorts.membership"."""
    if module in POLICY:
        return "governance.policy"
    if module in MEMBERSHIP:
        return "cohorts.membership"
    return module.split(".")[0]


def package_graph(found: list[Import]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {p: set() for p in packages()}
    for imp in found:
        a, b = _node(imp.source), _node(imp.target)
        if a != b:
            graph.setdefault(a, set()).add(b)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(out)


def violations(found: list[Import]) -> list[str]:
    """Imports that cross a boundary they may not, one readable line each."""
    out = []
    for imp in found:
        a, b = imp.source.split(".")[0], imp.target.split(".")[0]
        if imp.source in MEMBERSHIP and b != CORE and imp.target not in POLICY | MEMBERSHIP:
            out.append(
                f"{imp.where}: the cohort membership module {imp.source} imports {imp.target}; "
                f"it imports only the core ({CORE}) and {', '.join(sorted(MEMBERSHIP))}"
            )
            continue
        if a == b:
            continue
        if imp.source in POLICY:
            out.append(
                f"{imp.where}: the policy module {imp.source} imports {imp.target}; it imports nothing of ours"
            )
            continue
        if imp.target in POLICY:
            continue
        if a == CORE:
            out.append(f"{imp.where}: the core ({CORE}) imports {imp.target}; the core imports no app")
        elif a == SHARED and b != CORE and imp.target not in SHARED_IMPORTS:
            out.append(
                f"{imp.where}: the shared layer ({SHARED}) imports {imp.target}; it imports only the core "
                f"and {', '.join(sorted(SHARED_IMPORTS))}"
            )
        elif b not in (CORE, SHARED) and imp.target != b and imp.target not in PUBLIC.get(b, set()):
            public = ", ".join(sorted({b, *PUBLIC.get(b, set())}))
            out.append(
                f"{imp.where}: {imp.source} imports {imp.target}, a private module of the {b} app "
                f"(its public modules: {public})"
            )
    return out


def _edges_within(found: list[Import], component: list[str]) -> list[str]:
    """One line per package pair inside a cycle: the pair and its first import."""
    members = set(component)
    first: dict[tuple[str, str], Import] = {}
    for imp in sorted(found, key=lambda i: (i.path, i.line)):
        a, b = _node(imp.source), _node(imp.target)
        if a != b and a in members and b in members:
            first.setdefault((a, b), imp)
    return [f"{a} -> {b} ({imp.where} imports {imp.target})" for (a, b), imp in sorted(first.items())]


def test_the_packages_are_found_and_imports_are_read():
    names = packages()
    assert {CORE, SHARED, "ingestion", "replay", "dashboards"} <= set(names)
    found = imports()
    assert any(imp.source == "replay.views_list" and imp.target == "analytics_app.access" for imp in found)
    assert any(
        imp.source == "insights.blocks.filters" and imp.target == "cohorts.membership" for imp in found
    )
    assert SHARED_IMPORTS <= MEMBERSHIP and SHARED_IMPORTS <= set().union(*PUBLIC.values())


def test_no_import_cycle_between_packages():
    found = imports()
    problems = [
        " <-> ".join(component) + ":\n    " + "\n    ".join(_edges_within(found, component))
        for component in cycles(package_graph(found))
    ]
    assert not problems, "import cycles between packages:\n  " + "\n  ".join(problems)


def test_no_app_imports_another_apps_private_modules():
    problems = violations(imports())
    assert not problems, "imports across a boundary (docs/architecture.md, Dependencies):\n  " + "\n  ".join(
        problems
    )


def test_the_checks_name_an_offending_import():
    found = [
        Import("ingestion.processing", "ingestion/processing.py", 3, "replay.format"),
        Import("replay.queries", "replay/queries.py", 9, "ingestion.processing"),
        Import("analytics_app.x", "analytics_app/x.py", 1, "replay"),
    ]
    assert cycles(package_graph(found)) == [["ingestion", "replay"]]
    assert violations(found) == [
        "ingestion/processing.py:3: ingestion.processing imports replay.format, a private module of the "
        "replay app (its public modules: replay, replay.deletion)",
        "analytics_app/x.py:1: the core (analytics_app) imports replay; the core imports no app",
    ]


def test_cohort_membership_sits_below_the_shared_layer():
    layered = [
        Import("insights.blocks.filters", "insights/blocks/filters.py", 1, "cohorts.membership"),
        Import("cohorts.membership", "cohorts/membership.py", 1, "cohorts.models"),
        Import("cohorts.models", "cohorts/models.py", 1, "analytics_app.models"),
        Import("cohorts.queries", "cohorts/queries.py", 1, "insights.blocks"),
        Import("cohorts.queries", "cohorts/queries.py", 2, "cohorts.membership"),
        Import("retention.queries", "retention/queries.py", 1, "cohorts.membership"),
    ]
    assert cycles(package_graph(layered)) == []
    assert violations(layered) == []
    wrong = [
        *layered,
        Import("cohorts.membership", "cohorts/membership.py", 2, "insights.blocks"),
        Import("cohorts.models", "cohorts/models.py", 2, "cohorts.queries"),
        Import("insights.blocks.filters", "insights/blocks/filters.py", 2, "cohorts.queries"),
        Import("retention.queries", "retention/queries.py", 2, "cohorts.models"),
    ]
    assert cycles(package_graph(wrong)) == [["cohorts", "cohorts.membership", "insights"]]
    assert violations(wrong) == [
        "cohorts/membership.py:2: the cohort membership module cohorts.membership imports insights.blocks; "
        "it imports only the core (analytics_app) and cohorts.membership, cohorts.models",
        "cohorts/models.py:2: the cohort membership module cohorts.models imports cohorts.queries; "
        "it imports only the core (analytics_app) and cohorts.membership, cohorts.models",
        "insights/blocks/filters.py:2: the shared layer (insights) imports cohorts.queries; it imports only "
        "the core and cohorts.membership",
        "retention/queries.py:2: retention.queries imports cohorts.models, a private module of the cohorts app "
        "(its public modules: cohorts, cohorts.membership)",
    ]


if __name__ == "__main__":
    found = imports()
    graph = package_graph(found)
    for name in sorted(graph):
        print(f"{name} -> {', '.join(sorted(graph[name])) or '-'}")
    for component in cycles(graph) or [None]:
        print("cycle:", " <-> ".join(component) if component else "none")
        for edge in _edges_within(found, component or []):
            print("   ", edge)
    for line in violations(found) or ["none"]:
        print("boundary:", line)
