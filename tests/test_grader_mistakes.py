"""The bug zoo covers GRADING.md's list of known mistakes wherever each can happen.

``solutions.zoo.LISTED_MISTAKES`` maps each listed mistake to the exercises where a student can
make it; every such pair needs a bug-zoo entry tagged with that mistake (``@bug(..., mistake=...)``).
Each entry is then graded by tests/test_grader_zoo.py: rejected, and named by a failing check.
"""
import pytest

from grader import reference as hidden
from grader.exercises import EXERCISES

zoo = pytest.importorskip("solutions.zoo")
PAIRS = [(key, name) for key, (_, names) in zoo.LISTED_MISTAKES.items() for name in names]


def test_the_table_names_real_exercises():
    unknown = {name for _, name in PAIRS} - set(EXERCISES)
    assert not unknown, f"LISTED_MISTAKES names exercises that do not exist: {sorted(unknown)}"


@pytest.mark.parametrize("mistake,exercise", PAIRS)
def test_listed_mistake_is_in_the_zoo(mistake, exercise):
    tagged = [b.id for b in hidden.bugs(exercise) if b.mistake == mistake]
    assert tagged, (f"{exercise}: no bug-zoo entry is tagged mistake={mistake!r} "
                    f"({zoo.LISTED_MISTAKES[mistake][0]}); add one to solutions/zoo/")


def test_tags_only_where_the_table_says():
    """A tag outside the table means the table forgot an exercise where the mistake happens."""
    for name in EXERCISES:
        for bug in hidden.bugs(name):
            if bug.mistake:
                assert name in zoo.LISTED_MISTAKES[bug.mistake][1], (
                    f"{name}/{bug.id} is tagged {bug.mistake!r}, which the table does not list for {name}")
