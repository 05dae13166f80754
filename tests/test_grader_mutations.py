"""The error model (grader/mutations.py): mistakes nobody wrote down, named by mutating the reference.

Written answers with mistakes that are not in the bug zoo must be named by a mutant (and say that the
name comes from the error model); the leave-one-out over the zoo (tools/error_model_report.py) must
keep naming a fair share of the zoo's mistakes as if they had never been written down; and no correct
variant may ever fail a check, the only way a mutant could blame a right answer.
"""
from __future__ import annotations

import importlib.util
import sys
import textwrap

import numpy as np
import pytest

from grader import exercises, reference
from grader.judge import grade_answer
from grader.mutations import mutants

ROOT = __import__("pathlib").Path(__file__).resolve().parent.parent


def _define(source: str, name: str):
    namespace: dict = {}
    exec(textwrap.dedent(source), namespace)
    return namespace[name]


def _diagnoses(name: str, answer) -> list[str]:
    result = grade_answer(exercises.get(name), answer, include_hidden=True, secret="mutations-test")
    return [c.diagnosis for c in result.checks if not c.passed]


def test_an_unlisted_softmax_mistake_is_named_by_the_error_model():
    """The maximum taken over axis 0 while the sum is over `axis`: no zoo entry makes this mistake."""
    answer = _define('''
        import numpy as np
        def softmax(scores, axis=-1):
            shifted = scores - scores.max(axis=0, keepdims=True)
            e = np.exp(shifted)
            return e / e.sum(axis=axis, keepdims=True)
    ''', "softmax")
    diagnoses = _diagnoses("softmax", answer)
    assert diagnoses and not any("This looks like a known mistake" in d for d in diagnoses), diagnoses
    assert any("error model knows: np.max over the wrong axis (0 instead of axis)" in d for d in diagnoses), diagnoses


def test_an_unlisted_feed_forward_mistake_is_named_by_the_error_model():
    """GELU where the module was built with ReLU, written in another style than the reference."""
    import torch

    from solutions.block import FeedForward as Reference

    class FeedForward(Reference):
        def forward(self, x):
            hidden = torch.nn.functional.gelu(self.linear1(x))
            return self.linear2(self.dropout(hidden))

    diagnoses = _diagnoses("FeedForward", FeedForward)
    assert any("error model knows: GELU as the activation" in d for d in diagnoses), diagnoses


def test_the_zoo_is_tried_first():
    """A written-down mistake keeps its own name: the error model only speaks where the zoo is silent."""
    bug = next(b for b in reference.bugs("softmax") if b.id == "wrong_axis")
    diagnoses = _diagnoses("softmax", bug.impl)
    assert any(f"This looks like a known mistake: {bug.title}" in d for d in diagnoses)
    assert not any("error model" in d for d in diagnoses)


@pytest.mark.slow
def test_leave_one_out_over_the_zoo_names_a_fair_share_and_never_blames_a_variant():
    spec = importlib.util.spec_from_file_location("error_model_report", ROOT / "tools" / "error_model_report.py")
    report = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(report)
    table = report.measure()
    assert set(table) == set(exercises.EXERCISES)
    assert sum(row["variants_failing"] for row in table.values()) == 0
    zoo = sum(row["zoo"] for row in table.values())
    named = sum(row["named"] for row in table.values())
    assert zoo >= 200 and named / zoo >= 0.25, (named, zoo)  # 65 of 221 when this test was written
    for name, row in table.items():
        assert 0 <= row["named_throughout"] <= row["named"] <= row["zoo"], (name, row)


def test_every_mutant_compiles_to_the_exercise_and_is_distinct():
    for name in exercises.EXERCISES:
        made = mutants(name)
        assert len({m.id for m in made}) == len(made)
        ref = reference.reference(name)
        for mutant in made:
            assert mutant.impl is not ref and getattr(mutant.impl, "__name__", name) == name, (name, mutant.id)
