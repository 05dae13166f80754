"""Grade the graders: every check against the reference, the correct variants and the bug zoo.

- the reference and every correct variant get full marks (public + hidden checks);
- every bug loses points, and a failing check names that very bug;
- every check rejects at least one bug (a check that nothing fails is a defect);
- public checks need no hidden reference (students run them without solutions/).
"""
import re

import pytest

from grader import reference as hidden
from grader.exercises import EXERCISES
from grader.judge import grade_answer

pytestmark = pytest.mark.usefixtures("torch_single_thread")

SECRET = "test-secret"
COURSE_EXERCISES = [
    "tokenize", "embed", "cosine_similarity",
    "relevance", "relevance_matrix", "scaled_relevance_matrix", "bilinear_relevance",
    "softmax", "masked_softmax", "causal_mask",
    "attention_weights", "context_vectors", "self_attention", "strike_over_burn_projections",
    "scaled_dot_product_attention", "SelfAttention",
    "split_heads", "merge_heads", "MultiHeadAttention",
    "sinusoidal_positional_encoding", "PositionalEncoding",
    "layer_norm", "FeedForward", "EncoderBlock",
    "TransformerEncoder", "count_parameters",
    "pick_device", "train_step", "evaluate",
    "layer_probe_accuracy",
]
READY = [name for name in COURSE_EXERCISES if name in EXERCISES]
BUG_CASES = [(b.exercise, b.id) for name in READY for b in hidden.bugs(name)]
VARIANT_CASES = [(v.exercise, v.id) for name in READY for v in hidden.variants(name)]


def _grade(name, answer):
    return grade_answer(EXERCISES[name], answer, include_hidden=True, secret=SECRET)


def _failures(result):
    return [(c.name, c.status, c.message) for c in result.checks if not c.passed]


@pytest.mark.parametrize("name", COURSE_EXERCISES)
def test_exercise_is_complete(name):
    assert name in EXERCISES, f"{name} has no checks"
    exercise = EXERCISES[name]
    assert exercise.public_checks and exercise.hidden_checks
    assert len(hidden.bugs(name)) >= 2, "needs at least two bug-zoo entries"
    assert len(hidden.variants(name)) >= 2, "needs at least two correct variants"
    for check in exercise.public_checks:
        assert not check.uses_reference, f"public check {check.name} needs the hidden reference"
    names = [c.name for c in exercise.checks]
    assert len(names) == len(set(names)), "check names must be unique"


@pytest.mark.parametrize("name", READY)
def test_reference_gets_full_marks(name):
    result = _grade(name, hidden.reference(name))
    assert result.earned == result.points > 0, _failures(result)


@pytest.mark.parametrize("name,variant_id", VARIANT_CASES)
def test_correct_variant_gets_full_marks(name, variant_id):
    variant = next(v for v in hidden.variants(name) if v.id == variant_id)
    result = _grade(name, variant.impl)
    assert result.earned == result.points, _failures(result)


@pytest.mark.parametrize("name,bug_id", BUG_CASES)
def test_bug_is_rejected_and_named(name, bug_id):
    bug = next(b for b in hidden.bugs(name) if b.id == bug_id)
    result = _grade(name, bug.impl)
    assert result.earned < result.points, f"bug {bug_id} got full marks"
    failed = [c for c in result.checks if not c.passed]
    assert any(bug.title in c.diagnosis for c in failed), (
        f"no failing check names '{bug.title}': " + repr([(c.name, c.diagnosis or c.message) for c in failed]))
    # where the difference is, in words ("call 2 of 3, params, layers.0.weight"), never a Python path
    assert not [c.message for c in failed if "output[" in c.message or "['" in c.message], [c.message for c in failed]


@pytest.mark.parametrize("name", READY)
def test_every_check_can_fail(name):
    exercise = EXERCISES[name]
    caught = {c.name: 0 for c in exercise.checks}
    for bug in hidden.bugs(name):
        for check in _grade(name, bug.impl).checks:
            caught[check.name] += not check.passed
    assert all(caught.values()), f"checks that no bug fails: {[n for n, k in caught.items() if not k]}"


@pytest.mark.parametrize("name", READY)
def test_hidden_inputs_follow_the_secret(name):
    """Same secret, same inputs (reproducible regrades); another secret, other inputs."""
    from grader.core import build_calls

    import numpy as np

    def arrays(secret):
        out = []
        for check in EXERCISES[name].hidden_checks:
            for call in build_calls(check, name, secret):
                out += [a for a in _walk(call.args) if isinstance(a, np.ndarray)]
                out += [a for a in _walk(call.state) if isinstance(a, np.ndarray)]
        return out

    first, again, other = arrays("a"), arrays("a"), arrays("b")
    assert all(np.array_equal(x, y) for x, y in zip(first, again))
    if first and any(np.issubdtype(a.dtype, np.floating) for a in first):
        assert any(x.shape != y.shape or not np.array_equal(x, y) for x, y in zip(first, other))


def _walk(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _walk(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _walk(v)
    elif value is not None:
        yield value
