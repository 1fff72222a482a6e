"""The package follows the pipeline: imports run one way, from a later stage to an earlier one,
and no module reaches back (directly or in a cycle)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

PACKAGE = REPO_ROOT / "reporter"
# the order of the stages: a module may import from its own stage or an earlier one
LAYERS = ("base", "data", "segmentation", "personas", "predict", "model", "history", "spark", "brief",
          "delivery", "app")
ENTRY_POINTS = {"reporter.__main__"}  # `python -m reporter` starts the app, by definition


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in LAYERS) else "base"


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """Every reporter module this file imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("reporter")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("reporter"):
            for alias in node.names:  # `from reporter.brief import charts` imports a module
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if candidate in modules else node.module)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: imports_of(path, set(paths)) for name, path in paths.items()}


def test_every_module_belongs_to_a_known_stage(graph):
    assert {layer(m) for m in graph} <= set(LAYERS)


def test_imports_run_from_later_stages_to_earlier_ones(graph):
    backwards = [f"{importer} ({layer(importer)}) imports {imported} ({layer(imported)})"
                 for importer, targets in graph.items() if importer not in ENTRY_POINTS
                 for imported in targets
                 if LAYERS.index(layer(imported)) > LAYERS.index(layer(importer))]
    assert not backwards, "\n".join(backwards)


def test_no_import_cycles(graph):
    state: dict[str, str] = {}
    cycles = []

    def visit(module: str, trail: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph.get(module, ())):
            if target not in graph:
                continue
            if state.get(target) == "open":
                cycles.append(" -> ".join([*trail[trail.index(target):], target]))
            elif target not in state:
                visit(target, [*trail, target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not cycles, "\n".join(cycles)


def test_the_checker_sees_a_backward_import(tmp_path):
    """The rule above could pass vacuously; show it catches a stage importing the app."""
    bad = tmp_path / "reporter" / "data" / "bad.py"
    bad.parent.mkdir(parents=True)
    bad.write_text("from reporter.app.pipeline import run\n")
    found = imports_of(bad, {"reporter.app.pipeline"})
    assert found == {"reporter.app.pipeline"}
    assert LAYERS.index(layer("reporter.app.pipeline")) > LAYERS.index(layer("reporter.data.bad"))


def test_each_stage_package_says_what_it_owns():
    for name in LAYERS[1:]:
        init = PACKAGE / name / "__init__.py"
        docstring = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert docstring and "Owns" in docstring, f"reporter/{name}/__init__.py needs a docstring"


def test_run_json_has_one_reader_and_one_writer():
    """Everything else goes through history.record's typed RunRecord (archive.py only looks
    for the file to tell a complete run folder)."""
    naming = {p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py")
              if '"run.json"' in p.read_text(encoding="utf-8")}
    assert naming == {"history/record.py", "archive.py"}


SETTINGS = "reporter.app.settings"


def test_configuration_is_read_only_at_the_edge(graph):
    """Issue 32: a stage, the checks and delivery take plain parameters (app/params.py); only
    app/ may import the settings models, and no settings module is left below it."""
    readers = sorted(importer for importer, targets in graph.items()
                     if SETTINGS in targets and layer(importer) != "app")
    assert not readers, "import the settings only in reporter/app/: " + ", ".join(readers)
    assert "reporter.config" not in graph, "the settings live in reporter/app/settings.py"


def test_the_checker_sees_a_stage_importing_the_settings(tmp_path):
    bad = tmp_path / "reporter" / "delivery" / "bad.py"
    bad.parent.mkdir(parents=True)
    bad.write_text("def f():\n    from reporter.app.settings import TeamConfig\n")
    assert imports_of(bad, {SETTINGS}) == {SETTINGS}
    assert layer("reporter.delivery.bad") != "app"


def test_reading_the_configuration_imports_no_scheduler_and_no_plotting():
    """Every command reads reporter.yaml and checks the rules: neither needs APScheduler or
    matplotlib (a second of imports between them)."""
    probe = ("import sys; from reporter.app.settings import load_config; "
             "from reporter.personas.rulebook import rulebook_problems; "
             "load_config('config/reporter.yaml', rulebook_problems); "
             "print(sorted({m.split('.')[0] for m in sys.modules} & {'apscheduler', 'matplotlib'}))")
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                           cwd=REPO_ROOT, timeout=120)
    assert found.stdout.strip() == "[]", found.stderr


def test_benchmarks_import_no_circle():
    """Issue 32: suite.py and the benchmarks it reports on imported each other; what they share
    lives in benchmarks/common.py, which imports none of them."""
    folder = REPO_ROOT / "benchmarks"
    graph = {}
    for path in folder.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        graph[path.stem] = {node.module.split(".")[1] for node in ast.walk(tree)
                            if isinstance(node, ast.ImportFrom) and node.module
                            and node.module.startswith("benchmarks.")}
    assert not graph["common"], "common imports no other benchmark"
    circles = [f"{a} <-> {b}" for a, targets in graph.items() for b in targets
               if a in graph.get(b, set())]
    assert not circles, circles
