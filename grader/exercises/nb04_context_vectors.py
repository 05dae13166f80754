"""Checks for notebook 04: attention_weights, context_vectors, self_attention (numpy track), and the
design exercise strike_over_burn_projections."""
from __future__ import annotations

import math

import numpy as np

from ..core import Call, Check, Comparison, Exercise
from ._common import distinct_shape, rows_sum_to_one

NOTEBOOK = "04_context_vectors"


# Public oracles: built from PyTorch's own functions, so that public checks need no hidden reference.
def _t(array):
    import torch

    return torch.from_numpy(np.asarray(array, dtype=np.float64))


def _torch_weights(Q, K, mask=None):
    import torch

    scores = _t(Q) @ _t(K).T / np.sqrt(np.shape(K)[-1])
    if mask is None:
        return torch.softmax(scores, dim=-1).numpy()
    m = torch.from_numpy(np.broadcast_to(np.asarray(mask, dtype=bool), tuple(scores.shape)).copy())
    # softmax of an all -inf row is NaN: the masked_fill afterwards gives the zeros the course asks for
    return torch.softmax(scores.masked_fill(~m, float("-inf")), dim=-1).masked_fill(~m, 0.0).numpy()


def _torch_context(weights, V):
    return (_t(weights) @ _t(V)).numpy()


def _torch_self_attention(X, W_q, W_k, W_v, mask=None):
    Q, K, V = ((_t(X) @ _t(W)).numpy() for W in (W_q, W_k, W_v))
    weights = _torch_weights(Q, K, mask)
    return _torch_context(weights, V), weights


# ---------------------------------------------------------------------------------------
# Inputs.
# ---------------------------------------------------------------------------------------


def _mask(rng, t_q, t_k, fully_masked_row=None):
    """A random (T_q, T_k) mask with at least one allowed key per row (except the one asked for)."""
    mask = rng.random((t_q, t_k)) < 0.6
    mask[np.arange(t_q), rng.integers(0, t_k, size=t_q)] = True
    if fully_masked_row is not None:
        mask[fully_masked_row] = False
    return mask


def _qk(rng):
    t_q, t_k, d_k = distinct_shape(rng, 3)
    return rng.normal(size=(t_q, d_k)), rng.normal(size=(t_k, d_k))


def _weights_hidden(rng):
    return [Call(args=_qk(rng)) for _ in range(2)]


def _weights_masked_hidden(rng):
    calls = []
    for config in range(2):
        Q, K = _qk(rng)
        t_q, t_k = Q.shape[0], K.shape[0]
        key_mask = rng.random(t_k) < 0.6
        key_mask[0] = True
        calls += [
            Call(args=(Q, K, _mask(rng, t_q, t_k, fully_masked_row=t_q - 1 if config else None))),
            Call(args=(Q, K), kwargs={"mask": key_mask}),  # a (T_k,) padding mask, broadcast over queries
        ]
    return calls


def _softmax_rows(rng, t_q, t_k):
    scores = rng.normal(scale=1.5, size=(t_q, t_k))
    exp = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return exp / exp.sum(axis=-1, keepdims=True)


def _context_hidden(rng):
    calls = []
    for config in range(2):
        t_q, t_k, d_v = distinct_shape(rng, 3)
        weights = _softmax_rows(rng, t_q, t_k)
        if config:  # a query whose keys were all masked: its weights are all 0
            weights[int(rng.integers(t_q))] = 0.0
        calls.append(Call(args=(weights, rng.normal(size=(t_k, d_v)))))
    return calls


def _context_square_hidden(rng):
    # Self-attention: T_q == T_k, where a transposed weight matrix still has the right shape.
    calls = []
    for _ in range(2):
        t, d_v = distinct_shape(rng, 2)
        calls.append(Call(args=(_softmax_rows(rng, t, t), rng.normal(size=(t, d_v)))))
    return calls


def _projections(rng, t, d_in, d_k, d_v):
    X = rng.normal(size=(t, d_in))
    W_q, W_k = rng.normal(size=(d_in, d_k)), rng.normal(size=(d_in, d_k))
    W_v = rng.normal(size=(d_in, d_v))
    return X, W_q, W_k, W_v


