"""Trusted side: turn the outputs of the student's calls into check results.

The outputs may come from the sandboxed worker (instructor grading) or from the
student's own kernel (``check(...)`` in a notebook); either way they are plain data,
and the expected values are computed here, never where student code ran.
"""
from __future__ import annotations

import contextlib
import io
import traceback
import warnings
from dataclasses import dataclass
from typing import Any

from . import reference as hidden
from .core import Call, Check, CheckResult, Comparison, Exercise, ExerciseResult, build_calls, compare, run_call


@dataclass
class Outcome:
    """What one call into student code gave: plain output, or the error it raised."""

    ok: bool
    value: Any = None
    error_type: str = ""
    error_message: str = ""
    trace: str = ""


def run_in_process(answer: Any, calls: list[Call], notes: list[str]) -> list[Outcome]:
    """Student side, in this process (a notebook's ``check``): warnings and stderr become notes
    (nbgrader fails a test cell that writes to stderr, even for a correct answer)."""
    outcomes = []
    for call in calls:
        stderr = io.StringIO()
        with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stderr(stderr):
            warnings.simplefilter("always")
            try:
                outcomes.append(Outcome(True, run_call(answer, call)))
            except Exception as exc:  # the student's bug, reported per call
                outcomes.append(Outcome(False, error_type=type(exc).__name__, error_message=str(exc)[:500],
                                        trace=student_trace(exc)))
        printed = stderr.getvalue().strip()
        found = [f"{w.category.__name__}: {w.message}" for w in caught]
        found += [f"printed to stderr: {printed.splitlines()[-1][:200]}"] if printed else []
        notes.extend(note for note in dict.fromkeys(found) if note not in notes)
    return outcomes


def student_trace(exc: BaseException) -> str:
    """The traceback lines that point into the student's code (not the grader's)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "/grader/" not in f.filename.replace("\\", "/")]
    return "".join(traceback.format_list(frames[-3:]))


def _expected(answer: Any, calls: list[Call]) -> list[Any] | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return [run_call(answer, call) for call in calls]
    except Exception:
        return None


def _matches(outcomes: list[Outcome], other: list[Any] | None) -> bool:
    return other is not None and all(o.ok for o in outcomes) and compare([o.value for o in outcomes], other).ok


def judge(exercise: Exercise, check: Check, calls: list[Call], outcomes: list[Outcome]) -> CheckResult:
    """Verdict for one check: errors, comparison or property, then diagnosis from the bug zoo."""
    result = CheckResult(exercise.name, check.name, check.description, check.points, 0.0, check.hidden, "failed")
    failed = next((o for o in outcomes if not o.ok), None)
    if failed is not None:
        if failed.error_type == "NotImplementedError":
            result.status, result.message = "not_attempted", "not attempted yet (the stub raises NotImplementedError)"
        else:
            result.status = "error"
            result.message = f"your code raised {failed.error_type}: {failed.error_message}"
            if failed.trace:
                result.metrics["trace"] = failed.trace
        return result

    values = [o.value for o in outcomes]
    if check.judge is not None:
        verdict = check.judge(values, calls)
    else:
        truth = check.oracle if check.oracle is not None else hidden.reference(exercise.name)
        if truth is None:
            result.status, result.message = "skipped", "the hidden reference is not available here"
            return result
        expected = _expected(truth, calls)
        if expected is None:
            result.status, result.message = "skipped", "the reference failed on these inputs (a grader bug: please report it)"
            return result
        verdict = compare(values, expected)
        if check.hidden:
            verdict = _student_safe(verdict)
    result.metrics.update(verdict.metrics)
    if verdict.ok:
        result.status, result.earned = "passed", check.points
        return result
    result.message = verdict.message
    known = diagnose(exercise, calls, outcomes)
    if known is not None:
        result.diagnosis = f"This looks like a known mistake: {known.title}. {known.hint}"
    elif check.hint:
        result.diagnosis = check.hint
    return result


def diagnose(exercise: Exercise, calls: list[Call], outcomes: list[Outcome]):
    """The first bug-zoo entry whose output equals the student's on these inputs."""
    for bug in hidden.bugs(exercise.name):
        if _matches(outcomes, _expected(bug.impl, calls)):
            return bug
    return None


def _student_safe(verdict: Comparison) -> Comparison:
    """Hidden checks report where and by how much, never the expected values."""
    if verdict.ok or "expected" not in verdict.message or "shape" in verdict.message:
        return verdict
    path = verdict.message.split(":", 1)[0]
    error = verdict.metrics.get("max_abs_error")
    detail = f" (max abs error {error:.3g})" if isinstance(error, float) else ""
    return Comparison(False, f"{path}: your values differ from the expected ones{detail}", verdict.metrics)


def grade_answer(
    exercise: Exercise,
    answer: Any,
    include_hidden: bool = False,
    secret: str | None = None,
) -> ExerciseResult:
    """Grade an answer object in this process (the notebook path, and the tests' fast path)."""
    result = ExerciseResult(exercise.name, exercise.notebook, "graded")
    checks = exercise.checks if include_hidden else exercise.public_checks
    for check in checks:
        calls = build_calls(check, exercise.name, secret)
        outcomes = run_in_process(answer, calls, result.notes)
        result.checks.append(judge(exercise, check, calls, outcomes))
    if result.checks and all(c.status == "not_attempted" for c in result.checks):
        result.status = "not_attempted"
    return result
