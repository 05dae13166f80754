"""``check(answer)``: the student's immediate feedback, right after an exercise.

Runs the exercise's public checks in the student's own kernel (fast; cheating here
only fools oneself: grading reruns everything, hidden checks included, in a sandbox),
shows a short table, and raises :class:`CheckFailed` when something fails so that an
nbgrader test cell scores 0 for it.
"""
from __future__ import annotations

import inspect
import os
import sys

from . import config as grader_config
from . import exercises
from .clock import AnswerClock, OutOfTime
from .core import CheckResult, ExerciseResult
from .judge import grade_answer
from .report import html_report, summary_line, text_report
from .isolation import twins
from .isolation.sandbox import wall_limit
from .isolation.static import refused_before_running, signature_problem

if "torch" in sys.modules:  # the imports cell imported torch first: pick_device's probes, before any answer
    from .core import install_simulation

    install_simulation()  # passes through to the real probes whenever nothing is simulated


class CheckFailed(AssertionError):
    """A check did not pass. Rendered in Jupyter as one short line, not a traceback."""

    def _render_traceback_(self):  # IPython's hook for custom exception display
        return [f"\x1b[31mCheckFailed\x1b[0m: {self}"]


class Report:
    def __init__(self, result: ExerciseResult, hidden_total: int):
        self.result, self.hidden_total = result, hidden_total

    def _repr_html_(self) -> str:
        return html_report(self.result, self.hidden_total)

    def __repr__(self) -> str:
        return text_report(self.result, self.hidden_total)


def _display(report: Report) -> None:
    try:
        from IPython import get_ipython
        from IPython.display import display

        if get_ipython() is not None:
            display(report)
            return
    except ImportError:
        pass
    print(repr(report))


def check(answer, name: str | None = None, hidden: bool = False) -> float | None:
    """Check ``answer`` (your function or class) against the exercise of the same name.

    ``hidden=True`` also runs the hidden checks; that needs the instructor's reference
    and secret (``GRADER_SECRET``), so it is for nbgrader's autograding, not for students.
    Whatever goes wrong, the cell ends with one ``CheckFailed`` line, never a traceback (in
    nbgrader's feedback a traceback would print the locked cell's hidden part).

    The scoring policy (``GRADER_SCORING`` or grader.toml's ``scoring``; nbgrader_config.py exports
    it to the autograde kernels) decides what a test cell scores, as it does for ``grade``: all or
    nothing (the default) raises when any check fails, so the cell scores 0; per check, the checks
    never raise for a failed check, and ``hidden=True`` returns the points earned, the number
    nbgrader reads as the cell's partial credit.
    """
    name = name or _exercise_name(answer, inspect.currentframe().f_back)
    try:
        exercise = exercises.get(name)
    except KeyError as exc:
        raise CheckFailed(str(exc).strip("'\"")) from None
    try:
        return _check(answer, exercise, hidden)
    except CheckFailed:
        raise
    except KeyboardInterrupt:  # the student stopped the kernel: one line, not a trace through the grader
        raise CheckFailed(f"{name}: interrupted before the checks finished; run the check cell again "
                          "(if your code never finishes, the check stops it on its own, as grading does)") from None
    except Exception as exc:  # the grader's own failure: say so in one line
        raise CheckFailed(f"{name}: the check itself failed ({type(exc).__name__}: {exc}); "
                          "please tell your instructor") from None


def _require_reference_or_stop() -> None:
    """The hidden checks run at autograding (nbgrader's test cells). Without the reference they cannot:
    that must stop the autograding, not become a 0 with "Successfully autograded". A raised error
    would be one failed test cell, so the kernel ends itself, with the reason on stderr (nbgrader then
    reports the notebook as failed)."""
    from . import reference

    try:
        reference.require()
    except reference.ReferenceUnavailable as exc:
        print(f"grader: {exc}", file=sys.stderr, flush=True)
        os._exit(70)


