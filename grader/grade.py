"""Grade whole submissions: extract, run each exercise in the sandbox, judge on this side."""
from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import exercises as registry
from . import reference
from .config import Config
from .core import CheckResult, Exercise, ExerciseResult, build_calls
from .extract import dependencies, extract
from .judge import Outcome, judge, mark_not_attempted
from .isolation import twins
from .isolation.sandbox import Sandbox, wall_limit
from .isolation.static import refused_before_running, signature_problem

FATES = {
    "timeout": "your code used more than {limit:g} s of CPU time and was stopped (an endless loop? a very slow loop?)",
    "wall_timeout": "your code ran longer than {wall:g} s without finishing and was stopped, twice, the second "
                    "time with the machine to itself (does it sleep, or wait for something?)",
    "crashed": "your code ended the grading process ({how}) before finishing, e.g. os._exit, a segfault or a kill",
    "worker_lost": "the grading process was lost while running your code; the exercise could not be graded",
}
GRADER_FAILED = "the grader could not run this exercise"


class Turns:
    """How jobs share the machine: each job takes a shared turn; a job that timed out on the wall
    clock is run again alone (the other job slots of the run wait), once, before its timeout counts.
    The default (one process grading) is always alone; :class:`grader.batch.SlotTurns` is the real one."""

    shared = staticmethod(contextlib.nullcontext)
    alone = staticmethod(contextlib.nullcontext)


@dataclass
class SubmissionResult:
    submission: str
    notebooks: list[str]
    exercises: list[ExerciseResult] = field(default_factory=list)
    error: str | None = None
    isolated: bool = True
    seconds: float = 0.0

    @property
    def earned(self) -> float:
        return sum(e.earned for e in self.exercises)

    @property
    def points(self) -> float:
        return sum(e.points for e in self.exercises)

    def to_json(self) -> dict:
        return {
            "submission": self.submission,
            "notebooks": self.notebooks,
            "error": self.error,
            "isolated": self.isolated,
            "earned": self.earned,
            "points": self.points,
            "seconds": round(self.seconds, 3),
            "scoring": self.exercises[0].scoring if self.exercises else None,
            "exercises": [e.to_json() for e in self.exercises],
        }


def time_limit(exercise: Exercise, config: Config) -> float:
    """Seconds of CPU time an exercise's calls get: the config's, or less where the exercise says so."""
    return min(config.time_limit, exercise.time_limit) if exercise.time_limit else config.time_limit


def _zero(exercise: Exercise, checks: list, status: str, message: str) -> ExerciseResult:
    result = ExerciseResult(exercise.name, exercise.notebook, status, message=message)
    result.checks = [CheckResult(exercise.name, c.name, c.description, c.points, 0.0, c.hidden, status, message)
                     for c in checks]
    return result


def grade_exercise(exercise: Exercise, answer: str, setup: str, deps, sandbox: Sandbox, config: Config,
                   include_hidden: bool, turns=Turns) -> ExerciseResult:
    checks = exercise.checks if include_hidden else exercise.public_checks
    refused = refused_before_running(exercise, answer, deps)
    if refused is not None:
        return _zero(exercise, checks, *refused)
    plans = [(check, build_calls(check, exercise.name, config.secret)) for check in checks]
    all_calls = [call for _, calls in plans for call in calls]
    limit = time_limit(exercise, config)

    with turns.shared():
        job = sandbox.run(exercise.name, setup, answer, all_calls, deps, limit, forbidden=exercise.forbidden)
    if job.status == "wall_timeout":  # a busy machine can stretch the wall clock, never the CPU time
        with turns.alone():
            job = sandbox.run(exercise.name, setup, answer, all_calls, deps, limit, forbidden=exercise.forbidden)
    if job.refused:
        return _zero(exercise, checks, "flagged",
                     f"your code was stopped while being checked: it tried {', '.join(job.refused)}, which no "
                     "answer in this course needs (it reaches the grader's own process). It is flagged for "
                     "your instructor to review.")
    if job.withheld:
        return _zero(exercise, checks, "forbidden", twins.withheld(exercise.name)[job.withheld[0]].message(exercise.name))
    if job.forbidden:
        return _zero(exercise, checks, "forbidden",
                     f"this exercise is to write it yourself; while being checked your code called {', '.join(job.forbidden)}")
    result = ExerciseResult(exercise.name, exercise.notebook, "graded")
    result.notes += job.notes
    if job.stderr.strip():
        result.notes.append("printed to stderr: " + job.stderr.strip().splitlines()[-1][:200])
    payload = job.result or {}
    result.notes += [n for n in payload.get("notes", []) if isinstance(n, str)][:20]
    if job.status != "finished" or not payload:
        how = f"exit code {job.code}" if (job.code or 0) >= 0 else f"signal {-job.code}"
        message = FATES.get(job.status, FATES["crashed"]).format(limit=limit, wall=wall_limit(limit), how=how)
        timed_out = job.status in ("timeout", "wall_timeout")
        return _zero(exercise, checks, "timeout" if timed_out else "crashed", message)
    if "fatal" in payload:
        return _zero(exercise, checks, "error", str(payload["fatal"])[:500])
    if "definition_error" in payload:
        err = payload["definition_error"]
        return _zero(exercise, checks, "error", f"the answer cell raised {err.get('type')}: {err.get('message')}")
    raw = payload.get("calls", [])
    if len(raw) != len(all_calls):
        return _zero(exercise, checks, "crashed", "your code stopped part-way through the checks (exit or crash)")
    outcomes = [Outcome(True, r.get("value")) if r.get("ok") is True else
                Outcome(False, error_type=str(r.get("type")), error_message=str(r.get("message")), trace=str(r.get("trace", "")))
                for r in raw]
    for call, outcome in zip(all_calls, outcomes):
        if call.post == "device" and outcome.ok and isinstance(outcome.value, dict):
            # What the hardware is comes from the worker before student code ran (a child could
            # patch torch.cuda.is_available to make "always cuda" look right).
            outcome.value.update(cuda=bool(sandbox.info.get("cuda")), mps=bool(sandbox.info.get("mps")))
    position = 0
    mismatch = signature_problem(answer, exercise.name, exercise.signature)
    for check, calls in plans:
        verdict = judge(exercise, check, calls, outcomes[position:position + len(calls)])
        if mismatch and not verdict.passed:
            verdict.message = f"{mismatch}. {verdict.message}"
        result.checks.append(verdict)
        position += len(calls)
    mark_not_attempted(result, plans)
    return result


