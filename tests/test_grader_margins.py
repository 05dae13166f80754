"""The grader's tolerance separates every correct answer from every known mistake.

``tools/tolerance_margins.py`` runs every check (public and hidden, a fixed secret) on the
reference, the correct variants (several compute in float32 inside and return float64) and the
bug zoo, and reports how much of the tolerance each one uses: correct answers must stay below
1, bugs above. ``pytest -s`` prints the table with the margins.
"""
import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from grader import reference as hidden
from grader.core import FLOAT_TOLERANCE, compare
from grader.exercises import EXERCISES

REPO = Path(__file__).resolve().parent.parent
if "tolerance_margins" not in sys.modules:  # tools/ is not a package: load the script by path
    _spec = importlib.util.spec_from_file_location("tolerance_margins", REPO / "tools" / "tolerance_margins.py")
    sys.modules["tolerance_margins"] = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(sys.modules["tolerance_margins"])
import tolerance_margins  # noqa: E402

RTOL, ATOL = FLOAT_TOLERANCE


@pytest.fixture(scope="module")
def results(torch_single_thread):
    return tolerance_margins.margins()


def test_margin_table(results):
    print("\n" + tolerance_margins.table(results))
    measured = {m.exercise for m in results}
    assert measured == {name for name in EXERCISES if hidden.reference(name) is not None}
    for m in results:
        assert len(m.correct) >= 2 and m.bugs, f"{m.exercise}: nothing to measure"


def test_every_correct_answer_is_inside_the_tolerance(results):
    outside = [(m.exercise, s.answer, s.check, s.used) for m in results for s in m.correct if not s.used < 1]
    assert not outside, f"correct answers the tolerance rejects (exercise, answer, check, used): {outside}"


def test_every_bug_is_outside_the_tolerance(results):
    inside = [(m.exercise, s.answer, s.check, s.used) for m in results for s in m.bugs if not s.used > 1]
    assert not inside, f"bugs the tolerance accepts (exercise, bug, check, used): {inside}"


def test_every_torch_exercise_has_a_float32_inside_variant():
    """float64 in, float64 out, float32 arithmetic in between: what the old float64 tolerance
    (rtol 1e-7) failed. Exercises returning ints or devices need none."""
    torch_track = ["scaled_dot_product_attention", "SelfAttention", "split_heads", "merge_heads", "MultiHeadAttention",
                   "sinusoidal_positional_encoding", "PositionalEncoding", "layer_norm", "FeedForward",
                   "EncoderBlock", "TransformerEncoder", "train_step", "evaluate"]
    missing = [n for n in torch_track + ["softmax", "attention_weights"]
               if not any(v.id.startswith("float32_") for v in hidden.variants(n))]
    assert not missing


# --- compare() itself ---------------------------------------------------------------------


def test_float32_rounding_in_a_float64_output_passes():
    expected = np.linspace(-3.0, 3.0, 50)
    actual = expected.astype(np.float32).astype(np.float64)  # off by up to 1e-7, as computing in float32
    result = compare(actual, expected)
    assert result.ok, result.message
    assert 0 < result.metrics["tolerance_used"] < 0.05


def test_tolerance_used_is_error_over_allowed():
    expected = np.array([1.0, 0.0, -2.0])
    actual = expected + np.array([0.5, 0.25, -0.75]) * (ATOL + RTOL * np.abs(expected))
    result = compare(actual, expected)
    assert result.ok
    assert result.metrics["tolerance_used"] == pytest.approx(0.75)
    over = compare(expected + 1.5 * (ATOL + RTOL * np.abs(expected)), expected)
    assert not over.ok and over.metrics["tolerance_used"] == pytest.approx(1.5)


def test_tolerance_used_covers_every_item_of_a_failing_output():
    expected = [np.zeros(3), np.ones(2)]
    actual = [np.array([0.0, 0.0, 3 * ATOL]), np.ones(2) + 10 * (ATOL + RTOL)]
    result = compare(actual, expected)
    assert not result.ok and result.message.startswith("output[0]")  # the first failure is reported
    assert result.metrics["tolerance_used"] == pytest.approx(10.0)  # the worst item sets the margin


def test_a_check_tolerance_overrides_the_default():
    expected = np.array([1.0, 2.0])
    actual = expected + 1e-6
    assert compare(actual, expected).ok
    strict = compare(actual, expected, tolerance=(1e-9, 1e-9))
    assert not strict.ok and strict.metrics["tolerance_used"] > 100


def test_python_floats_use_the_same_tolerance():
    assert compare(2 / 3 + 5e-6, 2 / 3).ok
    result = compare(2 / 3 + 1e-4, 2 / 3)
    assert not result.ok and result.metrics["tolerance_used"] == pytest.approx(1e-4 / (ATOL + RTOL * 2 / 3))


def test_exact_kinds_stay_exact():
    assert not compare(np.array([1, 2, 4]), np.array([1, 2, 3])).ok  # integers
    assert not compare(np.array([True, False]), np.array([True, True])).ok
    assert not compare(np.array([-np.inf, 1.0]), np.array([np.inf, 1.0])).ok  # opposite infinities
    assert not compare(np.array([1e30, 1.0]), np.array([np.inf, 1.0])).ok
    assert compare(np.array([np.inf, np.nan]), np.array([np.inf, np.nan])).ok
    assert "tolerance_used" not in compare(np.array([1, 2]), np.array([1, 2])).metrics
    assert math.isfinite(compare(np.ones(2), np.ones(2)).metrics["tolerance_used"])