def _self_attention_hidden(rng):
    return [Call(args=_projections(rng, *distinct_shape(rng, 4))) for _ in range(2)]


def _self_attention_masked_hidden(rng):
    calls = []
    for _ in range(2):
        t, d_in, d_k, d_v = distinct_shape(rng, 4)
        args = _projections(rng, t, d_in, d_k, d_v)
        calls += [
            Call(args=args, kwargs={"mask": np.tril(np.ones((t, t), dtype=bool))}),
            Call(args=(*args, _mask(rng, t, t))),
        ]
    return calls


def _shapes(outputs, calls) -> Comparison:
    for out, call in zip(outputs, calls):
        X, _, _, W_v = call.args[:4]
        t, d_v = X.shape[0], W_v.shape[1]
        if not isinstance(out, list) or len(out) != 2:
            return Comparison(False, "expected a pair (context, weights)")
        context, weights = out
        for name, value, shape in (("context", context, (t, d_v)), ("weights", weights, (t, t))):
            if not isinstance(value, np.ndarray) or value.shape != shape:
                got = value.shape if isinstance(value, np.ndarray) else type(value).__name__
                return Comparison(False, f"{name}: expected shape {shape} (T={t}, d_v={d_v}), got {got}")
    return Comparison(True)


attention_weights = Exercise(
    name="attention_weights",
    notebook=NOTEBOOK,
    kind="function",
    signature=("Q", "K", "mask"),
    where="the `attention_weights` cell of 04_context_vectors",
    forbidden=("attention", "multi_head_attention"),
    checks=[
        Check("by_hand", "Q K^T / sqrt(4) = [[1, 0, 0], [0, 1, 0]] gives the rows [0.576, 0.212, 0.212] "
                         "and [0.212, 0.576, 0.212]",
              lambda rng: [Call(args=(np.array([[2.0, 0, 0, 0], [0, 2.0, 0, 0]]),
                                      np.array([[1.0, 0, 0, 0], [0, 1.0, 0, 0], [0, 0, 1.0, 0]])))],
              oracle=_torch_weights,
              hint="Scores are Q @ K.T divided by sqrt(d_k) (d_k = K.shape[-1]); then a softmax over each row."),
        Check("rows_sum_to_one", "3 queries and 5 keys: each query's weights over the keys sum to 1",
              lambda rng: [Call(args=(rng.normal(size=(3, 4)), rng.normal(size=(5, 4))))],
              judge=rows_sum_to_one(-1),
              hint="Each row is one query: normalise over the keys (the last axis), not over the queries."),
        Check("padding_mask", "a (T_k,) mask [T, T, T, F, F]: the last two keys get weight 0, the others sum to 1",
              lambda rng: [Call(args=(rng.normal(size=(3, 4)), rng.normal(size=(5, 4)),
                                      np.array([True, True, True, False, False])))],
              oracle=_torch_weights,
              hint="Mask the scores (True = may attend) before the softmax, as masked_softmax in 03_softmax does."),
        Check("causal_mask", "a (4, 4) causal mask: query i only weighs keys 0..i",
              lambda rng: [Call(args=(rng.normal(size=(4, 3)), rng.normal(size=(4, 3))),
                                kwargs={"mask": np.tril(np.ones((4, 4), dtype=bool))})],
              oracle=_torch_weights,
              hint="Row i may only use keys 0..i: their weights sum to 1 and the others are exactly 0."),
        Check("fully_masked_row", "a query with no allowed key gets all-zero weights, not NaN",
              lambda rng: [Call(args=(rng.normal(size=(2, 3)), rng.normal(size=(4, 3)),
                                      np.array([[True, False, True, False], [False, False, False, False]])))],
              oracle=_torch_weights,
              hint="A row whose keys are all masked has max -inf, and exp(-inf - -inf) is NaN: give such rows zeros."),
        Check("hidden_random", "random queries and keys of two shapes (T_q != T_k), no mask",
              _weights_hidden, points=2.0, hidden=True),
        Check("hidden_masked", "random queries, keys and masks of two shapes: (T_q, T_k) masks, (T_k,) padding "
                               "masks, a fully masked row",
              _weights_masked_hidden, points=2.0, hidden=True),
    ],
)

