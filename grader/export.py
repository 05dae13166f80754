"""Grades out of a results folder, into where grades go.

``python -m grader export`` reads ``<results>/<id>.json`` (written by ``grade`` or ``merge``)
and writes, into ``--to`` (default: the results folder):

- ``grades.csv``: one row per student, one column per exercise (points earned; empty when the
  student handed in no notebook with that exercise), then ``total`` and ``possible``: the wide
  table an LMS imports;
- ``checks.csv``: one row per check (the long table: status, points, visibility);
- ``checks.jsonl``: the same rows as JSON Lines, with the message and diagnosis (instructors only);
- ``gradescope/<id>/results.json``: Gradescope's autograder format, one test per check (score,
  max_score, status, visibility, output); hidden checks are ``after_published`` with their name and
  status only;
- ``feedback/<student>.html`` and ``.md``: what the student may see (:mod:`grader.feedback`);
- with ``--gradebook``, the scores into nbgrader's gradebook (``auto_score`` of each
  ``check_<exercise>`` grade cell, through nbgrader's own API), so that ``nbgrader export`` and
  formgrader show them.

Only facts that do not change between runs are exported (no times, no run ids): grading a class
in one run or in shards then merging gives byte-identical exports.
"""
from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from pathlib import Path

from . import feedback as feedback_module

FORMATS = ("csv-wide", "csv-long", "jsonl", "gradescope", "feedback")
LONG_COLUMNS = ["submission", "exercise", "check", "visibility", "status", "earned", "points", "student",
                "assignment", "notebook"]


def _number(value: float) -> str:
    return f"{value:g}"


def _write_text(path: Path, text: str) -> None:
    from .cache import write_text_atomic

    write_text_atomic(path, text)


def _course_order() -> list[str]:
    from . import exercises as registry

    return list(registry.EXERCISES)


# ------------------------------------------------------------------------------ tables


def by_student(results: list[dict]) -> dict[str, dict[str, float]]:
    """{student: {exercise: earned}}; a student who handed in two answers to one exercise keeps the better."""
    table: dict[str, dict[str, float]] = defaultdict(dict)
    for result in results:
        for exercise in result["exercises"]:
            name = exercise["exercise"]
            table[result["student"]][name] = max(exercise["earned"], table[result["student"]].get(name, 0.0))
    return dict(table)


FLAGGED = "flagged"  # an exercise refused or stopped for what it tried (the gate, the guards): a person should look


def flagged(results: list[dict]) -> dict[str, list[str]]:
    """{student: exercises flagged for review}, in course order."""
    order = {name: i for i, name in enumerate(_course_order())}
    table: dict[str, set[str]] = defaultdict(set)
    for result in results:
        table[result["student"]].update(e["exercise"] for e in result["exercises"] if e["status"] == FLAGGED)
    return {student: sorted(names, key=lambda n: order.get(n, len(order))) for student, names in table.items() if names}


def wide_csv(results: list[dict]) -> str:
    """student, one column per exercise (course order), total, possible, and the exercises flagged
    for review (refused by the static gate or stopped by the answer's guards: 0 points, worth a look)."""
    points = {e["exercise"]: e["points"] for r in results for e in r["exercises"]}
    columns = [name for name in _course_order() if name in points] + sorted(set(points) - set(_course_order()))
    possible = sum(points[name] for name in columns)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    marks = flagged(results)
    writer.writerow(["student", *columns, "total", "possible", "flagged_for_review"])
    for student, earned in sorted(by_student(results).items()):
        writer.writerow([student, *(_number(earned[n]) if n in earned else "" for n in columns),
                         _number(sum(earned.values())), _number(possible), " ".join(marks.get(student, []))])
    return buffer.getvalue()


def _counted(check: dict) -> float:
    """What a check adds to its exercise's points under the policy it was graded with (all or
    nothing: 0 unless every check of the exercise passed), so that every table sums to the grades."""
    return check.get("counted", check["earned"])


def long_rows(results: list[dict]) -> list[dict]:
    rows = []
    for result in sorted(results, key=lambda r: r["id"]):
        for exercise in result["exercises"]:
            for check in exercise["checks"]:
                rows.append({
                    "submission": result["id"], "exercise": exercise["exercise"], "check": check["name"],
                    "visibility": "hidden" if check["hidden"] else "public", "status": check["status"],
                    "earned": _counted(check), "points": check["points"], "student": result["student"],
                    "assignment": result["assignment"], "notebook": exercise["notebook"],
                    "message": check.get("message", ""), "diagnosis": check.get("diagnosis", ""),
                })
    return rows


