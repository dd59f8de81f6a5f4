"""The package's shape: one atomic writer, no import cycle, and a server that imports no build module."""
import ast
import json
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from open287g import files

PACKAGE = Path(files.__file__).resolve().parent


def test_atomic_write_replaces_whole_files_and_leaves_no_temp(tmp_path):
    target = tmp_path / "sub" / "out.json"
    files.atomic_write(target, '{"a": "é"}')
    assert target.read_bytes() == '{"a": "é"}'.encode("utf-8")
    files.atomic_write(target, b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.json"]


def test_atomic_write_that_fails_keeps_the_old_file(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(TypeError):
        files.atomic_write(target, 12345)  # neither bytes nor text: nothing is written
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_no_module_writes_through_its_own_temp_file():
    """Every tmp-and-replace of a file goes through files.atomic_write or files.swap_in (a finished file
    another program wrote, as the build's database); publish swaps a whole bundle directory, which is no file write."""
    renames = re.compile(r"os\.replace\(|\btmp\.replace\(|\.rename\(|mkstemp\(")
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name != "files.py":
            for line in path.read_text(encoding="utf-8").splitlines():
                if renames.search(line):
                    found.setdefault(path.name, []).append(line.strip())
    assert found == {"publish.py": ["out.rename(old)", "tmp.rename(out)", "tmp.rename(out)"]}


def _imports(path, module):
    """Modules of the package that a file imports, at the top or inside a function."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    parent = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(parent[:len(parent) - node.level + 1] + ([node.module] if node.module else [])) if node.level else node.module
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names}
    return found


def test_no_import_cycle_in_the_package():
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = {name: {m for m in _imports(path, name) if m in modules and m not in (name, "open287g")}
             for name, path in modules.items()}

    def reaches(start, goal, seen):
        for nxt in graph[start]:
            if nxt == goal:
                return True
            if nxt not in seen:
                seen.add(nxt)
                if reaches(nxt, goal, seen):
                    return True
        return False

    cycles = sorted(name for name in graph if reaches(name, name, set()))
    assert cycles == []


SERVER_MODULES = {"open287g", "open287g.config", "open287g.files", "open287g.i18n", "open287g.palette", "open287g.rules", "open287g.search",
                  "open287g.serve", "open287g.wording", "open287g.words"}
BUILD_MODULES = ("open287g.read", "open287g.xlsx", "open287g.places", "open287g.gazetteer", "open287g.pipeline",
                 "open287g.lineage", "open287g.load", "open287g.finish", "open287g.fixes", "open287g.identity",
                 "open287g.search_index", "open287g.fetch", "open287g.moa", "open287g.pdfpages")


def test_the_server_imports_no_build_module():
    """A process that loads every plugin Datasette loads (the package's entry points) and serve.py holds none of the
    workbook reader, the geocoder or the build's stages: only the light modules the pages need."""
    code = (
        "import json, sys\n"
        "from importlib.metadata import entry_points\n"
        "import open287g.serve\n"
        "loaded = [ep.load().__name__ for ep in entry_points(group='datasette') if ep.value.startswith('open287g.')]\n"
        "print(json.dumps({'plugins': sorted(loaded), 'modules': sorted(m for m in sys.modules if m.startswith('open287g'))}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    seen = json.loads(done.stdout)
    plugins = sorted(f"open287g.plugins.{p.stem}" for p in (PACKAGE / "plugins").glob("*.py") if p.stem != "__init__")
    assert seen["plugins"] == plugins and len(plugins) == 17
    modules = set(seen["modules"]) - set(plugins) - {"open287g.plugins"}
    assert not modules & set(BUILD_MODULES)
    assert modules == SERVER_MODULES