context_vectors = Exercise(
    name="context_vectors",
    notebook=NOTEBOOK,
    kind="function",
    signature=("weights", "V"),
    where="the `context_vectors` cell of 04_context_vectors",
    checks=[
        Check("by_hand", "weights [[1, 0, 0], [0.25, 0.25, 0.5]] give V[0] and 0.25 V[0] + 0.25 V[1] + 0.5 V[2] "
                         "= [0.25, 0.5, 2, 2]",
              lambda rng: [Call(args=(np.array([[1.0, 0.0, 0.0], [0.25, 0.25, 0.5]]),
                                      np.array([[1.0, 0, 0, 2], [0, 2.0, 0, 2], [0, 0, 4.0, 2]])))],
              oracle=_torch_context,
              hint="Row i of the result is sum_j weights[i, j] * V[j]: shape (T_q, d_v)."),
        Check("copy_one_key", "a query that puts all its weight on one key copies that key's value "
                              "(query i -> key i+1, cyclically)",
              lambda rng: [Call(args=(np.roll(np.eye(4), 1, axis=1), rng.normal(size=(4, 3))))],
              oracle=_torch_context,
              hint="Rows of `weights` are queries and columns are keys: weights @ V, not weights.T @ V."),
        Check("self_attention_square", "square (5, 5) weights from self-attention and V of shape (5, 3)",
              lambda rng: [Call(args=(_softmax_rows(rng, 5, 5), rng.normal(size=(5, 3))))],
              oracle=_torch_context),
        Check("fully_masked_row", "a query with no allowed key has all-zero weights: its context vector is zero, "
                                  "not NaN",
              lambda rng: [Call(args=(np.array([[0.5, 0.0, 0.5], [0.0, 0.0, 0.0]]), rng.normal(size=(3, 4))))],
              oracle=_torch_context,
              hint="Use the weights as they come: a row of zeros gives a zero context vector. Dividing the "
                   "weights by their row sum again turns that row into 0 / 0 = NaN."),
        Check("hidden_random", "random weights and values of two shapes (T_q != T_k != d_v), one query with "
                               "all-zero weights",
              _context_hidden, points=2.0, hidden=True),
        Check("hidden_square", "random square self-attention weights and values of two shapes",
              _context_square_hidden, points=2.0, hidden=True),
    ],
)

self_attention = Exercise(
    name="self_attention",
    notebook=NOTEBOOK,
    kind="function",
    signature=("X", "W_q", "W_k", "W_v", "mask"),
    where="the `self_attention` cell of 04_context_vectors",
    forbidden=("attention", "multi_head_attention"),
    checks=[
        Check("small_example", "a sentence of 3 words, d_in=4, d_k=2, d_v=5: context and weights match",
              lambda rng: [Call(args=_projections(rng, 3, 4, 2, 5))],
              oracle=_torch_self_attention,
              hint="Q = X @ W_q, K = X @ W_k, V = X @ W_v; weights = softmax(Q K^T / sqrt(d_k)); context = weights @ V."),
        Check("shapes", "returns (context of shape (T, d_v), weights of shape (T, T)) for T=4, d_in=6, d_k=3, d_v=5",
              lambda rng: [Call(args=_projections(rng, 4, 6, 3, 5))],
              judge=_shapes,
              hint="The values come from X @ W_v, so the context has d_v = W_v.shape[1] columns."),
        Check("causal_mask", "with a causal mask, word i only attends to words 0..i",
              lambda rng: [Call(args=_projections(rng, 4, 5, 3, 2), kwargs={"mask": np.tril(np.ones((4, 4), dtype=bool))})],
              oracle=_torch_self_attention,
              hint="Pass the mask on to the attention weights: True = may attend."),
        Check("hidden_random", "random sentences and projections of two shapes, no mask",
              _self_attention_hidden, points=2.0, hidden=True),
        Check("hidden_masked", "random sentences and projections of two shapes, causal and random masks",
              _self_attention_masked_hidden, points=2.0, hidden=True),
    ],
)


# ---------------------------------------------------------------- strike_over_burn_projections
# A design exercise: the answer takes the names of the embedding's columns and returns its own
# W_q and W_k. The checks compute the attention of "match" themselves (trusted side) on several
# tables and sentences: the ratio of two softmax weights is exp(score difference), so each check
# is a bound on (q_match . k_winner - q_match . k_loser) / sqrt(d_k).

