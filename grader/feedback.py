"""Feedback for students, one page per student (HTML and Markdown), from the grading results.

Per exercise: its status, the points, the known mistake the answer matches (from the bug zoo)
and where to look. A public check shows what it tests and, when it failed, what came back and
what was expected (its inputs are in the notebook anyway). A hidden check shows its name and
status, nothing else: not its code, inputs, expected values, nor any message about them. What
the student's code printed or warned while it was checked is summarised in one sentence, never
quoted (code run on hidden inputs could print them).
"""
from __future__ import annotations

import html
import re

STATUS_WORDS = {
    "passed": "PASS", "failed": "FAIL", "error": "ERROR", "timeout": "TIMEOUT", "crashed": "CRASHED",
    "not_attempted": "NOT YET", "missing": "MISSING", "skipped": "SKIP", "forbidden": "FORBIDDEN",
    "flagged": "FLAGGED FOR REVIEW",
}
KNOWN = "This looks like a known mistake:"
# judge.raised_where() appends where the error happened, with the inputs' shapes: not for hidden checks.
WHERE_SUFFIX = re.compile(r"\s*It happened on call \d+ of \d+.*$", re.DOTALL)
PRINTED = ("your code printed warnings or wrote to stderr while it was checked; that never costs points, "
           "but look at it in the notebook")


def exercise_status(exercise: dict) -> str:
    """One word for an exercise: passed, partly passed, failed, or its fate (timeout, missing...)."""
    if exercise["status"] != "graded":
        return {"not_attempted": "not attempted", "flagged": "flagged for review"}.get(exercise["status"], exercise["status"])
    passed = [c["status"] == "passed" for c in exercise["checks"]]
    return "passed" if passed and all(passed) else "partly passed" if any(passed) else "failed"


def named_mistake(exercise: dict) -> str:
    """The known mistake the answer matches ("... softmax over the wrong axis. <hint>"), from any
    check, without where a hidden check's input made it happen."""
    for check in exercise["checks"]:
        diagnosis = check.get("diagnosis") or ""
        if check["status"] != "passed" and diagnosis.startswith(KNOWN):
            return WHERE_SUFFIX.sub("", diagnosis).strip() if check["hidden"] else diagnosis.strip()
    return ""


def hint(exercise: dict, where: str) -> str:
    """What to do next when no known mistake is named."""
    failed = [c for c in exercise["checks"] if c["status"] != "passed"]
    if exercise["status"] != "graded" or not failed or named_mistake(exercise):
        return ""
    if all(c["hidden"] for c in failed):
        return ("the public checks pass, but the hidden checks, which run the same tests on other inputs (other sizes, "
                "random values), do not: make sure nothing in your answer depends on the public inputs"
                + (f"; look at {where}" if where else ""))
    return f"look at {where}" if where else ""


def public_detail(check: dict) -> str:
    """What a failed public check says (message and diagnosis); empty for a passed or hidden one."""
    if check["hidden"] or check["status"] == "passed":
        return ""
    parts = [check.get("message") or "", check.get("diagnosis") or ""]
    return " ".join(p.strip() for p in parts if p and p.strip())


# Messages of exercises that did not run to the end, safe to show as they are: made by the grader, or
# raised while the answer cell was being defined (before any check's input existed).
SAFE_MESSAGES = ("the answer cell raised", "the notebook's setup cell failed", "the grader could not run")
UNATTRIBUTED = ("your code stopped the checks with an error that belongs to no single check; run the exercise's "
                "check(...) cell in the notebook to see it")


def exercise_message(exercise: dict) -> str:
    """Why an exercise was not graded check by check (timeout, crash, missing cell...)."""
    message = exercise.get("message", "")
    if exercise["status"] == "graded" or not message:
        return ""
    if exercise["status"] == "error" and not message.startswith(SAFE_MESSAGES):
        return UNATTRIBUTED  # raised after the checks' calls ran: its text could quote hidden inputs
    return message


def safe_notes(exercise: dict) -> list[str]:
    """Notes about the submission itself (e.g. missing metadata), and one sentence for everything
    the code printed or warned."""
    own = [n for n in exercise.get("notes", []) if n.startswith(f"{exercise['exercise']}: ")]
    return own + ([PRINTED] if len(own) < len(exercise.get("notes", [])) else [])


def _where(name: str) -> str:
    from . import exercises as registry

    return registry.EXERCISES[name].where if name in registry.EXERCISES else ""


