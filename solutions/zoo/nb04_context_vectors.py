"""Known mistakes for notebook 04: attention_weights, context_vectors, self_attention."""
import numpy as np

from ..softmax import masked_softmax, softmax
from . import bug


@bug("attention_weights", "wrong_axis", "the softmax normalises over the queries (axis 0) instead of the keys",
     "Each row of the weights is one query: take the softmax over the last axis (the keys), axis=-1.",
     mistake="softmax_wrong_axis")
def attention_weights_wrong_axis(Q, K, mask=None):
    return masked_softmax(Q @ K.T / np.sqrt(K.shape[-1]), mask, axis=0)


@bug("attention_weights", "no_scale", "the scores are not divided by sqrt(d_k)",
     "Divide Q @ K.T by np.sqrt(d_k), with d_k = K.shape[-1], before the softmax.", mistake="missing_scale")
def attention_weights_no_scale(Q, K, mask=None):
    return masked_softmax(Q @ K.T, mask)


@bug("attention_weights", "inverted_polarity", "the mask polarity is inverted (True treated as 'blocked')",
     "In this course True means 'may attend': keep the scores where the mask is True.", mistake="mask_polarity")
def attention_weights_inverted(Q, K, mask=None):
    return masked_softmax(Q @ K.T / np.sqrt(K.shape[-1]), None if mask is None else ~np.asarray(mask))


@bug("attention_weights", "mask_after_softmax", "the mask is applied after the softmax, without renormalising",
     "Mask the scores (-inf where the mask is False) *before* the softmax, so the allowed weights still sum to 1.",
     mistake="mask_after_softmax")
def attention_weights_mask_after(Q, K, mask=None):
    weights = softmax(Q @ K.T / np.sqrt(K.shape[-1]))
    return weights if mask is None else np.where(mask, weights, 0.0)


@bug("attention_weights", "nan_rows", "a fully masked row gives NaN (0/0) instead of zeros",
     "When a query has no allowed key its max is -inf: give such rows all-zero weights (masked_softmax does).",
     mistake="nan_fully_masked")
def attention_weights_nan(Q, K, mask=None):
    scores = Q @ K.T / np.sqrt(K.shape[-1])
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    with np.errstate(invalid="ignore"):
        exp = np.exp(scores - scores.max(axis=-1, keepdims=True))
        return exp / exp.sum(axis=-1, keepdims=True)


@bug("attention_weights", "fill_zero", "masked scores are set to 0 instead of -inf, so masked keys still get weight",
     "A score of 0 is an ordinary score (exp(0) = 1): put -np.inf where the mask is False, before the softmax.",
     mistake="fill_zero")
def attention_weights_fill_zero(Q, K, mask=None):
    scores = Q @ K.T / np.sqrt(K.shape[-1])
    return softmax(scores if mask is None else np.where(mask, scores, 0.0))


@bug("attention_weights", "scores_transposed", "the scores are K @ Q.T, transposed: row i belongs to key i, not "
     "to query i",
     "scores[i, j] = Q[i] . K[j] (query i asks, key j answers): Q @ K.T, of shape (T_q, T_k).",
     mistake="relevance_transposed")
def attention_weights_transposed(Q, K, mask=None):
    return masked_softmax(K @ Q.T / np.sqrt(K.shape[-1]), mask)


@bug("attention_weights", "scale_after_softmax", "the weights are divided by sqrt(d_k) after the softmax instead of "
     "the scores before it",
     "Scale the scores, then normalise: softmax(Q @ K.T / sqrt(d_k)). Dividing the weights afterwards leaves rows "
     "that sum to 1/sqrt(d_k).")
def attention_weights_scale_after(Q, K, mask=None):
    return masked_softmax(Q @ K.T, mask) / np.sqrt(K.shape[-1])


@bug("attention_weights", "mask_ignored", "the `mask` argument is accepted but never used",
     "Pass the mask on: put -inf where it is False before the softmax (masked_softmax(scores, mask)).")
def attention_weights_mask_ignored(Q, K, mask=None):
    return softmax(Q @ K.T / np.sqrt(K.shape[-1]))


@bug("context_vectors", "transposed_weights", "the weights are transposed: weights.T @ V sums over the queries",
     "Rows of `weights` are queries, columns are keys: context = weights @ V, row i = sum_j weights[i, j] V[j].")
def context_vectors_transposed(weights, V):
    return weights.T @ V


