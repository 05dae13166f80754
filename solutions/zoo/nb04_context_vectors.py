"""Known mistakes for notebook 04: attention_weights, context_vectors, self_attention."""
import numpy as np

from ..softmax import masked_softmax, softmax
from . import bug


@bug("attention_weights", "wrong_axis", "the softmax normalises over the queries (axis 0) instead of the keys",
     "Each row of the weights is one query: take the softmax over the last axis (the keys), axis=-1.")
def attention_weights_wrong_axis(Q, K, mask=None):
    return masked_softmax(Q @ K.T / np.sqrt(K.shape[-1]), mask, axis=0)


@bug("attention_weights", "no_scale", "the scores are not divided by sqrt(d_k)",
     "Divide Q @ K.T by np.sqrt(d_k), with d_k = K.shape[-1], before the softmax.")
def attention_weights_no_scale(Q, K, mask=None):
    return masked_softmax(Q @ K.T, mask)


@bug("attention_weights", "inverted_polarity", "the mask polarity is inverted (True treated as 'blocked')",
     "In this course True means 'may attend': keep the scores where the mask is True.")
def attention_weights_inverted(Q, K, mask=None):
    return masked_softmax(Q @ K.T / np.sqrt(K.shape[-1]), None if mask is None else ~np.asarray(mask))


@bug("attention_weights", "mask_after_softmax", "the mask is applied after the softmax, without renormalising",
     "Mask the scores (-inf where the mask is False) *before* the softmax, so the allowed weights still sum to 1.")
def attention_weights_mask_after(Q, K, mask=None):
    weights = softmax(Q @ K.T / np.sqrt(K.shape[-1]))
    return weights if mask is None else np.where(mask, weights, 0.0)


@bug("attention_weights", "nan_rows", "a fully masked row gives NaN (0/0) instead of zeros",
     "When a query has no allowed key its max is -inf: give such rows all-zero weights (masked_softmax does).")
def attention_weights_nan(Q, K, mask=None):
    scores = Q @ K.T / np.sqrt(K.shape[-1])
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    with np.errstate(invalid="ignore"):
        exp = np.exp(scores - scores.max(axis=-1, keepdims=True))
        return exp / exp.sum(axis=-1, keepdims=True)


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


def _attend(Q, K, V, mask, scale):
    weights = masked_softmax(Q @ K.T / scale, mask)
    return weights @ V, weights


@bug("self_attention", "queries_keys_swapped", "queries and keys are swapped (Q from W_k, K from W_q): the scores are transposed",
     "Q = X @ W_q (who is asking) and K = X @ W_k (who is being looked at); scores = Q @ K.T.")
def self_attention_swapped(X, W_q, W_k, W_v, mask=None):
    return _attend(X @ W_k, X @ W_q, X @ W_v, mask, np.sqrt(W_k.shape[1]))


@bug("self_attention", "values_from_keys", "the values are taken from the keys (V = X @ W_k instead of X @ W_v)",
     "The context mixes the *values*: V = X @ W_v, which has d_v = W_v.shape[1] columns.")
def self_attention_values_from_keys(X, W_q, W_k, W_v, mask=None):
    K = X @ W_k
    return _attend(X @ W_q, K, K, mask, np.sqrt(W_k.shape[1]))


@bug("self_attention", "scale_by_d_in", "the scores are divided by sqrt(d_in) instead of sqrt(d_k)",
     "d_k is the width of the queries and keys (W_q.shape[1]), not of the input words (X.shape[1]).")
def self_attention_scale_d_in(X, W_q, W_k, W_v, mask=None):
    return _attend(X @ W_q, X @ W_k, X @ W_v, mask, np.sqrt(X.shape[1]))


@bug("self_attention", "inverted_polarity", "the mask polarity is inverted (True treated as 'blocked')",
     "In this course True means 'may attend': keep the scores where the mask is True.")
def self_attention_inverted(X, W_q, W_k, W_v, mask=None):
    mask = None if mask is None else ~np.asarray(mask)
    return _attend(X @ W_q, X @ W_k, X @ W_v, mask, np.sqrt(W_k.shape[1]))
