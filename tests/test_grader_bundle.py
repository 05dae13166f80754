"""What students get (the bundle), the pytest plugin that grades a submission as tests, and the
GitHub Classroom workflow built on it."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from _grading_class import REFERENCE, ROOT, SECRET, WRONG_AXIS, write_class
from grader import bundle, exercises, reference


def _student_env() -> dict:
    """No secret, no path to the course checkout: what a student's machine has."""
    return {k: v for k, v in os.environ.items() if not k.startswith("GRADER_") and k != "PYTHONPATH"}


@pytest.fixture(scope="module")
def student_bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("release") / "student"
    proc = subprocess.run([sys.executable, "-m", "grader", "bundle", "--out", str(out)], cwd=ROOT,
                          env={**os.environ, "GRADER_SECRET": SECRET}, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def test_the_bundle_holds_what_students_need_and_nothing_hidden(student_bundle):
    for needed in ("notebooks/03_softmax.ipynb", "grader/exercises/nb03_softmax.py", "course/assets", "requirements.txt",
                   "environment.yml", "pyproject.toml", "Makefile", "README.md", ".github/workflows/classroom.yml"):
        assert (student_bundle / needed).exists(), needed
    names = {p.relative_to(student_bundle).parts[0] for p in student_bundle.iterdir()}
    assert not names & {"solutions", "tests", "tools", "nbgrader", "grader.toml", "grades", "benchmarks", "deploy"}
    assert not list(student_bundle.rglob("__pycache__"))
    assert bundle.audit(student_bundle, extra_secrets=(SECRET,)) == []
    assert len(bundle.hidden_bodies()) > 50  # the audit looks for the reference's code


def test_the_audit_finds_a_leaked_solution_or_secret(student_bundle, tmp_path):
    leaky = tmp_path / "leaky"
    shutil.copytree(student_bundle, leaky)
    shutil.copy(ROOT / "solutions" / "softmax.py", leaky / "grader" / "notes.py")
    (leaky / "course" / "settings.txt").write_text(f"secret = {SECRET}\n")
    zoo = leaky / "solutions" / "zoo"
    zoo.mkdir(parents=True)
    problems = bundle.audit(leaky, extra_secrets=(SECRET,))
    assert any("grader/notes.py holds code of solutions/" in p for p in problems), problems
    assert any("course/settings.txt holds the grading secret" in p for p in problems), problems
    assert "solutions is in the bundle" in problems


@pytest.mark.slow
def test_the_student_command_and_check_work_from_the_bundle(student_bundle):
    """`make check` (what `make test` runs after set-up) and check(...) in a notebook, with the
    bundle's own grader: public checks run, hidden ones are announced, known mistakes are named."""
    env = _student_env()
    where = subprocess.run([sys.executable, "-c", "import grader; print(grader.__file__)"], cwd=student_bundle, env=env,
                           capture_output=True, text=True)
    assert Path(where.stdout.strip()).resolve().is_relative_to(student_bundle.resolve()), where.stdout + where.stderr
    assert "\ntest: setup\n\t$(MAKE) check\n" in (student_bundle / "Makefile").read_text()
    proc = subprocess.run(["make", "-s", "check", f"PY={sys.executable}", "NOTEBOOKS=notebooks/03_softmax.ipynb"],
                          cwd=student_bundle, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode != 0, proc.stdout + proc.stderr  # the released notebook is not done yet
    assert "not attempted yet" in proc.stdout and "hidden check" in proc.stdout and "run at grading" in proc.stdout

    snippet = REFERENCE + WRONG_AXIS.replace("def softmax", "def softmax_columns") + """
from grader import CheckFailed, check
from grader.reference import solutions_dir
assert solutions_dir() is None
check(softmax)
try:
    check(softmax_columns, "softmax")
except CheckFailed as failed:
    print("CHECKFAILED", failed)
"""
    proc = subprocess.run([sys.executable, "-c", snippet], cwd=student_bundle, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "public checks 5/5 passed; 1 hidden check run at grading" in proc.stdout
    assert "CHECKFAILED softmax" in proc.stdout
    bug = next(b for b in reference.bugs("softmax") if b.id == "wrong_axis")
    assert bug.title in proc.stdout  # no zoo in the bundle, but its fingerprints name the mistake


@pytest.mark.slow
def test_the_bundle_names_every_known_mistake_as_the_repository_does(student_bundle, tmp_path):
    """Every bug-zoo entry, as a student's answer, on every public check: the repository's verdict
    (with solutions/ and the zoo's code) and the bundle's (with the fingerprints only) are the same
    status and the same diagnosis, word for word. The outcomes are computed once, here, and judged on
    both sides, so only the diagnosis can differ."""
    from grader.core import build_calls
    from grader.isolation import wire
    from grader.judge import _bug_outcomes, judge

    cases, named = [], 0
    for exercise in exercises.EXERCISES.values():
        for check in exercise.public_checks:
            calls = build_calls(check, exercise.name, None)
            for bug in reference.bugs(exercise.name):
                outcomes = _bug_outcomes(bug.impl, calls)
                verdict = judge(exercise, check, calls, outcomes)
                named += "known mistake" in verdict.diagnosis
                cases.append({"exercise": exercise.name, "check": check.name, "bug": bug.id,
                              "outcomes": [o.__dict__ for o in outcomes],
                              "repository": [verdict.status, verdict.diagnosis]})
    assert len(cases) > 500 and named > 300, (len(cases), named)
    wire.save(tmp_path / "cases", cases)
    script = f"""
import json
from pathlib import Path
from grader import exercises
from grader.core import build_calls
from grader.isolation import wire
from grader.judge import Outcome, judge
from grader.reference import solutions_dir
assert solutions_dir() is None
out = []
for case in wire.load(Path({str(tmp_path / "cases")!r}), trusted=True):
    exercise = exercises.get(case["exercise"])
    check = next(c for c in exercise.public_checks if c.name == case["check"])
    verdict = judge(exercise, check, build_calls(check, exercise.name, None), [Outcome(**o) for o in case["outcomes"]])
    out.append([verdict.status, verdict.diagnosis])
print(json.dumps(out))
"""
    proc = subprocess.run([sys.executable, "-c", script], cwd=student_bundle, env=_student_env(),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    in_bundle = json.loads(proc.stdout.strip().splitlines()[-1])
    differ = [(c["exercise"], c["check"], c["bug"], c["repository"], got)
              for c, got in zip(cases, in_bundle) if c["repository"] != got]
    assert not differ, f"{len(differ)} of {len(cases)} differ, e.g. {differ[:3]}"


# ------------------------------------------------------------------------------ pytest --grade


def _pytest(*args, cwd, env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_pytest_grade_runs_a_submissions_checks_as_tests(tmp_path):
    write_class(tmp_path, {"ada": REFERENCE, "bo": REFERENCE + WRONG_AXIS})
    env = {**_student_env(), "PYTHONPATH": str(ROOT)}
    good = _pytest("--grade", "ada/03_softmax.py", "--grade-exercise", "softmax", "--grade-no-isolation", cwd=tmp_path, env=env)
    public = len(exercises.get("softmax").public_checks)
    assert good.returncode == 0 and f"{public} passed" in good.stdout, good.stdout + good.stderr
    bad = _pytest("--grade", "bo/03_softmax.py", "--grade-no-isolation", "-rf", cwd=tmp_path, env=env)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    bug = next(b for b in reference.bugs("softmax") if b.id == "wrong_axis")
    assert "03_softmax.py::softmax::" in bad.stdout and bug.title in bad.stdout  # the zoo is here: named
    hidden = _pytest("--grade", "bo/03_softmax.py", "--grade-exercise", "softmax", "--grade-hidden", "-rA",
                     cwd=tmp_path, env={**env, "GRADER_SECRET": SECRET})
    assert "softmax::hidden_random" in hidden.stdout, hidden.stdout
    assert "hidden check hidden_random: failed" in hidden.stdout  # name and status, nothing about its inputs


def test_pytest_grade_hidden_needs_the_secret(tmp_path):
    write_class(tmp_path, {"ada": REFERENCE})
    proc = _pytest("--grade", "ada/03_softmax.py", "--grade-hidden", cwd=tmp_path,
                   env={**_student_env(), "PYTHONPATH": str(ROOT)})
    assert proc.returncode != 0 and "needs the secret" in proc.stdout + proc.stderr


def test_the_classroom_workflow_is_up_to_date_one_step_per_exercise():
    import yaml

    path = ROOT / ".github" / "workflows" / "classroom.yml"
    assert path.read_text() == bundle.classroom_workflow(), (
        "regenerate it: .venv/bin/python -m grader bundle --workflow .github/workflows/classroom.yml")
    steps = yaml.safe_load(path.read_text())["jobs"]["run-autograding-tests"]["steps"]
    graders = [s for s in steps if s.get("uses", "").startswith("classroom-resources/autograding-command-grader")]
    assert [s["id"] for s in graders] == list(exercises.EXERCISES)
    for step in graders:
        exercise = exercises.get(step["id"])
        assert step["with"]["max-score"] == sum(c.points for c in exercise.checks)
        assert f"--grade notebooks/{exercise.notebook}.ipynb --grade-exercise {exercise.name}" in step["with"]["command"]
    reporter = steps[-1]
    assert reporter["with"]["runners"].split(",") == list(exercises.EXERCISES)
    assert set(reporter["env"]) == {f"{name.upper()}_RESULTS" for name in exercises.EXERCISES}