def long_csv(results: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, LONG_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in long_rows(results):
        writer.writerow({**row, "earned": _number(row["earned"]), "points": _number(row["points"])})
    return buffer.getvalue()


def jsonl(results: list[dict]) -> str:
    return "".join(json.dumps(row, sort_keys=True) + "\n" for row in long_rows(results))


# ------------------------------------------------------------------------------ Gradescope


def gradescope(result: dict) -> dict:
    """Gradescope's results.json for one submission (its autograder specification): one test per
    check. Public checks are visible with what the student may see; hidden ones after_published,
    with name and status only."""
    view = {ex["exercise"]: ex for ex in feedback_module.student_view(result)}
    tests = []
    for i, exercise in enumerate(result["exercises"], start=1):
        shown = view[exercise["exercise"]]
        for j, (check, seen) in enumerate(zip(exercise["checks"], shown["checks"]), start=1):
            if check["hidden"]:
                output = f"hidden check: {seen['status']}"
            else:
                output = "\n".join(part for part in (seen["description"], seen["detail"]) if part)
            if j == 1 and not check["hidden"]:  # the exercise-level facts go with its first public check
                extra = [shown["message"], shown["mistake"], shown["hint"]]
                output = "\n".join(part for part in [output, *extra] if part)
            if j == 1 and exercise["status"] == FLAGGED:
                output = f"FLAGGED FOR REVIEW: {shown['message']}\n{output}".strip()
            tests.append({
                "name": f"{exercise['exercise']}: {check['name']}", "number": f"{i}.{j}",
                "score": float(_counted(check)), "max_score": float(check["points"]),
                "status": "passed" if check["status"] == "passed" else "failed",
                "visibility": "after_published" if check["hidden"] else "visible",
                "output": output, "tags": [exercise["notebook"], exercise["exercise"]],
            })
    summary = f"{result['earned']:g} / {result['points']:g} points"
    if result.get("error"):
        summary += f"\n{result['error']}"
    marked = [e["exercise"] for e in result["exercises"] if e["status"] == FLAGGED]
    if marked:
        summary += f"\nFlagged for review: {', '.join(marked)}"
    return {"score": float(result["earned"]), "output": summary, "visibility": "visible",
            "stdout_visibility": "hidden", "tests": tests}


# ------------------------------------------------------------------------------ writing


def export(results: list[dict], to: Path, formats=FORMATS) -> list[Path]:
    """Write the chosen formats into ``to``; returns what was written."""
    written = []
    if "csv-wide" in formats:
        written.append(to / "grades.csv")
        _write_text(written[-1], wide_csv(results))
    if "csv-long" in formats:
        written.append(to / "checks.csv")
        _write_text(written[-1], long_csv(results))
    if "jsonl" in formats:
        written.append(to / "checks.jsonl")
        _write_text(written[-1], jsonl(results))
    if "gradescope" in formats:
        for result in results:
            written.append(to / "gradescope" / result["id"] / "results.json")
            _write_text(written[-1], json.dumps(gradescope(result), indent=1, sort_keys=True) + "\n")
    if "feedback" in formats:
        students: dict[str, list[dict]] = defaultdict(list)
        for result in sorted(results, key=lambda r: r["id"]):
            students[result["student"]].append(result)
        for student, theirs in sorted(students.items()):
            written.append(to / "feedback" / f"{student}.md")
            _write_text(written[-1], feedback_module.markdown(student, theirs))
            written.append(to / "feedback" / f"{student}.html")
            _write_text(written[-1], feedback_module.html_page(student, theirs))
    return written


# ------------------------------------------------------------------------------ nbgrader


def gradebook_assignment(result: dict) -> tuple[str, str]:
    """(assignment, notebook) in nbgrader's terms: one notebook per assignment in this course."""
    notebook = result["notebooks"][0] if result["notebooks"] else result["assignment"]
    return result["assignment"], notebook


def to_gradebook(results: list[dict], db_url: str) -> tuple[int, list[str]]:
    """Each exercise's points as the ``auto_score`` of its ``check_<exercise>`` grade cell in
    nbgrader's gradebook (as ``nbgrader autograde`` would write it; a manual score a grader gave
    still wins, and keeps the cell flagged for review). Students are added when missing; the
    assignment must be in the gradebook already (``nbgrader generate_assignment``).
    Returns (grades written, problems)."""
    from nbgrader.api import Gradebook, MissingEntry

    written, problems = 0, []
    with Gradebook(db_url) as gradebook:
        for result in results:
            if result["student"] == result["id"] and result["student"] == result["assignment"]:
                problems.append(f"{result['id']}: no student id (a loose file); grade a folder of student "
                                "folders or nbgrader's submitted/ to write it into the gradebook")
                continue
            assignment, notebook = gradebook_assignment(result)
            try:
                gradebook.find_assignment(assignment)
            except MissingEntry:
                problems.append(f"{result['id']}: assignment {assignment} is not in the gradebook; run "
                                f"`nbgrader generate_assignment {assignment}` first")
                continue
            gradebook.update_or_create_student(result["student"])
            try:
                gradebook.find_submission(assignment, result["student"])
            except MissingEntry:
                gradebook.add_submission(assignment, result["student"], **_timestamp(result))
            for exercise in result["exercises"]:
                try:
                    grade = gradebook.find_grade(f"check_{exercise['exercise']}", notebook, assignment, result["student"])
                except MissingEntry:
                    problems.append(f"{result['id']}: the gradebook's {notebook} has no grade cell "
                                    f"check_{exercise['exercise']}")
                    continue
                if grade.max_score is not None and abs(grade.max_score - exercise["points"]) > 1e-9:
                    problems.append(f"{result['id']}: check_{exercise['exercise']} is worth {grade.max_score:g} in "
                                    f"the gradebook and {exercise['points']:g} here (regenerate the assignment)")
                grade.auto_score = float(exercise["earned"])
                # flagged for review: nbgrader's own mark, which formgrader lists until a person grades it
                grade.needs_manual_grade = grade.manual_score is not None or exercise["status"] == FLAGGED
                written += 1
            gradebook.db.commit()
    return written, problems


def _timestamp(result: dict) -> dict:
    """nbgrader's submission time, from the timestamp.txt its collect step leaves next to the notebook."""
    stamp = Path(result["submission"]).parent / "timestamp.txt"
    try:
        return {"timestamp": stamp.read_text().strip()} if stamp.is_file() else {}
    except OSError:
        return {}
