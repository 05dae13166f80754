"""Reports for people: a compact table per exercise, as text (terminal) or HTML (notebook)."""
from __future__ import annotations

import html
import re

from .core import ExerciseResult

STATUS_MARK = {
    "passed": "PASS",
    "failed": "FAIL",
    "error": "ERROR",
    "timeout": "TIMEOUT",
    "crashed": "CRASHED",
    "not_attempted": "NOT YET",
    "missing": "MISSING",
    "skipped": "SKIP",
    "forbidden": "FORBIDDEN",
    "flagged": "FLAGGED",
}


def summary_line(result: ExerciseResult, hidden_total: int = 0) -> str:
    """'public checks 3/4 passed; 2 hidden checks run at grading' (never 'all tests passed')."""
    public = [c for c in result.checks if not c.hidden]
    hidden = [c for c in result.checks if c.hidden]
    parts = []
    if public:
        parts.append(f"public checks {sum(c.passed for c in public)}/{len(public)} passed")
    if hidden:
        parts.append(f"hidden checks {sum(c.passed for c in hidden)}/{len(hidden)} passed")
    elif hidden_total:
        parts.append(f"{hidden_total} hidden check{'s' if hidden_total != 1 else ''} run at grading")
    return "; ".join(parts) if parts else result.message or result.status


def _detail(check) -> str:
    text = check.message
    if check.diagnosis:
        text = f"{text}\n    -> {check.diagnosis}" if text else check.diagnosis
    return text


def text_report(result: ExerciseResult, hidden_total: int = 0) -> str:
    """The table as text. Points only when every check ran (grading); a student's check, where the
    hidden checks have not run, shows check counts instead: its points would promise too much."""
    head = f"{result.earned:g}/{result.points:g} points" if not hidden_total else "public checks only"
    lines = [f"{result.exercise} ({result.notebook}): {head}"]
    if result.message:
        lines.append(f"  {result.message}")
    if result.status == "not_attempted":
        lines.append("  not attempted yet: replace the `raise NotImplementedError` in the exercise cell with your code")
    for check in result.checks if result.status != "not_attempted" else []:
        mark = STATUS_MARK.get(check.status, check.status.upper())
        label = f"{check.name}{' [hidden]' if check.hidden else ''}"
        lines.append(f"  {mark:<8} {label:<28} {check.description}")
        detail = _detail(check)
        if detail and not check.passed:
            lines += [f"           {line}" for line in detail.splitlines()]
    for note in result.notes:
        lines.append(f"  note: {note}")
    lines.append(f"  {summary_line(result, hidden_total)}")
    return "\n".join(lines)


def _html_text(text: str) -> str:
    """Escaped text, with the hints' `code` in backticks shown as code."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


# Every cell left-aligned, top-aligned: JupyterLab right-aligns table cells by default, which
# makes the checks' names and sentences hard to read.
LEFT = "text-align:left;vertical-align:top"


def html_report(result: ExerciseResult, hidden_total: int = 0) -> str:
    colour = {"passed": "#1a7f37", "not_attempted": "#6e7781"}
    rows = []
    if result.status == "not_attempted":
        return (f"<div><b>{html.escape(result.exercise)}</b>: not attempted yet: replace the "
                "<code>raise NotImplementedError</code> in the exercise cell with your code. "
                f"<i>{html.escape(summary_line(result, hidden_total))}</i></div>")
    for check in result.checks:
        mark = STATUS_MARK.get(check.status, check.status.upper())
        detail = "" if check.passed else _html_text(check.message)
        if check.diagnosis and not check.passed:
            detail += f"<br><b>{_html_text(check.diagnosis)}</b>"
        rows.append(
            f"<tr><td style='{LEFT};color:{colour.get(check.status, '#cf222e')};font-weight:bold'>{mark}</td>"
            f"<td style='{LEFT}'><code>{html.escape(check.name)}</code></td>"
            f"<td style='{LEFT}'>{html.escape(check.description)}</td><td style='{LEFT}'>{detail}</td></tr>"
        )
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in result.notes)
    notes = f"<p>Notes (not penalised):</p><ul>{notes}</ul>" if notes else ""
    message = f"<p>{html.escape(result.message)}</p>" if result.message else ""
    return (
        f"<div><b>{html.escape(result.exercise)}</b>{message}"
        "<table><tr>" + "".join(f"<th style='{LEFT}'>{name}</th>" for name in ("", "check", "what it tests", "details"))
        + "</tr>"
        + "".join(rows)
        + f"</table>{notes}<p><b>{html.escape(summary_line(result, hidden_total))}</b></p></div>"
    )