def student_view(result: dict) -> list[dict]:
    """Everything a student may see of one result, exercise by exercise (plain data)."""
    view = []
    for exercise in result["exercises"]:
        view.append({
            "exercise": exercise["exercise"], "notebook": exercise["notebook"], "status": exercise_status(exercise),
            "earned": exercise["earned"], "points": exercise["points"],
            "message": exercise_message(exercise),
            "mistake": named_mistake(exercise), "hint": hint(exercise, _where(exercise["exercise"])),
            "notes": safe_notes(exercise),
            "checks": [{"name": c["name"], "hidden": c["hidden"], "status": STATUS_WORDS.get(c["status"], c["status"].upper()),
                        "description": "" if c["hidden"] else c.get("description", ""), "detail": public_detail(c)}
                       for c in exercise["checks"]],
        })
    return view


# ------------------------------------------------------------------------------ Markdown


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


SCORING_WORDS = {
    "all-or-nothing": "Each exercise is all or nothing: its points when every check, public and hidden, passes.",
    "per-check": "Each check that passes earns its own points.",
}


def _scoring(results: list[dict]) -> str:
    policies = {e.get("scoring") for r in results for e in r["exercises"]} - {None}
    return " ".join(SCORING_WORDS[p] for p in sorted(policies) if p in SCORING_WORDS)


def markdown(student: str, results: list[dict]) -> str:
    total = sum(r["earned"] for r in results)
    possible = sum(r["points"] for r in results)
    lines = [f"# Feedback for {student}", "", f"**{total:g} / {possible:g} points** in {len(results)} submission(s).", "",
             " ".join(filter(None, [_scoring(results), "Hidden checks run the same tests as the public ones on other "
                                    "inputs; for them you see the name and whether it passed."])), ""]
    for result in results:
        lines += [f"## {', '.join(result['notebooks']) or result['assignment']}: {result['earned']:g} / {result['points']:g} points", ""]
        if result.get("error"):
            lines += [result["error"], ""]
        for ex in student_view(result):
            lines += [f"### {ex['exercise']}: {ex['earned']:g} / {ex['points']:g} ({ex['status']})", ""]
            for label, text in (("What happened", ex["message"]), ("Known mistake", ex["mistake"]), ("Hint", ex["hint"])):
                if text:
                    lines.append(f"- **{label}:** {_md(text)}")
            lines += [f"- note: {_md(note)}" for note in ex["notes"]]
            lines += ["", "| check | status | what it tests | details |", "|---|---|---|---|"]
            for c in ex["checks"]:
                name = f"{c['name']} (hidden)" if c["hidden"] else c["name"]
                lines.append(f"| `{name}` | {c['status']} | {_md(c['description'])} | {_md(c['detail'])} |")
            lines.append("")
    return "\n".join(lines)


# ------------------------------------------------------------------------------ HTML

_STYLE = ("body{font-family:system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em}"
          "table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #d0d7de;padding:.3em .6em;"
          "text-align:left;vertical-align:top}.PASS{color:#1a7f37;font-weight:bold}.FAIL,.ERROR,.TIMEOUT,.CRASHED,"
          ".MISSING,.FORBIDDEN,.FLAGGED_FOR_REVIEW{color:#cf222e;font-weight:bold}")


def html_page(student: str, results: list[dict]) -> str:
    e = html.escape
    total = sum(r["earned"] for r in results)
    possible = sum(r["points"] for r in results)
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Feedback for {e(student)}</title>"
             f"<style>{_STYLE}</style></head><body><h1>Feedback for {e(student)}</h1>"
             f"<p><b>{total:g} / {possible:g} points</b> in {len(results)} submission(s). {e(_scoring(results))} "
             "Hidden checks run the same tests as the public ones on other inputs; for them you see the name and "
             "whether it passed.</p>"]
    for result in results:
        parts.append(f"<h2>{e(', '.join(result['notebooks']) or result['assignment'])}: "
                     f"{result['earned']:g} / {result['points']:g} points</h2>")
        if result.get("error"):
            parts.append(f"<p>{e(result['error'])}</p>")
        for ex in student_view(result):
            parts.append(f"<h3>{e(ex['exercise'])}: {ex['earned']:g} / {ex['points']:g} ({e(ex['status'])})</h3><ul>")
            for label, text in (("What happened", ex["message"]), ("Known mistake", ex["mistake"]), ("Hint", ex["hint"])):
                if text:
                    parts.append(f"<li><b>{label}:</b> {e(text)}</li>")
            parts += [f"<li>note: {e(note)}</li>" for note in ex["notes"]]
            parts.append("</ul><table><tr><th>check</th><th>status</th><th>what it tests</th><th>details</th></tr>")
            for c in ex["checks"]:
                name = f"{c['name']} (hidden)" if c["hidden"] else c["name"]
                parts.append(f"<tr><td><code>{e(name)}</code></td><td class='{e(c['status'].replace(' ', '_'))}'>"
                             f"{e(c['status'])}</td><td>{e(c['description'])}</td><td>{e(c['detail'])}</td></tr>")
            parts.append("</table>")
    parts.append("</body></html>")
    return "".join(parts)
