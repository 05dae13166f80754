"""Trusted side: turn the outputs of the student's calls into check results.

The outputs may come from the sandboxed worker (instructor grading) or from the
student's own kernel (``check(...)`` in a notebook); either way they are plain data,
and the expected values are computed here, never where student code ran.
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
from collections import OrderedDict
import io
import re
import traceback
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import reference as hidden
from .core import Build, Call, Check, CheckResult, Comparison, Exercise, ExerciseResult, build_calls, compare, run_call


@dataclass
class Outcome:
    """What one call into student code gave: plain output, or the error it raised."""

    ok: bool
    value: Any = None
    error_type: str = ""
    error_message: str = ""
    trace: str = ""


def run_in_process(answer: Any, calls: list[Call], notes: list[str], clock=None) -> list[Outcome]:
    """Student side, in this process (a notebook's ``check``): warnings and stderr become notes
    (nbgrader fails a test cell that writes to stderr, even for a correct answer). ``clock``
    (:class:`grader.clock.AnswerClock`) times each call; its ``OutOfTime`` ends the run."""
    outcomes = []
    for call in calls:
        stderr = io.StringIO()
        with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stderr(stderr):
            warnings.simplefilter("always")
            try:
                with clock.running() if clock is not None else contextlib.nullcontext():
                    value = run_call(answer, call)
                outcomes.append(Outcome(True, value))
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
    """What a trusted implementation (the reference, an oracle, a bug-zoo entry) returns on these
    calls; None when it raises. Memoised: a whole class is checked against the same outputs, which
    are deterministic (every call seeds what it uses), and a student's answer never comes here."""
    key = (id(answer), _calls_key(calls))
    if key in _EXPECTED:
        _EXPECTED.move_to_end(key)
        return _EXPECTED[key][1]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = [run_call(answer, call) for call in calls]
    except Exception:
        value = None
    _EXPECTED[key] = (answer, value)  # holding the answer keeps its id from being reused
    if len(_EXPECTED) > _EXPECTED_SIZE:
        _EXPECTED.popitem(last=False)
    return value


_EXPECTED: "OrderedDict[tuple, tuple[Any, list[Any] | None]]" = OrderedDict()
_EXPECTED_SIZE = 4096


def _calls_key(calls: list[Call]) -> str:
    """A digest of everything a call carries (arrays by dtype, shape and bytes)."""
    digest = hashlib.sha1()

    def feed(value: Any) -> None:
        if isinstance(value, np.ndarray):
            digest.update(f"nd{value.dtype.str}{value.shape}".encode())
            digest.update(np.ascontiguousarray(value).tobytes())
        elif isinstance(value, dict):
            digest.update(b"{")
            for k in value:
                feed(k)
                feed(value[k])
            digest.update(b"}")
        elif isinstance(value, (list, tuple)):
            digest.update(b"[" if isinstance(value, list) else b"(")
            for item in value:
                feed(item)
            digest.update(b"]")
        elif isinstance(value, (Call, Build)):
            digest.update(type(value).__name__.encode())
            feed({f.name: getattr(value, f.name) for f in dataclasses.fields(value)})
        else:
            digest.update(f"{type(value).__name__}:{value!r};".encode())

    feed(list(calls))
    return digest.hexdigest()


def _matches(outcomes: list[Outcome], other: list[Any] | None, tolerance=None) -> bool:
    """The student's outputs are a bug's: equal values of the same kinds (a tensor where the bug
    returns a float is another mistake, even when the numbers agree)."""
    values = [o.value for o in outcomes]
    return (other is not None and all(o.ok for o in outcomes) and _same_kinds(values, other)
            and compare(values, other, tolerance=tolerance).ok)


def _same_values(a: Any, b: Any, tolerance=None) -> bool:
    """The same outputs, down to their types (an int where a float is expected is another output)."""
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        return a.dtype.kind == b.dtype.kind and compare(a, b, tolerance=tolerance).ok
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same_values(x, y, tolerance) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_values(a[k], b[k], tolerance) for k in a)
    return type(a) is type(b) and compare(a, b, tolerance=tolerance).ok