@bug("context_vectors", "values_on_the_left", "V is multiplied from the left (V.T @ weights.T): the context comes out transposed, (d_v, T_q)",
     "Put the weights first: weights @ V has one row per query, shape (T_q, d_v).")
def context_vectors_values_left(weights, V):
    return V.T @ weights.T


@bug("context_vectors", "overwrite_not_accumulate", "the loop overwrites instead of adding up: only the last key's value is kept",
     "Inside the loop over keys use `+=` (start from zeros), or simply return weights @ V.")
def context_vectors_overwrite(weights, V):
    out = np.zeros((weights.shape[0], V.shape[1]))
    for i in range(weights.shape[0]):
        for j in range(weights.shape[1]):
            out[i] = weights[i, j] * V[j]
    return out


@bug("context_vectors", "renormalised", "the weights are renormalised inside context_vectors, so a fully masked "
     "(all-zero) row becomes NaN (0 / 0)",
     "The weights already sum to 1 (or are all 0 for a query with no allowed key): use them as they are, "
     "context = weights @ V. Dividing by their sum turns an all-zero row into NaN.", mistake="nan_fully_masked")
def context_vectors_renormalised(weights, V):
    with np.errstate(invalid="ignore", divide="ignore"):
        return weights / weights.sum(axis=-1, keepdims=True) @ V


@bug("context_vectors", "elementwise", "weights * V multiplies entry by entry instead of the matrix product",
     "`*` pairs entries of equal position; the context is a matrix product: weights @ V, (T_q, T_k) @ (T_k, d_v).")
def context_vectors_elementwise(weights, V):
    return weights * V


def _attend(Q, K, V, mask, scale):
    weights = masked_softmax(Q @ K.T / scale, mask)
    return weights @ V, weights


@bug("self_attention", "queries_keys_swapped", "queries and keys are swapped (Q from W_k, K from W_q): the scores are transposed",
     "Q = X @ W_q (who is asking) and K = X @ W_k (who is being looked at); scores = Q @ K.T.",
     mistake="relevance_transposed")
def self_attention_swapped(X, W_q, W_k, W_v, mask=None):
    return _attend(X @ W_k, X @ W_q, X @ W_v, mask, np.sqrt(W_k.shape[1]))


@bug("self_attention", "values_from_keys", "the values are taken from the keys (V = X @ W_k instead of X @ W_v)",
     "The context mixes the *values*: V = X @ W_v, which has d_v = W_v.shape[1] columns.", mistake="qkv_swapped")
def self_attention_values_from_keys(X, W_q, W_k, W_v, mask=None):
    K = X @ W_k
    return _attend(X @ W_q, K, K, mask, np.sqrt(W_k.shape[1]))


@bug("self_attention", "scale_by_d_in", "the scores are divided by sqrt(d_in) instead of sqrt(d_k)",
     "d_k is the width of the queries and keys (W_q.shape[1]), not of the input words (X.shape[1]).",
     mistake="missing_scale")
def self_attention_scale_d_in(X, W_q, W_k, W_v, mask=None):
    return _attend(X @ W_q, X @ W_k, X @ W_v, mask, np.sqrt(X.shape[1]))


@bug("self_attention", "inverted_polarity", "the mask polarity is inverted (True treated as 'blocked')",
     "In this course True means 'may attend': keep the scores where the mask is True.", mistake="mask_polarity")
def self_attention_inverted(X, W_q, W_k, W_v, mask=None):
    mask = None if mask is None else ~np.asarray(mask)
    return _attend(X @ W_q, X @ W_k, X @ W_v, mask, np.sqrt(W_k.shape[1]))


@bug("self_attention", "wrong_axis", "the softmax normalises over the queries (axis 0) instead of the keys",
     "Each row of the weights is one query: softmax over the last axis (the keys), so that every row sums to 1.",
     mistake="softmax_wrong_axis")
def self_attention_wrong_axis(X, W_q, W_k, W_v, mask=None):
    weights = masked_softmax((X @ W_q) @ (X @ W_k).T / np.sqrt(W_k.shape[1]), mask, axis=0)
    return weights @ (X @ W_v), weights


@bug("self_attention", "mask_after_softmax", "the mask is applied after the softmax, without renormalising",
     "Mask the scores (-inf where the mask is False) *before* the softmax, so the allowed weights still sum to 1.",
     mistake="mask_after_softmax")
def self_attention_mask_after(X, W_q, W_k, W_v, mask=None):
    weights = softmax((X @ W_q) @ (X @ W_k).T / np.sqrt(W_k.shape[1]))
    if mask is not None:
        weights = np.where(mask, weights, 0.0)
    return weights @ (X @ W_v), weights


