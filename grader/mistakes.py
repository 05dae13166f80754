"""Known mistakes without their code: what each bug-zoo entry does on the public checks' inputs.

The bug zoo (``solutions/zoo``) names a student's mistake by running every known mistake on the
check's inputs and comparing what comes back. Its entries are near-answers, so the students'
bundle has no ``solutions/``; without this module a student would get only the check's generic
hint. ``python -m grader bundle`` therefore writes, into the bundle's ``grader/``, the
*fingerprints* of the zoo on the public checks: for each exercise, public check and known mistake,
its title, its hint and what it returned (or raised) on each of the check's calls. Those inputs are
public (a fixed seed), and so is what a right answer returns on them; what a wrong answer returns
gives nothing away. No code travels, and the bundle's audit reads the titles and hints like any
other text.

A mistake that returns what the reference returns on a check's inputs explains nothing there and
is left out, as :func:`grader.judge.diagnose` leaves it out where the zoo is at hand. Hidden checks
have no fingerprints: their inputs come from the instructor's secret.

The file is read with the wire format's rules (JSON and a stored ``.npz``, nothing unpickled,
only plain data).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

STEM = Path(__file__).resolve().parent / "known_mistakes"  # known_mistakes.json + .npz, in the bundle only
VERSION = 1


@dataclass(frozen=True)
class KnownMistake:
    """What a diagnosis needs of a bug-zoo entry or an error-model mutant: its name and its hint (no
    implementation), and which of the two it is."""

    exercise: str
    id: str
    title: str
    hint: str
    generated: bool = False


def build_table() -> dict:
    """The fingerprints of the whole zoo on every public check (the instructor's side: needs solutions/)."""
    from . import exercises, reference
    from .core import build_calls
    from .judge import _bug_outcomes, _expected, _same_values
    from .mutations import mutants

    reference.require()
    table: dict[str, dict[str, list]] = {}
    for exercise in exercises.EXERCISES.values():
        truth = reference.reference(exercise.name)
        for check in exercise.public_checks:
            calls = build_calls(check, exercise.name, None)
            expected = _expected(truth, calls) if truth is not None else None
            entries = []
            for bug in [*reference.bugs(exercise.name), *mutants(exercise.name)]:  # the zoo, then the error model
                outcomes = _bug_outcomes(bug.impl, calls)
                values = [o.value for o in outcomes]
                if all(o.ok for o in outcomes) and expected is not None and _same_values(values, expected, check.tolerance):
                    continue  # does what a right answer does on these inputs
                entries.append({
                    "id": bug.id, "title": bug.title, "hint": bug.hint, "generated": type(bug).__name__ == "Mutant",
                    "outcomes": [{"ok": True, "value": o.value} if o.ok else
                                 {"ok": False, "error_type": o.error_type, "error_message": o.error_message}
                                 for o in outcomes],
                })
            if entries:
                table.setdefault(exercise.name, {})[check.name] = entries
    return {"version": VERSION, "exercises": table}


def write(stem: Path = STEM) -> Path:
    """Write the fingerprints next to ``stem`` (``.json`` and ``.npz``); returns the JSON's path."""
    from .isolation import wire

    wire.save(Path(stem), build_table())
    return Path(stem).with_suffix(".json")


@lru_cache(maxsize=4)
def _load(stem: str) -> dict | None:
    from .isolation import wire

    path = Path(stem)
    if not path.with_suffix(".json").is_file():
        return None
    try:
        data = wire.load(path, trusted=False)
    except (OSError, ValueError, KeyError):
        return None  # damaged: diagnosis falls back to the checks' hints
    if not isinstance(data, dict) or data.get("version") != VERSION:
        return None
    return data


def available(stem: Path = STEM) -> bool:
    return _load(str(stem)) is not None


def diagnose(exercise: str, check: str, outcomes: list, tolerance=None, stem: Path = STEM) -> KnownMistake | None:
    """The first known mistake whose fingerprint on ``check`` is what the student's code did: the same
    outputs within the check's tolerance, or the same errors (the very same message first, then the
    same kind of error about the same sizes): :func:`grader.judge.diagnose`'s rules, on stored outcomes."""
    from .judge import Outcome, _matches, _raises_alike

    data = _load(str(stem))
    if data is None:
        return None
    entries = data["exercises"].get(exercise, {}).get(check, [])
    stored = [(entry, [Outcome(True, o["value"]) if o["ok"] else
                       Outcome(False, error_type=o["error_type"], error_message=o["error_message"])
                       for o in entry["outcomes"]]) for entry in entries]
    found = None
    for generated in (False, True):  # the zoo first, then the error model, as in the repository
        group = [(entry, theirs) for entry, theirs in stored if bool(entry.get("generated")) == generated]
        if all(o.ok for o in outcomes):
            found = next((entry for entry, theirs in group
                          if all(t.ok for t in theirs) and _matches(outcomes, [t.value for t in theirs], tolerance)), None)
        else:
            for exact in (True, False):
                found = next((entry for entry, theirs in group if _raises_alike(outcomes, theirs, tolerance, exact=exact)),
                             None)
                if found is not None:
                    break
        if found is not None:
            break
    return None if found is None else KnownMistake(exercise, found["id"], found["title"], found["hint"],
                                                   bool(found.get("generated")))
