"""Diagnosis of answers that raise: a known mistake that raises the same error at the same call is
named, with where it happened; an error no known mistake makes is not given a wrong name."""
import numpy as np
import pytest

from grader.core import Call
from grader.exercises import EXERCISES
from grader.judge import Outcome, _similar_errors, describe_call, grade_answer

pytest.importorskip("solutions.zoo")

PROJECTIONS_TRANSPOSED = "the projections are applied as X @ W.T"


def _grade(name, answer):
    return grade_answer(EXERCISES[name], answer, include_hidden=True, secret="diagnose-secret")


def _self_attention_with_dot(X, W_q, W_k, W_v, mask=None):
    # the listed mistake written with np.dot: numpy words the error differently than for `@`
    Q = np.dot(X, W_q.T)
    K, V = np.dot(X, W_k.T), np.dot(X, W_v.T)
    scores = Q @ K.T / np.sqrt(K.shape[1])
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights /= weights.sum(axis=-1, keepdims=True)
    return weights @ V, weights


def test_a_raising_mistake_is_named_with_the_call_and_the_line():
    result = _grade("self_attention", _self_attention_with_dot)
    assert result.earned == 0
    for check in result.checks:
        assert check.status == "error"
        assert "not aligned" in check.message  # np.dot's wording, not the bug's (matmul's)
        assert PROJECTIONS_TRANSPOSED in check.diagnosis, (check.name, check.diagnosis)
        assert "Q = np.dot(X, W_q.T)" in check.diagnosis  # the student's own line
    small = next(c for c in result.checks if c.name == "small_example")
    assert "call 1 of 1, self_attention(X (3, 4), W_q (4, 2), W_k (4, 2), W_v (4, 5))" in small.diagnosis


def test_the_same_kind_of_error_about_other_shapes_is_not_named():
    """Elementwise weights * V (a broadcast error) is not the transposed weights (a matmul error),
    although both fail on the same call with the same sizes."""
    result = _grade("context_vectors", lambda weights, V: np.multiply(weights, V))
    by_hand = next(c for c in result.checks if c.name == "by_hand")
    assert by_hand.status == "error"
    assert "weights * V multiplies entry by entry" in by_hand.diagnosis
    assert "transposed" not in by_hand.diagnosis


def test_an_error_no_known_mistake_makes_gets_no_name():
    def self_attention(X, W_q, W_k, W_v, mask=None):
        raise ValueError(f"my own check failed for {X.shape}")

    result = _grade("self_attention", self_attention)
    assert all(c.status == "error" for c in result.checks)
    assert not any(c.diagnosis for c in result.checks)


def test_a_key_error_is_named_by_its_message():
    def tokenize(sentence, vocab):
        return np.array([vocab[w] for w in sentence.lower().replace("!", " !").split()], dtype=np.int64)

    result = _grade("tokenize", tokenize)
    unknown = next(c for c in result.checks if c.name == "unknown_words")
    assert unknown.status == "error" and "KeyError" in unknown.message
    assert 'looked up with vocab[word]' in unknown.diagnosis
    assert "tokenize(sentence='the zebra ate my match', vocab=<a dict of" in unknown.diagnosis


def test_hidden_inputs_stay_hidden_in_the_description():
    call = Call(args=("They won the tennis match", {"they": 0}))
    text = describe_call(EXERCISES["tokenize"], call, hidden=True)
    assert "tennis" not in text and "<a string of 25 characters>" in text
    assert "tennis" in describe_call(EXERCISES["tokenize"], call, hidden=False)


@pytest.mark.parametrize("mine,theirs,exact,similar", [
    # the same shape mismatch, worded by np.dot and by @: similar, but not the same message
    ("shapes (3,4) and (2,4) not aligned: 4 (dim 1) != 2 (dim 0)",
     "matmul: Input operand 1 has a mismatch in its core dimension 0, with gufunc signature "
     "(n?,k),(k,m?)->(n?,m?) (size 2 is different from 4)", False, True),
    ("shapes (3,4) and (2,4) not aligned: 4 (dim 1) != 2 (dim 0)",
     "matmul: Input operand 1 has a mismatch in its core dimension 0, with gufunc signature "
     "(n?,k),(k,m?)->(n?,m?) (size 2 is different from 4)", True, False),
    # a broadcast is not a matrix product, even about the same sizes
    ("operands could not be broadcast together with shapes (2,3) (3,4) ",
     "matmul: Input operand 1 has a mismatch in its core dimension 0, with gufunc signature "
     "(n?,k),(k,m?)->(n?,m?) (size 3 is different from 2)", False, False),
    # the same kind of error about other sizes
    ("operands could not be broadcast together with shapes (2,3) (2,) ",
     "operands could not be broadcast together with shapes (5,7) (5,) ", False, False),
])
def test_similar_errors(mine, theirs, exact, similar):
    assert _similar_errors(Outcome(False, error_type="ValueError", error_message=mine),
                           Outcome(False, error_type="ValueError", error_message=theirs), exact) is similar
    assert not _similar_errors(Outcome(False, error_type="TypeError", error_message=mine),
                               Outcome(False, error_type="ValueError", error_message=mine), exact)


def test_a_failed_public_check_shows_what_came_back_next_to_what_was_expected_and_a_hidden_one_does_not():
    """At the first index that differs: the value the answer gave and the one expected (a public check's
    inputs and outputs are in the notebook anyway); a hidden check says only by how much."""
    def softmax(scores, axis=-1):  # normalised over the other axis
        e = np.exp(scores - scores.max(axis=0, keepdims=True))
        return e / e.sum(axis=0, keepdims=True)

    result = _grade("softmax", softmax)
    public = next(c for c in result.checks if not c.hidden and not c.passed and "values differ" in c.message)
    got, expected = (float(x) for x in public.message.split("got ", 1)[1].split(", expected "))
    assert abs(got - expected) > 1e-3, public.message
    hidden = next(c for c in result.checks if c.hidden and not c.passed)
    assert "expected ones" in hidden.message and "got " not in hidden.message, hidden.message

    def causal_mask(T):  # the diagonal left out: a boolean comparison says which entry
        return np.tril(np.ones((T, T), dtype=bool), k=-1)

    boolean = next(c for c in _grade("causal_mask", causal_mask).checks if not c.hidden and not c.passed)
    assert "got False, expected True" in boolean.message, boolean.message
