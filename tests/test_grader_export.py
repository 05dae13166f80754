"""Exports read back by their consumers' parsers (csv, json, Gradescope's documented format,
nbgrader's gradebook API and ``nbgrader export``), and feedback that never shows hidden material."""
from __future__ import annotations

import csv
import html
import inspect
import json
import os
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from _grading_class import LEAKY, REFERENCE, ROOT, SECRET, WRONG_AXIS, grade_and_export, run_grader
from grader import batch, exercises, reference
from grader.core import build_calls, run_call

# dee's softmax walks the interpreter's objects: the gate refuses it, and every export says so
ESCAPING = '''

def softmax(scores, axis=-1):
    import gc
    gc.collect()
    exp = np.exp(scores - np.max(scores, axis=axis, keepdims=True))
    return exp / np.sum(exp, axis=axis, keepdims=True)
'''
CLASS = {"ada": REFERENCE, "bo": REFERENCE + WRONG_AXIS, "cy": LEAKY, "dee": REFERENCE + ESCAPING}
NOTEBOOK = "03_softmax"


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("export")
    out = grade_and_export(folder, CLASS)
    results = {r["student"]: r for r in batch.load_results(out)}
    assert sorted(results) == sorted(CLASS)
    return {"folder": folder, "out": out, "results": results}


def test_wide_csv_one_row_per_student_one_column_per_exercise(graded):
    with open(graded["out"] / "grades.csv", newline="") as fh:
        rows = {row["student"]: row for row in csv.DictReader(fh)}
    names = [e.name for e in exercises.for_notebook(NOTEBOOK)]
    assert list(next(iter(rows.values()))) == ["student", *names, "total", "possible", "flagged_for_review"]
    assert sorted(rows) == sorted(CLASS)
    for student, result in graded["results"].items():
        per_exercise = {e["exercise"]: e["earned"] for e in result["exercises"]}
        assert {n: float(rows[student][n]) for n in names} == per_exercise
        assert float(rows[student]["total"]) == result["earned"]
        assert float(rows[student]["possible"]) == result["points"] == 16
    assert float(rows["ada"]["total"]) == 16 and float(rows["bo"]["softmax"]) < 7
    # dee's masked_softmax calls dee's softmax (it runs in its process too): both are flagged
    assert {student: row["flagged_for_review"] for student, row in rows.items()} == {
        "ada": "", "bo": "", "cy": "", "dee": "softmax masked_softmax"}
    assert float(rows["dee"]["softmax"]) == float(rows["dee"]["masked_softmax"]) == 0
    assert float(rows["dee"]["total"]) == float(rows["dee"]["causal_mask"]) > 0


def test_a_flagged_exercise_is_marked_in_every_export(graded):
    """Refused by the gate: 0 points, and a person is asked to look, in each consumer's own terms."""
    out = graded["out"]
    dee = graded["results"]["dee"]
    softmax = next(e for e in dee["exercises"] if e["exercise"] == "softmax")
    assert softmax["status"] == "flagged" and "import gc" in softmax["message"], softmax["message"]
    with open(out / "checks.csv", newline="") as fh:
        statuses = {r["status"] for r in csv.DictReader(fh) if r["student"] == "dee" and r["exercise"] == "softmax"}
    assert statuses == {"flagged"}
    gradescope = json.loads((out / "gradescope" / dee["id"] / "results.json").read_text())
    assert "Flagged for review: softmax" in gradescope["output"]
    assert any(t["output"].startswith("FLAGGED FOR REVIEW") for t in gradescope["tests"] if t["name"].startswith("softmax"))
    feedback = (out / "feedback" / "dee.md").read_text()
    assert "softmax: 0 / 7 (flagged for review)" in feedback and "import gc" in feedback