FIRE_SENTENCE = ("strike", "the", "match", "so", "it", "will", "burn")
PAST_TENSE_SENTENCE = ("he", "struck", "the", "match", "and", "it", "burned", ".")
TWICE = 2.0  # "strike" must get at least twice the weight of "burn"
# What the three words are made of (course/assets/word_features.tsv), for the messages.
FEATURES_HINT = ('read the features where they differ: "strike" is action 1, fire 0.6, sport 0.3; '
                 '"burn" is fire 1, action 0.6; "match" (the query) is fire 1, sport 1, object 0.5')


def _course_feature_names() -> list[str]:
    from course.data import FEATURE_NAMES

    return list(FEATURE_NAMES)


def _design_calls(rng):
    return [Call(args=(_course_feature_names(),))]


def _shuffled_names_calls(rng):
    """Two column orders drawn from the secret in which every feature moves: a design that
    hard-codes row numbers reads the wrong features in both."""
    names = _course_feature_names()
    calls = []
    while len(calls) < 2:
        order = rng.permutation(len(names))
        if (order != np.arange(len(names))).all() and all(call.args[0] != [names[i] for i in order] for call in calls):
            calls.append(Call(args=([names[i] for i in order],)))
    return calls


def _course_rows(words, names):
    """The course table's rows of ``words``, columns in the order of ``names``: (T, d)."""
    from course.data import FEATURE_NAMES, load_embeddings

    vocab, table = load_embeddings()
    return table[[vocab[w] for w in words]][:, [FEATURE_NAMES.index(n) for n in names]]


def _feature_rows(words, names):
    """The hand-assigned features of ``words`` (the table without its noise), columns as ``names``."""
    from course.build_embeddings import read_features
    from course.data import FEATURE_NAMES

    features = read_features()
    return np.stack([features[w] for w in words])[:, [FEATURE_NAMES.index(n) for n in names]]


def _design_problem(out, d_in: int) -> str:
    """'' for a pair of finite (d_in, d_k) matrices with one d_k; else what is wrong."""
    if not isinstance(out, list) or len(out) != 2:
        got = f"{len(out)} values" if isinstance(out, list) else type(out).__name__
        return f"expected a pair (W_q, W_k), got {got}"
    for name, W in zip(("W_q", "W_k"), out):
        if not isinstance(W, np.ndarray) or not (np.issubdtype(W.dtype, np.floating) or np.issubdtype(W.dtype, np.integer)):
            return f"{name}: expected a numpy array of numbers, got {type(W).__name__}"
        if W.ndim != 2 or W.shape[0] != d_in or W.shape[1] < 1:
            layout = (" (that is nn.Linear's (out, in) layout: in the numpy track a projection is (d_in, d_k), "
                      "applied as x @ W)" if W.ndim == 2 and W.shape[1] == d_in else "")
            return f"{name}: expected shape ({d_in}, d_k), one row per feature, got {W.shape}{layout}"
        if not np.isfinite(W).all():
            return f"{name} contains inf or NaN"
    if out[0].shape[1] != out[1].shape[1]:
        return (f"W_q is {out[0].shape} and W_k is {out[1].shape}: queries and keys are compared by a dot "
                "product, so both need the same d_k columns")
    return ""


def _design_shapes(outputs, calls) -> Comparison:
    for out, call in zip(outputs, calls):
        problem = _design_problem(out, len(call.args[0]))
        if problem:
            return Comparison(False, problem)
    return Comparison(True)


def _log_ratio(X, W_q, W_k, words, winner, loser):
    """(log(weight(winner) / weight(loser)), the weights of the query "match" over the sentence)."""
    q = X[words.index("match")] @ W_q  # (d_k,)
    scores = X @ W_k @ q / math.sqrt(W_k.shape[1])  # (T,): q . k_j / sqrt(d_k)
    weights = np.exp(scores - scores.max())
    weights /= weights.sum()
    return float(scores[words.index(winner)] - scores[words.index(loser)]), weights


