"""Checks for notebook 02: relevance, relevance_matrix, scaled_relevance_matrix, bilinear_relevance."""
from __future__ import annotations

import math

import numpy as np

from ..core import Call, Check, Comparison, Exercise
from ._common import distinct_shape

NOTEBOOK = "02_relevance"


def _t(array):
    import torch

    return torch.from_numpy(np.asarray(array, dtype=np.float64))


# Public oracles: PyTorch's own products. Scalars come back as Python floats, as the
# exercises return them, so both sides are compared the same way.
def _torch_dot(query, key):
    import torch

    return float(torch.dot(_t(query), _t(key)))


def _torch_gram(X):
    X = _t(X)
    return (X @ X.T).numpy()


def _torch_scaled_gram(X):
    X = _t(X)
    return (X @ X.T / math.sqrt(X.shape[-1])).numpy()


def _torch_bilinear(x_i, x_j, W_q, W_k):
    import torch

    return float(torch.dot(_t(x_i) @ _t(W_q), _t(x_j) @ _t(W_k)))


def _course_words(*words):
    from course.data import load_embeddings

    vocab, table = load_embeddings()
    return [table[vocab[w]] for w in words]


def _course_sentence(rng):
    from course.data import load_embeddings

    vocab, table = load_embeddings()
    ids = [vocab[w] for w in "strike the match so it will burn".split()]
    return [Call(args=(table[ids],))]  # (7, 8)


def _is_number(out) -> bool:
    # as compare() does: a Python number, or an array holding one number
    return type(out) in (int, float) or (isinstance(out, np.ndarray) and out.size == 1)


def _scalar_outputs(outputs, calls) -> Comparison:
    for i, out in enumerate(outputs):
        if not _is_number(out):
            what = f"an array of shape {out.shape}" if isinstance(out, np.ndarray) else type(out).__name__
            return Comparison(False, f"call {i}: expected a single number, got {what}")
    return Comparison(True)


def _square_symmetric(outputs, calls) -> Comparison:
    for out, call in zip(outputs, calls):
        T = call.args[0].shape[0]
        if not isinstance(out, np.ndarray) or out.shape != (T, T):
            shape = out.shape if isinstance(out, np.ndarray) else type(out).__name__
            return Comparison(False, f"expected shape {(T, T)} (one row and one column per word), got {shape}")
        if not np.allclose(out, out.T, rtol=1e-6, atol=1e-9):
            return Comparison(False, "R is not symmetric: X[i] . X[j] = X[j] . X[i], so R[i, j] must equal R[j, i]")
    return Comparison(True)


def _spread_near_one(outputs, calls) -> Comparison:
    """For unit-variance words, the scaled scores between different words have std about 1 for any d."""
    out = outputs[0]
    T = calls[0].args[0].shape[0]
    if not isinstance(out, np.ndarray) or out.shape != (T, T):
        shape = out.shape if isinstance(out, np.ndarray) else type(out).__name__
        return Comparison(False, f"expected shape {(T, T)}, got {shape}")
    spread = float(np.std(out[~np.eye(T, dtype=bool)]))
    if not 0.5 <= spread <= 2.0:
        return Comparison(False, f"the scores between different words have standard deviation {spread:.3g}; "
                                 f"dividing by sqrt(d) should bring it near 1", {"std": spread})
    return Comparison(True, metrics={"std": spread})


# ------------------------------------------------------------------------------ relevance

def _relevance_hidden(rng):
    calls = []
    for d in distinct_shape(rng, 2, 3, 12):
        calls += [Call(args=(rng.normal(size=d), rng.normal(scale=2.0, size=d))) for _ in range(3)]
    return calls