def grade_submission(path: Path, config: Config, sandbox: Sandbox, include_hidden: bool = True,
                     only: set[str] | None = None, cache=None, turns=Turns) -> SubmissionResult:
    """Grade every exercise of the notebook(s) ``path`` answers (``only``: just these exercises).

    ``cache`` (a :class:`grader.cache.VerdictCache`): verdicts already computed for the same
    answer, setup, checks and secret are taken from it, and new ones stored in it; the sandbox
    is used only for the others (an unstarted Sandbox starts at its first job)."""
    started = time.monotonic()
    extracted = extract(path)
    result = SubmissionResult(str(path), extracted.notebooks, isolated=sandbox.isolate)
    wanted = [ex for notebook in extracted.notebooks for ex in registry.for_notebook(notebook)
              if only is None or ex.name in only]
    if include_hidden and any(c.uses_reference for ex in wanted for c in ex.hidden_checks):
        reference.require()  # raises: a hidden check that cannot run is never a silent 0
    if extracted.error:
        result.error = extracted.error
        result.exercises = [_zero(ex, ex.checks, "missing", extracted.error) for ex in wanted]
        for graded in result.exercises:
            graded.scoring = config.scoring
        return result
    for exercise in wanted:
        checks = exercise.checks if include_hidden else exercise.public_checks
        if exercise.name in extracted.problems:
            result.exercises.append(_zero(exercise, checks, "missing", extracted.problems[exercise.name]))
            result.exercises[-1].scoring = config.scoring
            continue
        answer = extracted.answers[exercise.name]
        deps = dependencies(exercise.name, extracted.answers)
        setup = extracted.setups.get(exercise.notebook, "")
        graded = cache.lookup(exercise, answer, deps, setup) if cache is not None else None
        if graded is None:
            try:
                graded = grade_exercise(exercise, answer, setup, deps, sandbox, config, include_hidden, turns)
            except Exception as exc:  # the grader never crashes on a submission: this exercise only
                graded = _zero(exercise, checks, "error", f"{GRADER_FAILED} ({type(exc).__name__}: {exc})")
            else:
                # a timeout is never cached: a busier or quieter machine may decide otherwise next time
                if cache is not None and not is_transient(graded.message) and graded.status != "timeout":
                    cache.store(exercise, answer, deps, setup, graded)  # a full disk stops the batch, not the verdict
        graded.notes[:0] = [n for n in extracted.notes if n.startswith(exercise.name)]
        graded.scoring = config.scoring  # verdicts are cached as they are; the policy is applied here
        result.exercises.append(graded)
    result.seconds = time.monotonic() - started
    return result


def is_transient(message: str) -> bool:
    """An exercise's message that tells a fate of the grading machinery, not a verdict on the answer
    (the worker was lost, the grader failed): never cached, so that the next run grades it again."""
    return message == FATES["worker_lost"] or message.startswith(GRADER_FAILED)


def result_name(submission: Path) -> str:
    """``<stem>``, prefixed by the folder when it is not the current one (one folder per student)."""
    folder = submission.resolve().parent
    return submission.stem if folder == Path.cwd().resolve() else f"{folder.name}__{submission.stem}"


def write_json(result: SubmissionResult, out_dir: Path) -> Path:
    """Atomically write ``out_dir/<submission stem>.json``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{result_name(Path(result.submission))}.json"
    tmp = target.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result.to_json(), indent=1))
    os.replace(tmp, target)
    return target
