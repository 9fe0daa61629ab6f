"""The package's layers: nothing imports a layer above its own, and the sub-packages form no cycle.

Read from the source with `ast`, imports inside functions included, so a lazy import cannot hide a
cycle. The order is the data flow: sources -> face state -> landmarks -> stream engine -> outputs,
the daemon wiring them, the CLI on top.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "rain_vtuber"

LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "utils", "paths", "osc_guard"),
    ("model",),
    ("weights",),
    ("face",),
    ("audio", "sources", "landmarks"),
    ("stream",),
    ("accel",),
    ("engine",),
    ("outputs",),
    ("benchmark", "calibrate", "daemon"),
    ("devicecheck",),
    ("cli",),
    ("__main__",),
)
RANK = {unit: rank for rank, units in enumerate(LAYERS) for unit in units}


def _unit(path: Path) -> str:
    """rain_vtuber/<unit>/... or rain_vtuber/<unit>.py -> unit."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return "__init__" if parts == ("__init__",) else parts[0]


def package_imports() -> list[tuple[str, str, str, int]]:
    """(importing unit, imported unit, file, line) for every import of one rain_vtuber unit in another."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        unit = _unit(path)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else [])
            for name in names:
                if name.startswith("rain_vtuber.") and (target := name.split(".")[1]) != unit:
                    found.append((unit, target, str(path.relative_to(PACKAGE.parent)), node.lineno))
    return found


def test_every_unit_has_a_layer() -> None:
    units = {_unit(p) for p in PACKAGE.rglob("*.py")} - {"__init__"}
    assert units <= set(RANK), f"add these to LAYERS: {sorted(units - set(RANK))}"


def test_no_import_runs_from_a_lower_layer_to_a_higher_one() -> None:
    upward = [f"{file}:{line}: {unit} (layer {RANK[unit]}) imports {target} (layer {RANK[target]})"
              for unit, target, file, line in package_imports()
              if unit in RANK and target in RANK and RANK[target] > RANK[unit]]
    assert not upward, "\n".join(upward)


def test_the_units_form_no_cycle() -> None:
    graph: dict[str, set[str]] = {}
    for unit, target, _, _ in package_imports():
        graph.setdefault(unit, set()).add(target)
    done: set[str] = set()

    def visit(unit: str, path: tuple[str, ...]) -> None:
        if unit in path:
            pytest.fail("import cycle: " + " -> ".join(path[path.index(unit):] + (unit,)))
        if unit in done:
            return
        for target in sorted(graph.get(unit, ())):
            visit(target, path + (unit,))
        done.add(unit)

    for unit in sorted(graph):
        visit(unit, ())


def test_the_check_sees_a_lazy_import_that_goes_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A function-level import from face into daemon is caught (the check cannot pass by not looking)."""
    fake = tmp_path / "rain_vtuber"
    (fake / "face").mkdir(parents=True)
    (fake / "daemon").mkdir()
    (fake / "face" / "bad.py").write_text("def f():\n    from rain_vtuber.daemon.config import DaemonConfig\n")
    (fake / "daemon" / "config.py").write_text("from rain_vtuber.face import bad\n")
    monkeypatch.setattr(f"{__name__}.PACKAGE", fake)
    imports = package_imports()
    assert ("face", "daemon", "rain_vtuber/face/bad.py", 2) in imports
    with pytest.raises(AssertionError, match="face \\(layer 3\\) imports daemon"):
        test_no_import_runs_from_a_lower_layer_to_a_higher_one()
    with pytest.raises(pytest.fail.Exception, match="import cycle: daemon -> face -> daemon"):
        test_the_units_form_no_cycle()