relevance = Exercise(
    name="relevance",
    notebook=NOTEBOOK,
    kind="function",
    signature=("query", "key"),
    where="the `relevance` cell of 02_relevance",
    checks=[
        Check("by_hand", "relevance([1, 2, 3], [4, -5, 6]) = 4 - 10 + 18 = 12",
              lambda rng: [Call(args=(np.array([1.0, 2.0, 3.0]), np.array([4.0, -5.0, 6.0])))], oracle=_torch_dot,
              hint="Multiply the vectors entry by entry and add everything up: np.dot(query, key)."),
        Check("single_number", "the relevance of two vectors is one number, not an array",
              lambda rng: [Call(args=(rng.normal(size=5), rng.normal(size=5)))], judge=_scalar_outputs,
              hint="query * key is the list of products; relevance is their sum (np.dot or (query * key).sum())."),
        Check("match_words", 'course vectors: G(burn | match) = 0.96 is far above G(the | match) = 0.08',
              lambda rng: [Call(args=tuple(_course_words("match", w))) for w in ("burn", "the", "tennis")],
              oracle=_torch_dot,
              hint="The relevance here is the plain dot product: no normalisation and no scaling yet."),
        Check("hidden_random", "random vectors of two sizes", _relevance_hidden, points=2.0, hidden=True),
    ],
)


# ------------------------------------------------------------------------ relevance_matrix

def _matrix_hidden(rng):
    calls = []
    for _ in range(2):
        T, d = distinct_shape(rng, 2, 3, 10)
        calls.append(Call(args=(rng.normal(size=(T, d)),)))
    return calls


relevance_matrix = Exercise(
    name="relevance_matrix",
    notebook=NOTEBOOK,
    kind="function",
    signature=("X",),
    where="the `relevance_matrix` cell of 02_relevance",
    checks=[
        Check("by_hand", "X = [[1, 0], [0, 2], [1, 1]] gives R = [[1, 0, 1], [0, 4, 2], [1, 2, 2]]",
              lambda rng: [Call(args=(np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]]),))], oracle=_torch_gram,
              hint="R[i, j] = X[i] . X[j]: that is X @ X.T, of shape (T, T)."),
        Check("course_sentence", 'the 7 words of "strike the match so it will burn" (a (7, 8) X) '
                                 "give a (7, 7) matrix",
              _course_sentence, oracle=_torch_gram,
              hint="Rows of X are words: (T, d) @ (d, T) gives one score per pair of words."),
        Check("square_symmetric", "R has shape (T, T) and is symmetric, for a (5, 3) X",
              lambda rng: [Call(args=(rng.normal(size=(5, 3)),))], judge=_square_symmetric,
              hint="X.T @ X is (d, d), a matrix over features; the words' matrix is X @ X.T."),
        Check("hidden_random", "random X of two shapes (T != d)", _matrix_hidden, points=2.0, hidden=True),
    ],
)


# ----------------------------------------------------------------- scaled_relevance_matrix

scaled_relevance_matrix = Exercise(
    name="scaled_relevance_matrix",
    notebook=NOTEBOOK,
    kind="function",
    signature=("X",),
    where="the `scaled_relevance_matrix` cell of 02_relevance",
    checks=[
        Check("by_hand", "X = [[1, 1, 1, 1], [2, 0, 0, 0], [0, 1, 0, 1]] (d = 4, sqrt(d) = 2) gives "
                         "[[2, 1, 1], [1, 2, 0], [1, 0, 1]]",
              lambda rng: [Call(args=(np.array([[1.0, 1, 1, 1], [2, 0, 0, 0], [0, 1, 0, 1]]),))],
              oracle=_torch_scaled_gram,
              hint="Divide X @ X.T by sqrt(d), where d = X.shape[-1] is the vector size (not the number of words)."),
        Check("course_sentence", 'the (7, 8) X of "strike the match so it will burn", divided by sqrt(8)',
              _course_sentence, oracle=_torch_scaled_gram,
              hint="d is the number of columns of X (8 here); T = 7 is the number of words."),
        Check("spread_near_one", "for 8 random words with d = 200, the scaled scores between different "
                                 "words have a standard deviation near 1",
              lambda rng: [Call(args=(rng.normal(size=(8, 200)),))], judge=_spread_near_one,
              hint="A dot product of d unit-variance numbers has variance d: dividing by sqrt(d) "
                   "(not d) brings its spread back to about 1."),
        Check("hidden_random", "random X of two shapes (T != d)", _matrix_hidden, points=2.0, hidden=True),
    ],
)