def _exercise_name(answer, caller) -> str:
    """The exercise ``answer`` is: its own name, or the exercise name the calling cell gave it
    (``MultiHeadAttention = MyAttention``)."""
    own = getattr(answer, "__name__", None)
    if own in exercises.EXERCISES:
        return own
    for key, value in (caller.f_globals if caller is not None else {}).items():
        if value is answer and key in exercises.EXERCISES:
            return key
    if own is None:
        raise CheckFailed("check() needs your function or class itself, e.g. check(softmax)")
    raise CheckFailed(f"{own} is not the name of an exercise: keep the name of the stub "
                      f"(or call check({own}, \"<exercise name>\"))")


def _config() -> grader_config.Config:
    """The instructor's settings where there are any (grader.toml, GRADER_* variables: at
    autograding), else the defaults (a student's kernel)."""
    try:
        return grader_config.load()
    except grader_config.ConfigError as exc:
        raise CheckFailed(f"the grader's settings are wrong: {exc}") from None


def _time_limit(exercise, config: grader_config.Config) -> float:
    """What ``grade`` gives this exercise: the config's ``time_limit``, lowered where the exercise says so."""
    from .grade import time_limit

    return time_limit(exercise, config)


def _timed_out(exercise, hidden: bool, clock: AnswerClock, kind: str) -> ExerciseResult:
    """The same verdict and words as ``grade`` for an answer stopped by its time limit."""
    if kind == "cpu":
        message = (f"your code used more than {clock.time_limit:g} s of CPU time and was stopped "
                   "(an endless loop? a very slow loop?)")
    else:
        message = (f"your code ran longer than {wall_limit(clock.time_limit):g} s "
                   "without finishing and was stopped (does it sleep, or wait for something?)")
    result = ExerciseResult(exercise.name, exercise.notebook, "timeout", message=message)
    checks = exercise.checks if hidden else exercise.public_checks
    result.checks = [CheckResult(exercise.name, c.name, c.description, c.points, 0.0, c.hidden, "timeout", message)
                     for c in checks]
    return result


def _check(answer, exercise, hidden: bool) -> float | None:
    name = exercise.name
    config = _config()
    if hidden and any(c.uses_reference for c in exercise.hidden_checks):
        _require_reference_or_stop()
    try:
        source = inspect.getsource(answer)
    except (OSError, TypeError):
        source = ""
    refused = refused_before_running(exercise, source)
    if refused is not None:
        status, message = refused
        result = ExerciseResult(exercise.name, exercise.notebook, status, message=message)
    else:
        clock = AnswerClock(_time_limit(exercise, config))
        try:
            with twins.withheld_in_process(exercise.name):  # the course's own working version of it: not here
                result = grade_answer(exercise, answer, include_hidden=hidden,
                                      secret=os.environ.get("GRADER_SECRET"), clock=clock)
        except OutOfTime as out:
            result = _timed_out(exercise, hidden, clock, out.kind)
        reached = twins.reached([c.message for c in result.checks], exercise.name)
        if reached:
            result = ExerciseResult(exercise.name, exercise.notebook, "forbidden",
                                    message=twins.withheld(exercise.name)[reached[0]].message(exercise.name))
        mismatch = signature_problem(source, exercise.name, exercise.signature)
        for failed in [c for c in result.checks if not c.passed and c.status != "not_attempted"] if mismatch else []:
            failed.message = f"{mismatch}. {failed.message}"
    result.scoring = config.scoring
    hidden_total = 0 if hidden else len(exercise.hidden_checks)
    _display(Report(result, hidden_total))
    if result.status in ("forbidden", "flagged"):
        raise CheckFailed(result.message)
    if result.status == "timeout":
        raise CheckFailed(f"{name}: TIMEOUT: {result.message}")
    if result.status == "not_attempted":
        raise CheckFailed(f"{name}: not attempted yet (replace the `raise NotImplementedError` with your code)")
    if config.scoring == "per-check":  # the table says what failed; the points are the cell's partial credit
        return result.earned if hidden else None
    failed = [c for c in result.checks if not c.passed]
    if failed:
        raise CheckFailed(f"{name}: {summary_line(result, hidden_total)}; see the table above")
    return None
