#!/usr/bin/env python
"""How far correct answers and known mistakes sit from the grader's tolerance, per exercise.

    .venv/bin/python tools/tolerance_margins.py                    # every exercise
    .venv/bin/python tools/tolerance_margins.py layer_norm softmax # some of them
    .venv/bin/python tools/tolerance_margins.py --secret other     # other hidden inputs

A float comparison reports ``tolerance_used = max |actual - expected| / (atol + rtol * |expected|)``
(:func:`grader.core.compare`): below 1 passes. For each exercise, every check (public and hidden,
hidden inputs from a fixed secret) is run on

- every correct answer (the reference and ``solutions/variants``): its score is the largest
  tolerance_used over all checks; it must stay below 1;
- every bug-zoo entry (``solutions/zoo``): its score is the largest over all checks, i.e. how
  far its most visible mistake is from the line; it must be above 1. A check it fails without a
  value comparison (it raised, wrong shape or dtype, NaN, a property judge) counts as infinite.

and the margin is closest bug / worst correct answer: the factor by which the tolerance could
move before either a correct answer fails or a bug passes. "exact": every correct answer matched
exactly (integer, boolean and device outputs). The verdicts are the ones :func:`grader.judge.judge`
gives (same comparison, same check tolerance), without the bug-zoo diagnosis, which is what
makes grading every answer slow.
"""
from __future__ import annotations

import argparse
import math
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from grader import reference as hidden  # noqa: E402
from grader.core import FLOAT_TOLERANCE, Check, build_calls, compare  # noqa: E402
from grader.exercises import EXERCISES  # noqa: E402
from grader.judge import Outcome, _expected, run_in_process  # noqa: E402

SECRET = "test-secret"  # the secret tests/test_grader_zoo.py grades with


@dataclass
class Score:
    """One answer's worst check: its tolerance_used (inf when rejected without a value comparison)."""

    answer: str  # "reference", a variant id or a bug id
    used: float
    check: str  # the check where ``used`` was reached


@dataclass
class Margin:
    exercise: str
    correct: list[Score]  # the reference and every variant
    bugs: list[Score]  # every bug-zoo entry

    @property
    def worst_correct(self) -> Score:
        return max(self.correct, key=lambda s: s.used)

    @property
    def closest_bug(self) -> Score | None:
        return min(self.bugs, key=lambda s: s.used) if self.bugs else None

    @property
    def margin(self) -> float:
        bug = self.closest_bug
        if bug is None:
            return math.nan
        return bug.used / self.worst_correct.used if self.worst_correct.used > 0 else math.inf


def _check_used(check: Check, calls, outcomes: list[Outcome], expected: Any) -> float:
    """tolerance_used of one check: 0 when it passed without comparing floats, inf when it
    failed without a value comparison (raised, wrong shape or dtype, NaN, a property)."""
    if check.raises is not None:  # no value to compare: the right error, or an infinite miss
        return 0.0 if all(not o.ok and o.error_type in check.accepted_errors for o in outcomes) else math.inf
    if not all(o.ok for o in outcomes):
        return math.inf
    values = [o.value for o in outcomes]
    if check.judge is not None:
        verdict = check.judge(values, calls)
    elif expected is None:
        raise RuntimeError(f"check {check.name}: no reference or oracle to compare with")
    else:
        verdict = compare(values, expected, tolerance=check.tolerance)
    used = verdict.metrics.get("tolerance_used", 0.0)
    if verdict.ok:
        return used
    return used if used > 1 else math.inf


def _score(answer_id: str, answer: Any, plans) -> Score:
    worst = Score(answer_id, 0.0, "")
    for check, calls, expected in plans:
        outcomes = run_in_process(answer, calls, [])
        used = _check_used(check, calls, outcomes, expected)
        if used > worst.used or not worst.check:
            worst = Score(answer_id, used, check.name)
    return worst


def exercise_margin(name: str, secret: str = SECRET) -> Margin:
    """Scores of every correct answer and every bug of one exercise, on all its checks."""
    exercise = EXERCISES[name]
    reference = hidden.reference(name)
    plans = []
    for check in exercise.checks:
        calls = build_calls(check, name, secret)
        truth = check.oracle if check.oracle is not None else reference
        expected = None if check.judge is not None else _expected(truth, calls)
        plans.append((check, calls, expected))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        correct = [_score("reference", reference, plans)]
        correct += [_score(v.id, v.impl, plans) for v in hidden.variants(name)]
        bugs = [_score(b.id, b.impl, plans) for b in hidden.bugs(name)]
    return Margin(name, correct, bugs)


def margins(names: list[str] | None = None, secret: str = SECRET) -> list[Margin]:
    if hidden.solutions_module() is None:
        raise RuntimeError("solutions/ is not here: margins need the reference, the variants and the bug zoo")
    names = names or [n for n in EXERCISES if hidden.reference(n) is not None]
    return [exercise_margin(name, secret) for name in names]


def _number(x: float) -> str:
    if math.isinf(x):
        return "inf"
    if math.isnan(x):
        return "-"
    return f"{x:.3g}" if x < 1e4 else f"{x:.1e}"


def table(results: list[Margin]) -> str:
    """One line per exercise: worst correct answer, closest bug, margin."""
    rows = [("exercise", "worst correct answer (check)", "used", "closest bug (check)", "used", "margin")]
    for m in results:
        good, bug = m.worst_correct, m.closest_bug
        rows.append((
            m.exercise,
            f"{good.answer} ({good.check})" if good.used > 0 else "all exact",
            _number(good.used),
            f"{bug.answer} ({bug.check})" if bug else "-",
            _number(bug.used) if bug else "-",
            "exact" if good.used == 0 and bug else _number(m.margin),
        ))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) if i in (0, 1, 3) else cell.rjust(w) for i, (cell, w) in enumerate(zip(r, widths)))
             for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("exercises", nargs="*", help="exercise names (default: every exercise)")
    parser.add_argument("--secret", default=SECRET, help=f"secret for the hidden inputs (default {SECRET!r})")
    args = parser.parse_args(argv)
    unknown = [n for n in args.exercises if n not in EXERCISES]
    if unknown:
        parser.error(f"unknown exercise(s) {', '.join(unknown)}; known: {', '.join(EXERCISES)}")
    import torch

    torch.set_num_threads(1)  # tiny tensors: one thread is faster and the numbers do not depend on it
    results = margins(args.exercises or None, args.secret)
    rtol, atol = FLOAT_TOLERANCE
    print(f"float tolerance: rtol {rtol:g}, atol {atol:g}; hidden inputs from the secret {args.secret!r}\n")
    print(table(results))
    bad = [(m.exercise, s.answer, s.check) for m in results for s in m.correct if s.used >= 1]
    bad += [(m.exercise, s.answer, s.check) for m in results for s in m.bugs if s.used <= 1]
    for exercise, answer, check in bad:
        print(f"ON THE WRONG SIDE: {exercise} / {answer} (check {check})")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
