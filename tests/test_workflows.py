"""The GitHub Actions workflows: valid against GitHub's workflow schema, and every `make X` and
`open287g X` they run exists in this project."""
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
TEST_WORKFLOW = WORKFLOWS / "test.yml"
REFRESH_WORKFLOW = WORKFLOWS / "refresh.yml"
ALL = [TEST_WORKFLOW, REFRESH_WORKFLOW]

# `make <targets...>` and `[path/]open287g <command>` inside a shell line; a shell operator ends the words
_MAKE = re.compile(r"(?:^|[\s;&|(])make((?:[ \t]+[^\s;&|()#]+)*)")
_OPEN287G = re.compile(r"(?:^|[\s;&|(/])open287g[ \t]+([^\s;&|()#]+)")
_MAKE_TARGET = re.compile(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", re.M)


def check_jsonschema(path):
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True, text=True, timeout=60,
    )


def load(path):
    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))


def triggers(doc):
    on = doc.get("on", doc.get(True))  # YAML 1.1 reads a bare `on` key as True
    return {on: None} if isinstance(on, str) else dict.fromkeys(on) if isinstance(on, list) else on


def steps(doc):
    for job in doc["jobs"].values():
        yield from job.get("steps", [])


def run_lines(doc):
    """Every shell line of every `run:` step, comments removed."""
    for step in steps(doc):
        for line in str(step.get("run", "")).splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                yield line


def make_targets_used(doc):
    targets = []
    for line in run_lines(doc):
        for words in _MAKE.findall(line):
            targets += [w for w in words.split() if not w.startswith("-") and "=" not in w]
    return targets


def open287g_commands_used(doc):
    return [name for line in run_lines(doc) for name in _OPEN287G.findall(line)]


def makefile_targets():
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    return {t for t in _MAKE_TARGET.findall(text) if not t.startswith(".")}


def cli_commands():
    import click

    from open287g.cli import cli

    return set(cli.list_commands(click.Context(cli)))  # the commands loaded on demand too


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_workflow_is_valid_against_githubs_schema(path):
    result = check_jsonschema(path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_check_rejects_a_broken_workflow(tmp_path):
    """The validation above can fail: a job without runs-on, or a misspelt key, is refused."""
    doc = load(TEST_WORKFLOW)
    job = next(iter(doc["jobs"].values()))
    del job["runs-on"]
    broken = tmp_path / "broken.yml"
    broken.write_text(yaml.safe_dump(doc), encoding="utf-8")
    result = check_jsonschema(broken)
    assert result.returncode != 0 and "runs-on" in result.stdout, result.stdout

    doc = load(TEST_WORKFLOW)
    next(iter(doc["jobs"].values()))["stepz"] = doc["jobs"]["test"].pop("steps")
    broken.write_text(yaml.safe_dump(doc), encoding="utf-8")
    assert check_jsonschema(broken).returncode != 0


def test_run_step_parsers_find_what_they_should():
    doc = {"jobs": {"j": {"steps": [{"run": "make build\n# make nothing\nmake -j2 test PY=python3 && .venv/bin/open287g changes a b | tee x"},
                                    {"run": "cd x; make publish; open287g fetch --url u; echo remake"}]}}}
    assert make_targets_used(doc) == ["build", "test", "publish"]
    assert open287g_commands_used(doc) == ["changes", "fetch"]
    assert {"build", "test", "fetch", "publish", "serve"} <= makefile_targets()
    assert "STAMP" not in makefile_targets() and "PY" not in makefile_targets()


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_every_make_target_run_exists(path):
    used = make_targets_used(load(path))
    assert used, f"{path.name} runs no make target"
    missing = sorted(set(used) - makefile_targets())
    assert not missing, f"{path.name} runs make targets the Makefile lacks: {missing}"
    if shutil.which("make"):
        for target in set(used):
            dry = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True, timeout=60)
            assert dry.returncode == 0, f"make -n {target}: {dry.stderr}"


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_every_open287g_command_run_exists(path):
    missing = sorted(set(open287g_commands_used(load(path))) - cli_commands())
    assert not missing, f"{path.name} runs open287g commands the CLI lacks: {missing} (has {sorted(cli_commands())})"


def test_test_workflow_runs_make_test_on_push_and_pull_request():
    doc = load(TEST_WORKFLOW)
    assert {"push", "pull_request"} <= set(triggers(doc))
    # Debian's chromium needs a Debian container: Ubuntu runners only have the snap.
    assert doc["jobs"]["test"]["container"] == "python:3.11-bookworm"
    cache = [s for s in steps(doc) if str(s.get("uses", "")).startswith("actions/cache@")]
    assert cache and cache[0]["with"]["path"] == "~/.cache/pip" and "hashFiles('pyproject.toml')" in cache[0]["with"]["key"]
    lines = list(run_lines(doc))
    assert "apt-get install -y --no-install-recommends chromium" in lines
    assert lines[-1] == "make test"


def job_steps(doc, job):
    return doc["jobs"][job].get("steps", [])