# ---------------------------------------------------------------------- bilinear_relevance

_XI, _XJ = np.array([1.0, 0.0, 2.0]), np.array([0.0, 1.0, 3.0])
_WQ = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, -1.0]])
_WK = np.array([[0.0, 1.0], [2.0, 0.0], [1.0, 1.0]])


def _both_orders(outputs, calls) -> Comparison:
    numbers = _scalar_outputs(outputs, calls)
    if not numbers.ok:
        return numbers
    forward, backward = (float(np.asarray(out).item()) for out in outputs)
    if math.isclose(forward, backward, rel_tol=1e-6, abs_tol=1e-9):
        return Comparison(False, f"G(x_j | x_i) = G(x_i | x_j) = {forward:.4g}: with different W_q and W_k the "
                                 "score must depend on which word asks (the query) and which answers (the key)")
    return Comparison(True)


def _swap_calls(rng):
    d_in, d_k = 6, 4
    x_i, x_j = rng.normal(size=d_in), rng.normal(size=d_in)
    W_q, W_k = rng.normal(size=(d_in, d_k)), rng.normal(size=(d_in, d_k))
    return [Call(args=(x_i, x_j, W_q, W_k)), Call(args=(x_j, x_i, W_q, W_k))]


def _match_burn(rng):
    match, burn = _course_words("match", "burn")
    W_q, W_k = rng.normal(size=(8, 3)), rng.normal(size=(8, 3))
    return [Call(args=(match, burn, W_q, W_k)), Call(args=(burn, match, W_q, W_k))]


def _bilinear_hidden(rng):
    calls = []
    for _ in range(2):
        d_in, d_k = distinct_shape(rng, 2, 3, 10)
        W_q, W_k = rng.normal(size=(d_in, d_k)), rng.normal(size=(d_in, d_k))
        x_i, x_j = rng.normal(size=d_in), rng.normal(size=d_in)
        calls += [Call(args=(x_i, x_j, W_q, W_k)), Call(args=(x_j, x_i, W_q, W_k))]
    return calls


bilinear_relevance = Exercise(
    name="bilinear_relevance",
    notebook=NOTEBOOK,
    kind="function",
    signature=("x_i", "x_j", "W_q", "W_k"),
    where="the `bilinear_relevance` cell of 02_relevance",
    checks=[
        Check("by_hand", "x_i = [1, 0, 2], x_j = [0, 1, 3]: x_i W_q = [3, -2], x_j W_k = [5, 3], score 15 - 6 = 9",
              lambda rng: [Call(args=(_XI, _XJ, _WQ, _WK))], oracle=_torch_bilinear,
              hint="The query is x_i @ W_q and the key is x_j @ W_k (numpy track: x @ W, W of shape (d_in, d_k)); "
                   "the score is their dot product."),
        Check("asymmetric", "swapping the two words changes the score (different W_q and W_k)",
              _swap_calls, judge=_both_orders,
              hint="Use W_q for the word that asks (x_i) and W_k for the word that answers (x_j), not one matrix for both."),
        Check("match_burn", 'G(burn | match) and G(match | burn) with the course vectors and random (8, 3) W_q, W_k',
              _match_burn, oracle=_torch_bilinear,
              hint="x_i is the query word: project it with W_q; x_j is the key word: project it with W_k."),
        Check("hidden_random", "random words and projections of two shapes (d_in != d_k), both orders",
              _bilinear_hidden, points=2.0, hidden=True),
    ],
)

EXERCISES = [relevance, relevance_matrix, scaled_relevance_matrix, bilinear_relevance]