@bug("self_attention", "projections_transposed", "the projections are applied as X @ W.T (PyTorch's nn.Linear "
     "convention) instead of X @ W",
     "In the numpy track projections are (d_in, d_out) and applied as X @ W: Q = X @ W_q, no .T "
     "((T, d_in) @ (d_k, d_in) only works when d_in = d_k).", mistake="weight_not_transposed")
def self_attention_projections_transposed(X, W_q, W_k, W_v, mask=None):
    return _attend(X @ W_q.T, X @ W_k.T, X @ W_v.T, mask, np.sqrt(W_k.shape[1]))


@bug("self_attention", "mask_ignored", "the `mask` argument is accepted but never used",
     "Pass the mask on to the attention weights (True = may attend): masked_softmax(scores, mask).")
def self_attention_mask_ignored(X, W_q, W_k, W_v, mask=None):
    return _attend(X @ W_q, X @ W_k, X @ W_v, None, np.sqrt(W_k.shape[1]))


# ------------------------------------------------------------------ strike_over_burn_projections
# A design exercise: each entry is a design a student may hand in. The reference reads the
# query's fire feature (W_q) and the keys' action feature (W_k), both with weight 2.

@bug("strike_over_burn_projections", "swapped", "W_q and W_k are swapped: the query reads what the keys should "
     "(action) and the keys what the query should (fire)",
     'W_q makes the query of "match" (fire 1, sport 1, object 0.5), W_k the keys of "strike" and "burn": '
     'the feature that tells strike from burn (action: 1 against 0.6) belongs in W_k.')
def strike_over_burn_swapped(feature_names):
    fire, action = feature_names.index("fire"), feature_names.index("action")
    W_q = np.zeros((len(feature_names), 1))
    W_q[action, 0] = 2.0
    W_k = np.zeros((len(feature_names), 1))
    W_k[fire, 0] = 2.0
    return W_q, W_k


@bug("strike_over_burn_projections", "raw_vectors", "identity projections: the property was checked on the raw "
     "vectors, where strike wins by the table's noise only (0.155 against 0.152)",
     "With W_q = W_k = I the scores are the plain dot products: strike 1.010 against burn 0.957 on the course "
     "table, but burn wins on the features without noise. Read the features where strike and burn differ "
     "(action, sport, fire) and make their score difference at least ln 2 = 0.693.")
def strike_over_burn_raw_vectors(feature_names):
    return np.eye(len(feature_names)), np.eye(len(feature_names))


@bug("strike_over_burn_projections", "too_weak", "the right features, but a score difference too small to survive "
     "the softmax: strike wins by a factor 1.4, not 2",
     "The ratio of two weights is exp(score difference / sqrt(d_k)): with weights of 1 the difference is about "
     "0.33. Multiply W_q or W_k by a constant (the difference grows with it) until it is at least ln 2 = 0.693.")
def strike_over_burn_too_weak(feature_names):
    W_q = np.zeros((len(feature_names), 1))
    W_q[feature_names.index("fire"), 0] = 1.0
    W_k = np.zeros((len(feature_names), 1))
    W_k[feature_names.index("action"), 0] = 1.0
    return W_q, W_k


@bug("strike_over_burn_projections", "linear_layout", "the matrices have nn.Linear's (out, in) layout, (d_k, d_in), "
     "instead of (d_in, d_k)",
     "In the numpy track a projection is (d_in, d_k) and applied as x @ W: one row per feature, one column per "
     "query/key number.")
def strike_over_burn_linear_layout(feature_names):
    W_q = np.zeros((1, len(feature_names)))
    W_q[0, feature_names.index("fire")] = 2.0
    W_k = np.zeros((1, len(feature_names)))
    W_k[0, feature_names.index("action")] = 2.0
    return W_q, W_k


@bug("strike_over_burn_projections", "hard_coded_rows", "the feature rows are hard-coded numbers (0 for fire, "
     "4 for action) instead of being looked up in feature_names",
     'Find each row by name, feature_names.index("fire"): the grader also uses tables whose columns come in '
     "another order.")
def strike_over_burn_hard_coded(feature_names):
    W_q = np.zeros((8, 1))
    W_q[0, 0] = 2.0  # fire in the course's column order
    W_k = np.zeros((8, 1))
    W_k[4, 0] = 2.0  # action in the course's column order
    return W_q, W_k