def _same_kinds(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same_kinds(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_kinds(a[k], b[k]) for k in a)
    return type(a) is type(b) or {type(a), type(b)} <= {int, float}


def judge(exercise: Exercise, check: Check, calls: list[Call], outcomes: list[Outcome]) -> CheckResult:
    """Verdict for one check: errors, comparison or property, then diagnosis from the bug zoo."""
    result = CheckResult(exercise.name, check.name, check.description, check.points, 0.0, check.hidden, "failed")
    if check.raises is not None:
        return _judge_raises(exercise, check, calls, outcomes, result)
    failed = next((o for o in outcomes if not o.ok), None)
    if failed is not None:
        if is_stub(failed):
            result.status, result.message = "not_attempted", "not attempted yet (the stub raises NotImplementedError)"
        else:
            result.status = "error"
            result.message = f"your code raised {failed.error_type}: {failed.error_message}"
            if failed.trace:
                result.metrics["trace"] = failed.trace
            known = diagnose(exercise, calls, outcomes, check.tolerance, check)
            if known is not None:
                result.diagnosis = f"{mistake_words(known)} {raised_where(exercise, check, calls, outcomes)}"
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
        verdict = compare(values, expected, tolerance=check.tolerance)
        if check.hidden:
            verdict = _student_safe(verdict)
    result.metrics.update(verdict.metrics)
    if verdict.ok:
        result.status, result.earned = "passed", check.points
        return result
    result.message = readable_where(verdict.message, len(calls))
    return _diagnosed(result, exercise, check, calls, outcomes)


_WHERE = re.compile(r"^output((?:\[[^\]]+\])*)(?=:| )")
_STEP = re.compile(r"\[([^\]]+)\]")


def readable_where(message: str, calls: int) -> str:
    """``output[0]['params']['layers.0.weight']: ...`` (where a comparison found the difference) as a
    student reads it: ``call 1 of 2, params, layers.0.weight: ...`` (with one call, no call number)."""
    found = _WHERE.match(message)
    if found is None:
        return message
    steps = _STEP.findall(found.group(1))
    words = []
    if steps and steps[0].isdigit():
        call = int(steps.pop(0))
        if calls > 1:
            words.append(f"call {call + 1} of {calls}")
    words += [step.strip("'\"") if step[:1] in "'\"" else f"item {step}" for step in steps]
    return (", ".join(words) or "the output") + message[found.end():]


def _diagnosed(result: CheckResult, exercise: Exercise, check: Check, calls: list[Call],
               outcomes: list[Outcome]) -> CheckResult:
    """A failed check's diagnosis: the known mistake the answer matches, else the check's hint."""
    known = diagnose(exercise, calls, outcomes, check.tolerance, check)
    if known is not None:
        result.diagnosis = mistake_words(known)
    elif check.hint:
        result.diagnosis = check.hint
    return result


def is_stub(outcome: Outcome) -> bool:
    """The untouched stub: a bare ``raise NotImplementedError()``. PyTorch's own NotImplementedError
    ("... not implemented for 'Long'", arguments in the wrong order) is a real error with a message."""
    return not outcome.ok and outcome.error_type == "NotImplementedError" and not outcome.error_message.strip()


def _judge_raises(exercise: Exercise, check: Check, calls: list[Call], outcomes: list[Outcome],
                  result: CheckResult) -> CheckResult:
    """A check that wants an error: every call must raise ``check.raises`` (a contract's ValueError), or
    one of several ("ValueError", "RuntimeError": the answer's own message, or PyTorch's)."""
    if any(is_stub(o) for o in outcomes):
        result.status, result.message = "not_attempted", "not attempted yet (the stub raises NotImplementedError)"
        return result
    accepted = check.accepted_errors
    wrong = next((o for o in outcomes if o.ok or o.error_type not in accepted), None)
    if wrong is None:
        result.status, result.earned = "passed", check.points
        return result
    got = (f"it returned {str(wrong.value)[:80]}" if wrong.ok
           else f"it raised {wrong.error_type}: {wrong.error_message[:200]}")
    result.message = f"expected {' or '.join(accepted)}, but {got}"
    return _diagnosed(result, exercise, check, calls, outcomes)


def diagnose(exercise: Exercise, calls: list[Call], outcomes: list[Outcome], tolerance=None, check: Check | None = None):
    """The first bug-zoo entry that did what the student's code did on these inputs: the same
    outputs (within the check's tolerance: a float32 student making a known mistake is still
    named) or, when the student's code raised, the same error at the same calls (a bug with the
    very same error message first, then one with the same kind of error about the same sizes).
    Where solutions/ is not (the students' bundle), a public check's known mistakes come from
    their fingerprints (:mod:`grader.mistakes`), by the same rules."""
    if hidden.solutions_module() is None:
        if check is None or check.hidden:
            return None
        from . import mistakes

        return mistakes.diagnose(exercise.name, check.name, outcomes, tolerance)
    from .mutations import mutants

    for known in (hidden.bugs(exercise.name), mutants(exercise.name)):  # the zoo first, then the error model
        found = _first_alike(exercise, calls, outcomes, tolerance, known)
        if found is not None:
            return found
    return None


def _first_alike(exercise: Exercise, calls: list[Call], outcomes: list[Outcome], tolerance, known):
    """:func:`diagnose`'s rules over one list of known mistakes (bug-zoo entries or mutants)."""
    if all(o.ok for o in outcomes):
        truth = hidden.reference(exercise.name)
        expected = _expected(truth, calls) if truth is not None else None
        for bug in known:
            theirs = _expected(bug.impl, calls)
            if expected is not None and theirs is not None and _same_values(theirs, expected, tolerance):
                continue  # on these inputs this mistake does what a right answer does: it explains nothing
            if _matches(outcomes, theirs, tolerance):
                return bug
        return None
    tried = []
    for bug in known:
        theirs = _bug_outcomes(bug.impl, calls)
        if _raises_alike(outcomes, theirs, tolerance, exact=True):
            return bug
        tried.append((bug, theirs))
    return next((bug for bug, theirs in tried if _raises_alike(outcomes, theirs, tolerance, exact=False)), None)


def mistake_words(known) -> str:
    """How a diagnosis names what it found: a written-down mistake, or one of the error model's."""
    if getattr(known, "generated", False) or type(known).__name__ == "Mutant":
        return f"This looks like a mistake the grader's error model knows: {known.title}. {known.hint}"
    return f"This looks like a known mistake: {known.title}. {known.hint}"


def _bug_outcomes(impl: Any, calls: list[Call]) -> list[Outcome]:
    """What a bug-zoo entry gives on each call: its output, or the error it raised."""
    outcomes = []
    for call in calls:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                outcomes.append(Outcome(True, run_call(impl, call)))
        except Exception as exc:  # the bug's own error, compared with the student's
            outcomes.append(Outcome(False, error_type=type(exc).__name__, error_message=str(exc)[:500]))
    return outcomes


def _raises_alike(student: list[Outcome], bug: list[Outcome], tolerance=None, exact: bool = True) -> bool:
    """Call by call: both raised the same type of error with the same message (``exact``) or a
    similar one, or both returned the same output."""
    if len(student) != len(bug):
        return False
    for mine, theirs in zip(student, bug):
        if mine.ok != theirs.ok:
            return False
        if mine.ok and not _matches([mine], [theirs.value], tolerance):
            return False
        if not mine.ok and not _similar_errors(mine, theirs, exact):
            return False
    return True


_NUMBER = re.compile(r"\d+")
# Kinds of error that numpy and torch word in several ways (`X @ W` and `np.dot(X, W)` differ).
_ERROR_KINDS = (
    ("matrix product", re.compile(r"matmul|not aligned|cannot be multiplied|mat1 and mat2", re.IGNORECASE)),
    ("broadcast", re.compile(r"broadcast|must match the size", re.IGNORECASE)),
    ("index", re.compile(r"out of bounds|out of range", re.IGNORECASE)),
)


def _similar_errors(mine: Outcome, theirs: Outcome, exact: bool = True) -> bool:
    """The same exception type and the same message or, when not ``exact``, the same kind of
    error about the same sizes: `X @ W.T` and `np.dot(X, W.T)` word one shape mismatch in two
    ways. Numbers below 2 (axis 0, operand 1) say nothing about the mistake and are left out."""
    if mine.error_type != theirs.error_type:
        return False
    if mine.error_message == theirs.error_message:
        return True
    if exact or _error_kind(mine.error_message) != _error_kind(theirs.error_message):
        return False
    sizes = [{int(n) for n in _NUMBER.findall(o.error_message) if int(n) >= 2} for o in (mine, theirs)]
    return bool(sizes[0] and sizes[1]) and (sizes[0] <= sizes[1] or sizes[1] <= sizes[0])


def _error_kind(message: str) -> str:
    """"matrix product", "broadcast", "index", or the message with its numbers masked."""
    return next((kind for kind, pattern in _ERROR_KINDS if pattern.search(message)), _NUMBER.sub("#", message))


_FRAME = re.compile(r'File "(?P<file>[^"]*)", line (?P<line>\d+), in (?P<name>[^\n]+)\n(?: +(?P<code>[^\n]+)\n)?')


def raised_where(exercise: Exercise, check: Check, calls: list[Call], outcomes: list[Outcome]) -> str:
    """Where the student's error happened: which call of the check, on which inputs, and the
    line of their code that raised (when the trace reaches their code)."""
    index = next(i for i, o in enumerate(outcomes) if not o.ok)
    where = f"It happened on call {index + 1} of {len(calls)}, {describe_call(exercise, calls[index], check.hidden)}"
    frames = [m for m in _FRAME.finditer(outcomes[index].trace)
              if "site-packages" not in m["file"] and "/lib/python" not in m["file"]]
    if not frames:
        return where + "."
    last = frames[-1]
    code = f": {last['code'].strip()}" if last["code"] else ""
    return f"{where}, at line {last['line']} of your cell (in {last['name'].strip()}){code}"


def describe_call(exercise: Exercise, call: Call, hidden: bool = False) -> str:
    """``self_attention(X (3, 4), W_q (4, 2), ..., mask (3, 3) bool)``: the inputs by name, arrays
    by shape (a hidden check's strings by length only, so that its inputs stay hidden)."""
    if call.kind == "module":
        init = ", ".join(_describe_input(k, v, hidden) for k, v in call.init.items())
        inputs = ", ".join(_describe_input("", a, hidden) for a in call.args)
        return f"{exercise.name}({init}).{call.method}({inputs})"
    named = list(zip(exercise.signature, call.args)) + list(call.kwargs.items())
    return f"{exercise.name}({', '.join(_describe_input(name, value, hidden) for name, value in named)})"


def _describe_input(name: str, value: Any, hidden: bool) -> str:
    if isinstance(value, np.ndarray):
        kind = "" if np.issubdtype(value.dtype, np.floating) else f" {value.dtype}"
        return f"{name} {tuple(value.shape)}{kind}".strip()
    if isinstance(value, str) and hidden:
        text = f"<a string of {len(value)} characters>"
    elif isinstance(value, dict):
        text = f"<a dict of {len(value)} entries>"
    elif isinstance(value, (list, tuple)):
        items = ", ".join(_describe_input("", v, hidden) for v in value[:3])
        text = f"[{items}{', ...' if len(value) > 3 else ''}]"
    elif isinstance(value, (bool, int, float, str)) or value is None:
        text = repr(value[:60] if isinstance(value, str) else value)
    else:  # a Build marker (a model or optimizer the grader makes) is named by its factory
        text = f"<{getattr(value, 'factory', type(value).__name__)}>"
    return f"{name}={text}" if name else text


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
    clock=None,
) -> ExerciseResult:
    """Grade an answer object in this process (the notebook path, and the tests' fast path).
    ``clock``: the answer's time budget (see :func:`run_in_process`)."""
    result = ExerciseResult(exercise.name, exercise.notebook, "graded")
    checks = exercise.checks if include_hidden else exercise.public_checks
    plans = [(check, build_calls(check, exercise.name, secret)) for check in checks]
    for check, calls in plans:
        outcomes = run_in_process(answer, calls, result.notes, clock)
        result.checks.append(judge(exercise, check, calls, outcomes))
    mark_not_attempted(result, plans)
    return result


def mark_not_attempted(result: ExerciseResult, plans: list[tuple[Check, list[Call]]]) -> None:
    """An exercise is not attempted when every check that runs the student's code found the stub
    (NotImplementedError). Checks that only look at a given skeleton (a module's parameters, made
    by the ``__init__`` the notebook provides) then count as not attempted too: an untouched stub
    earns nothing."""
    runs_code = [verdict for verdict, (_, calls) in zip(result.checks, plans)
                 if any(call.post != "introspect" for call in calls)]
    if not runs_code or not all(v.status == "not_attempted" for v in runs_code):
        return
    result.status = "not_attempted"
    for verdict in result.checks:
        if verdict.status != "not_attempted":
            verdict.status, verdict.earned = "not_attempted", 0.0
            verdict.message = "not attempted yet (the stub raises NotImplementedError)"