def test_refresh_commits_raw_files_in_a_job_no_build_or_test_can_skip():
    doc = load(REFRESH_WORKFLOW)
    on = triggers(doc)
    assert "schedule" in on and on["schedule"][0]["cron"] and "workflow_dispatch" in on
    assert doc["permissions"]["contents"] == "write"
    raw = {"jobs": {"raw": doc["jobs"]["raw"]}}
    # the raw job fetches and commits, and runs nothing that could fail on a bad workbook
    assert make_targets_used(raw) == ["fetch"] and not open287g_commands_used(raw)
    by_id = {s["id"]: s for s in job_steps(doc, "raw") if "id" in s}
    assert by_id["fetch"].get("continue-on-error") is True
    commit = by_id["commit"]
    assert commit["if"] == "always()"
    assert "git add -- data/ice" in commit["run"] and "git push" in commit["run"]
    # ...and a refused download still fails the run, after the commit
    names = [s.get("id") for s in job_steps(doc, "raw")]
    last = job_steps(doc, "raw")[-1]
    assert names.index("commit") < len(names) - 1 and "steps.fetch.outcome == 'failure'" in last["if"] and "exit 1" in last["run"]
    # the publish job runs after it whatever happened there, on the commit it pushed
    publish = doc["jobs"]["publish"]
    assert publish["needs"] == "raw" and publish["if"].startswith("always()")
    assert job_steps(doc, "publish")[0]["with"]["ref"].startswith("${{ needs.raw.outputs.commit")


def test_refresh_publishes_only_what_built_tested_and_passed_the_gates():
    doc = load(REFRESH_WORKFLOW)
    assert "secrets.FLY_API_TOKEN" in doc["env"]["FLY_API_TOKEN"]
    used = make_targets_used(doc)
    assert used == ["fetch", "build", "test", "publish"]
    assert {"changes", "gates"} <= set(open287g_commands_used(doc))
    steps_ = job_steps(doc, "publish")
    by_id = {s["id"]: s for s in steps_ if "id" in s}
    order = [s.get("id") for s in steps_]
    assert order.index("build") < order.index("test") < order.index("gates") < order.index("bundle") < order.index("deploy")
    # a build that rejected a file (exit 1) or failed must not stop the outcome from being recorded
    assert by_id["build"].get("continue-on-error") is True
    assert "open287g gates --previous build/deploy/287g.db" in by_id["gates"]["run"]
    assert "steps.test.outcome == 'success'" in by_id["bundle"]["if"] and "steps.gates.outcome == 'success'" in by_id["bundle"]["if"]

    # the deploy step deploys the directory `open287g publish` writes by default, only after a bundle
    from open287g.gates import DEFAULT_PREVIOUS
    from open287g.publish import DEFAULT_OUT

    deploy = [s for s in steps_ if "flyctl deploy" in str(s.get("run", ""))]
    assert len(deploy) == 1 and ROOT / deploy[0]["working-directory"] == DEFAULT_OUT
    assert "steps.bundle.outcome == 'success'" in deploy[0]["if"]
    # the last published bundle is restored before the gates and saved only after a publish
    cache = [s for s in steps_ if str(s.get("uses", "")).startswith("actions/cache/")]
    assert [s["uses"].split("@")[0] for s in cache] == ["actions/cache/restore", "actions/cache/save"]
    assert all(ROOT / s["with"]["path"] == DEFAULT_OUT == DEFAULT_PREVIOUS.parent for s in cache)
    assert "steps.bundle.outcome == 'success'" in cache[1]["if"]

    # the outcome line goes to the summary and a commit, and a withheld or failed run fails
    outcome = by_id["outcome"]
    assert outcome["if"] == "always()" and "GITHUB_STEP_SUMMARY" in outcome["run"] and "build/gates.txt" in outcome["run"]
    assert "git commit --allow-empty -F build/outcome.txt" in outcome["run"]
    last = steps_[-1]
    assert "always()" in last["if"] and "steps.outcome.outputs.line != 'Published.'" in last["if"] and "exit 1" in last["run"]


def test_make_build_treats_a_rejected_file_as_built():
    """Exit 1 from the build means "built; some file rejected and recorded": make build, serve and
    publish go on, so one bad workbook never blocks the others."""
    dry = subprocess.run(["make", "-n", "build"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert "open287g build || [ $? -eq 1 ]" in dry.stdout, dry.stdout


@pytest.mark.parametrize("code,passes", [(0, True), (1, True), (2, False), (3, False)])
def test_make_build_fails_exactly_when_not_built(tmp_path, code, passes):
    """make's Build step (and so the refresh's) passes on 0 (built) and 1 (built, some file refused),
    and fails on 2 (not built) and any other code: a "not built" never reads as "built"."""
    from open287g.pipeline import BUILT, BUILT_WITH_REFUSALS, NOT_BUILT

    assert (BUILT, BUILT_WITH_REFUSALS, NOT_BUILT) == (0, 1, 2)
    # The recipe itself, run by make, with an open287g that only exits with the code.
    fake = tmp_path / "open287g"
    fake.write_text(f"#!/bin/sh\nexit {code}\n")
    fake.chmod(0o755)
    stamp = tmp_path / "installed"
    stamp.touch()
    run = subprocess.run(["make", "build", f"BIN={tmp_path}", f"STAMP={stamp}"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert (run.returncode == 0) == passes, run.stdout + run.stderr