def test_long_csv_and_json_lines_one_row_per_check(graded):
    with open(graded["out"] / "checks.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    lines = [json.loads(line) for line in (graded["out"] / "checks.jsonl").read_text().splitlines()]
    # each check as it adds to the grade (all or nothing: 0 unless its whole exercise passed)
    expected = [(r["id"], e["exercise"], c["name"], c["status"], c["counted"])
                for r in sorted(graded["results"].values(), key=lambda r: r["id"]) for e in r["exercises"] for c in e["checks"]]
    for result in graded["results"].values():
        for exercise in result["exercises"]:
            assert sum(c["counted"] for c in exercise["checks"]) == exercise["earned"]
    assert [(r["submission"], r["exercise"], r["check"], r["status"], float(r["earned"])) for r in rows] == expected
    assert [(r["submission"], r["exercise"], r["check"], r["status"], r["earned"]) for r in lines] == expected
    assert {r["visibility"] for r in rows} == {"public", "hidden"}
    assert any(r["diagnosis"] for r in lines)  # the instructor's file keeps the diagnosis


# Gradescope's autograder specification (results.json), as a JSON schema: top-level score, output,
# visibility, stdout_visibility, tests; per test score, max_score, status, name, number, output,
# tags, visibility. Gradescope's own parser is not available here; this is its documented contract.
VISIBILITY = {"enum": ["visible", "hidden", "after_due_date", "after_published"]}
GRADESCOPE_SCHEMA = {
    "type": "object",
    "properties": {
        "score": {"type": "number"}, "execution_time": {"type": "number"}, "output": {"type": "string"},
        "visibility": VISIBILITY, "stdout_visibility": VISIBILITY, "extra_data": {"type": "object"},
        "tests": {"type": "array", "items": {
            "type": "object", "required": ["score", "max_score", "name"],
            "properties": {
                "score": {"type": "number"}, "max_score": {"type": "number"}, "status": {"enum": ["passed", "failed"]},
                "name": {"type": "string"}, "number": {"type": "string"}, "output": {"type": "string"},
                "tags": {"type": "array", "items": {"type": "string"}}, "visibility": VISIBILITY,
                "name_format": {"enum": ["text", "html", "simple_format", "md", "ansi"]},
                "output_format": {"enum": ["text", "html", "simple_format", "md", "ansi"]},
            },
            "additionalProperties": False,
        }},
    },
    "additionalProperties": False,
}


def test_gradescope_results_follow_the_specification(graded):
    import jsonschema

    for student, result in graded["results"].items():
        data = json.loads((graded["out"] / "gradescope" / result["id"] / "results.json").read_text())
        jsonschema.validate(data, GRADESCOPE_SCHEMA)
        checks = [c for e in result["exercises"] for c in e["checks"]]
        assert len(data["tests"]) == len(checks)
        assert data["score"] == pytest.approx(sum(t["score"] for t in data["tests"])) == result["earned"]
        assert sum(t["max_score"] for t in data["tests"]) == result["points"]
        for test, check in zip(data["tests"], checks):
            assert test["score"] <= test["max_score"]
            if check["hidden"]:
                assert test["visibility"] == "after_published"
                assert re.fullmatch(r"hidden check: [A-Z ]+", test["output"]), test["output"]
            else:
                assert test["visibility"] == "visible"
    with pytest.raises(jsonschema.ValidationError):  # the schema can fail
        jsonschema.validate({"tests": [{"score": 1, "max_score": 1, "name": "x", "visibility": "sometimes"}]},
                            GRADESCOPE_SCHEMA)


# ------------------------------------------------------------------------------ feedback


def _visible(path) -> str:
    text = path.read_text(encoding="utf-8")
    return html.unescape(re.sub(r"<[^>]+>", " ", text)) if path.suffix == ".html" else text


def _floats(value) -> list[float]:
    if isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.floating):
        return [float(v) for v in value.ravel()[:8]]
    if isinstance(value, (list, tuple)):
        return [f for v in value for f in _floats(v)]
    if isinstance(value, dict):
        return [f for v in value.values() for f in _floats(v)]
    return []


def hidden_material() -> list[str]:
    """What feedback must never show: the hidden checks' source lines, their inputs and expected
    values (as repr and short forms, which is how code would print them), and the secret."""
    found = {SECRET}
    for exercise in exercises.for_notebook(NOTEBOOK):
        for check in exercise.hidden_checks:
            source = inspect.getsource(check.calls)
            found |= {line.strip() for line in source.splitlines() if len(line.strip()) >= 25}
            calls = build_calls(check, exercise.name, SECRET)
            values = [f for call in calls for f in _floats(list(call.args))]
            truth = reference.reference(exercise.name)
            values += [f for call in calls for f in _floats(run_call(truth, call))]
            for value in values:
                if value not in (0.0, 1.0) and np.isfinite(value):
                    found |= {repr(value), f"{value:.6g}", f"{value:.4f}"}
    return sorted(found)


