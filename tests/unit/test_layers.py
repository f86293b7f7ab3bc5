"""The package's layout holds: lifecycle layers only import downward (.importlinter), and no module cycles."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "ticketops"
MAX_LOOSE_MODULES = 8
MAX_MODULE_LINES = 300


def test_layers_contract_is_kept():
    lint = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(lint), "--config", str(ROOT / ".importlinter")], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


def _cycle(graph: grimp.ImportGraph) -> list[str] | None:
    """One import cycle among the package's modules, or None (iterative depth-first search)."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for start in sorted(graph.modules):
        if state.get(start):
            continue
        path, stack = [start], [iter(sorted(graph.find_modules_directly_imported_by(start)))]
        state[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(graph.find_modules_directly_imported_by(nxt))))
    return None


def test_no_import_cycles_between_modules():
    graph = grimp.build_graph("ticketops")
    # A package's __init__ is not a module of its own here: importing ticketops.x.y loads it anyway.
    for module in [m for m in graph.modules if (PACKAGE / Path(*m.split(".")[1:]) / "__init__.py").exists()]:
        graph.remove_module(module)
    assert _cycle(graph) is None


def test_the_top_of_the_package_stays_small():
    loose = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(loose) <= MAX_LOOSE_MODULES, loose
    long = {
        str(p.relative_to(PACKAGE)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not long, long