def _outweighs(words, winner, loser, factor, rows):
    """Judge: for "match" in ``words``, ``winner`` gets at least ``factor`` times the weight of
    ``loser``, on the table ``rows(words, feature_names)`` (columns in the call's order)."""
    def judge(outputs, calls) -> Comparison:
        for out, call in zip(outputs, calls):
            names = call.args[0]
            problem = _design_problem(out, len(names))
            if problem:
                return Comparison(False, problem)
            W_q, W_k = (np.asarray(W, dtype=np.float64) for W in out)
            X = rows(words, names)  # (T, d_in)
            diff, weights = _log_ratio(X, W_q, W_k, list(words), winner, loser)
            if diff >= math.log(factor) - 1e-9:
                continue
            swapped, _ = _log_ratio(X, W_k, W_q, list(words), winner, loser)
            need = "at least twice" if factor == TWICE else "more than"
            message = (f'for "match" in "{" ".join(words)}", "{winner}" gets weight {weights[words.index(winner)]:.3f} '
                       f'and "{loser}" {weights[words.index(loser)]:.3f} (ratio {math.exp(max(diff, -700)):.3g}); '
                       f'"{winner}" should get {need} the weight of "{loser}". The ratio is exp(score difference), '
                       f"q_match . (k_{winner} - k_{loser}) / sqrt(d_k) = {diff:.3f} here; it must be "
                       + (f"at least ln {factor:g} = {math.log(factor):.3f}" if factor > 1 else "above 0"))
            if swapped >= math.log(factor):
                message += (". With W_q and W_k swapped it would pass: W_q makes the query (from \"match\"), "
                            "W_k the keys (from the words it looks at)")
            elif diff > 0:
                message += (f'. "{winner}" already wins, by too little: multiplying W_q (or W_k) by c multiplies '
                            "the score difference by c")
            else:
                message += f". {FEATURES_HINT}"
            return Comparison(False, message)
        return Comparison(True)

    return judge


strike_over_burn_projections = Exercise(
    name="strike_over_burn_projections",
    notebook=NOTEBOOK,
    kind="function",
    signature=("feature_names",),
    where="the `strike_over_burn_projections` cell of 04_context_vectors",
    checks=[
        Check("shapes", "returns (W_q, W_k): two arrays of shape (8, d_k), one row per feature, the same d_k",
              _design_calls, judge=_design_shapes,
              hint="Return a pair: W_q, W_k = np.zeros((len(feature_names), d_k)), np.zeros(...), then fill them."),
        Check("strike_twice_burn", 'the course table: "match" in "strike the match so it will burn" gives '
                                   '"strike" at least twice the weight of "burn"',
              _design_calls, judge=_outweighs(FIRE_SENTENCE, "strike", "burn", TWICE, _course_rows),
              hint=f"weight(strike) / weight(burn) = exp((q_match . k_strike - q_match . k_burn) / sqrt(d_k)): "
                   f"make that score difference at least ln 2 = 0.693; {FEATURES_HINT}."),
        Check("without_noise", "the same on the table without its small random noise (the hand-assigned "
                               "features of course/assets/word_features.tsv): the design reads features, not noise",
              _design_calls, judge=_outweighs(FIRE_SENTENCE, "strike", "burn", TWICE, _feature_rows),
              hint="On the raw vectors (W_q = W_k = I) strike wins by the table's noise only (0.155 vs 0.152); "
                   f"{FEATURES_HINT}."),
        Check("hidden_feature_order", "the table's columns (and feature_names) in two other orders: the design "
                                      "reads features by name, not by row number",
              _shuffled_names_calls, judge=_outweighs(FIRE_SENTENCE, "strike", "burn", TWICE, _course_rows),
              points=2.0, hidden=True,
              hint='Find each row with feature_names.index("fire"), never a hard-coded number.'),
        Check("hidden_past_tense", 'the same design in the past tense: "struck" outweighs "burned" for "match" in '
                                   '"he struck the match and it burned .", columns in a random order',
              _shuffled_names_calls, judge=_outweighs(PAST_TENSE_SENTENCE, "struck", "burned", 1.0, _course_rows),
              points=2.0, hidden=True,
              hint='"struck" and "burned" have the features of "strike" and "burn": a design that reads those '
                   "features (not the two words' exact vectors) gives the same verdict."),
    ],
)

EXERCISES = [attention_weights, context_vectors, self_attention, strike_over_burn_projections]
