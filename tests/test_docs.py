"""The docs a newcomer reads: no path of one machine in them or in code comments, and every local link leads somewhere."""
import ast
import io
import re
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# A home or work folder of one machine; /tmp/open287g, the image's run directory, is not one.
MACHINE_PATH = re.compile(r"(?<![\w@.])/(?:work|home|Users|root)/")
SKIP = {".venv", "node_modules", "build", ".git"}
LINK = re.compile(r"\]\(([^)\s]+)\)")


def markdown():
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "data").rglob("README.md"))]


def python():
    return sorted(p for p in ROOT.rglob("*.py") if not SKIP & set(p.relative_to(ROOT).parts))


def comments_and_docstrings(path):
    source = path.read_text(encoding="utf-8")
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            yield token.start[0], token.string
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and ast.get_docstring(node):
            yield getattr(node, "lineno", 1), ast.get_docstring(node)


def machine_paths(lines):
    return [f"{where}: {MACHINE_PATH.search(text).group()}" for where, text in lines if MACHINE_PATH.search(text)]


def test_the_pattern_finds_a_machine_path_and_spares_the_image_run_directory():
    assert machine_paths([("a", "see /work/main/build/287g.db"), ("b", "database: /home/me/287g.db")]) == ["a: /work/", "b: /home/"]
    assert machine_paths([("c", "the run directory (/tmp/open287g)"), ("d", "https://example.org/work/x"), ("e", "data/ice/work/")]) == []


def test_no_machine_path_in_docs_readmes_or_code_comments():
    found = []
    for path in markdown():
        found += machine_paths((f"{path.relative_to(ROOT)}:{n}", line) for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1))
    for path in python():
        found += machine_paths((f"{path.relative_to(ROOT)}:{n}", text) for n, text in comments_and_docstrings(path))
    assert len(markdown()) >= 9 and len(python()) >= 60  # the globs found the files
    assert found == []


def anchors(path):
    """GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens."""
    headings = [line.lstrip("#").strip() for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("#")]
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


def test_every_local_link_in_the_docs_leads_to_a_file_and_heading():
    broken, checked = [], 0
    for path in markdown():
        for target in LINK.findall(path.read_text(encoding="utf-8")):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue
            file, _, anchor = target.partition("#")
            dest = (path.parent / file).resolve()
            checked += 1
            if not dest.exists():
                broken.append(f"{path.relative_to(ROOT)}: {target}")
            elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                broken.append(f"{path.relative_to(ROOT)}: {target} (no such heading)")
    assert checked > 40
    assert broken == []


def test_architecture_is_the_first_page_and_names_every_stage():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/ARCHITECTURE.md" in readme.split("## What this is")[0]
    page = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    stages = ["inventory", "read", "correct", "date", "lineage", "agencies and places", "load", "finish"]
    rows = [line.split("|")[1].strip() for line in page.split("## The build, stage by stage")[1].split("## ")[0].splitlines() if line.startswith("| ")][1:]
    assert rows == stages
    for module in re.findall(r"`(\w+)\.py`", page):
        assert (ROOT / "open287g" / f"{module}.py").exists() or (ROOT / "open287g" / "plugins" / f"{module}.py").exists(), module