def test_feedback_never_shows_hidden_checks_inputs_or_expected_values(graded):
    pages = sorted((graded["out"] / "feedback").glob("*"))
    assert {p.name for p in pages} == {f"{s}.{ext}" for s in CLASS for ext in ("md", "html")}
    forbidden = hidden_material()
    assert len(forbidden) > 50
    for page in pages:
        text = _visible(page)
        leaks = [item for item in forbidden if item in text]
        assert not leaks, f"{page.name} shows hidden material: {leaks[:5]}"
        for marker in ("STDERR-LEAK", "WARN-LEAK", "HIDDEN TESTS", "hidden=True"):
            assert marker not in text, f"{page.name} shows {marker}"
    cy = _visible(graded["out"] / "feedback" / "cy.md")
    assert "printed warnings or wrote to stderr" in cy  # said, not quoted
    assert "hidden_random (hidden)" in cy and "PASS" in cy  # a hidden check: its name and status
    # masked_softmax raises on every input: the public checks may quote the (public) inputs, hidden ones not
    hidden_rows = [line for line in cy.splitlines() if "(hidden)" in line]
    assert hidden_rows and not any("RAISE-LEAK" in line for line in hidden_rows)


def test_feedback_names_the_mistake_and_the_points(graded):
    bug = next(b for b in reference.bugs("softmax") if b.id == "wrong_axis")
    for suffix in ("md", "html"):
        bo = _visible(graded["out"] / "feedback" / f"bo.{suffix}")
        assert bug.title in bo and bug.hint in bo
        assert f"{graded['results']['bo']['earned']:g} / 16 points" in bo
    ada = _visible(graded["out"] / "feedback" / "ada.md")
    assert "16 / 16 points" in ada and "Known mistake" not in ada
    cy = _visible(graded["out"] / "feedback" / "cy.md")
    assert "causal_mask: 0 / 3 (missing)" in cy and "does not define causal_mask" in cy


# ------------------------------------------------------------------------------ nbgrader's gradebook


@pytest.mark.slow
def test_scores_written_into_the_gradebook_show_in_nbgrader_export(graded, tmp_path, monkeypatch):
    """The assignment as ``nbgrader generate_assignment`` records it (grade cells check_<exercise>,
    worth the exercise's points), our export into it, then ``nbgrader export``'s CSV and the API."""
    from nbgrader.api import Gradebook

    # nbgrader runs its environment's `alembic` to create a gradebook
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")

    course = tmp_path / "course"
    course.mkdir()
    db = course / "gradebook.db"
    with Gradebook(f"sqlite:///{db}") as gradebook:
        gradebook.update_or_create_assignment(NOTEBOOK)
        gradebook.update_or_create_notebook(NOTEBOOK, NOTEBOOK)
        for exercise in exercises.for_notebook(NOTEBOOK):
            gradebook.update_or_create_grade_cell(f"check_{exercise.name}", NOTEBOOK, NOTEBOOK, cell_type="code",
                                                  max_score=sum(c.points for c in exercise.checks))
        gradebook.add_student("ada")  # already known; the others are added by the export
    proc = run_grader("export", "--out", graded["out"], "--format", "csv-wide", "--gradebook", db, cwd=graded["folder"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "12 grade(s) written" in proc.stdout

    with Gradebook(f"sqlite:///{db}") as gradebook:
        for student, result in graded["results"].items():
            for exercise in result["exercises"]:
                grade = gradebook.find_grade(f"check_{exercise['exercise']}", NOTEBOOK, NOTEBOOK, student)
                flagged = exercise["status"] == "flagged"  # nbgrader's own mark: formgrader lists it for a person
                assert (grade.auto_score, grade.score, grade.needs_manual_grade) == (exercise["earned"], exercise["earned"], flagged)
        assert gradebook.find_grade("check_softmax", NOTEBOOK, NOTEBOOK, "dee").needs_manual_grade
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_notebooks", ROOT / "tools" / "build_notebooks.py")
    build = sys.modules.get("build_notebooks") or importlib.util.module_from_spec(spec)
    if "build_notebooks" not in sys.modules:
        sys.modules["build_notebooks"] = build
        spec.loader.exec_module(build)
    out_csv = tmp_path / "grades.csv"
    build.nbgrader("export", f"--to={out_csv}", course_dir=course)
    with open(out_csv, newline="") as fh:
        exported = {row["student_id"]: row for row in csv.DictReader(fh)}
    for student, result in graded["results"].items():
        assert float(exported[student]["score"]) == pytest.approx(result["earned"])
        assert float(exported[student]["max_score"]) == pytest.approx(16)
    # written twice, nothing doubles
    proc = run_grader("export", "--out", graded["out"], "--format", "csv-wide", "--gradebook", db, cwd=graded["folder"])
    assert proc.returncode == 0
    with Gradebook(f"sqlite:///{db}") as gradebook:
        assert len(gradebook.find_assignment(NOTEBOOK).submissions) == len(CLASS)
