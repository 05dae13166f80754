"""Correct answers in other styles for notebook 04."""
import math

import numpy as np

from . import variant


@variant("attention_weights", "loops")
def attention_weights_loops(Q, K, mask=None):
    t_q, t_k, d_k = Q.shape[0], K.shape[0], K.shape[1]
    allowed = np.ones((t_q, t_k), dtype=bool) if mask is None else np.broadcast_to(mask, (t_q, t_k))
    out = np.zeros((t_q, t_k))
    for i in range(t_q):
        scores = {j: sum(Q[i, c] * K[j, c] for c in range(d_k)) / math.sqrt(d_k) for j in range(t_k) if allowed[i, j]}
        if not scores:
            continue  # no allowed key: the row stays zero
        top = max(scores.values())
        total = sum(math.exp(s - top) for s in scores.values())
        for j, s in scores.items():
            out[i, j] = math.exp(s - top) / total
    return out


@variant("attention_weights", "einsum_prescaled")
def attention_weights_einsum(Q, K, mask=None):
    # Scale the queries first: same scores, another order of operations.
    scores = np.einsum("qd,kd->qk", Q / np.sqrt(K.shape[-1]), K)
    allowed = np.ones(scores.shape, dtype=bool) if mask is None else np.broadcast_to(mask, scores.shape)
    filled = np.where(allowed, scores, np.finfo(scores.dtype).min)
    exp = np.exp(filled - filled.max(axis=-1, keepdims=True)) * allowed
    total = exp.sum(axis=-1, keepdims=True)
    return np.divide(exp, total, out=np.zeros_like(exp), where=total > 0)


@variant("attention_weights", "float32")
def attention_weights_float32(Q, K, mask=None):
    scores = (Q.astype(np.float32) @ K.astype(np.float32).T) / np.float32(np.sqrt(K.shape[-1]))
    if mask is not None:
        scores = np.where(mask, scores, np.float32(-np.inf))
    top = scores.max(axis=-1, keepdims=True)
    exp = np.exp(scores - np.where(np.isfinite(top), top, np.float32(0)))
    total = exp.sum(axis=-1, keepdims=True)
    return exp / np.where(total > 0, total, np.float32(1))


@variant("context_vectors", "loops")
def context_vectors_loops(weights, V):
    out = np.zeros((weights.shape[0], V.shape[1]))
    for i in range(weights.shape[0]):
        for j in range(weights.shape[1]):
            out[i] += weights[i, j] * V[j]
    return out


@variant("context_vectors", "einsum")
def context_vectors_einsum(weights, V):
    return np.einsum("qk,kd->qd", weights, V)


@variant("context_vectors", "transpose_twice")
def context_vectors_transpose_twice(weights, V):
    return (V.T @ weights.T).T  # (A V)^T = V^T A^T


@variant("context_vectors", "float32")
def context_vectors_float32(weights, V):
    return weights.astype(np.float32) @ V.astype(np.float32)


@variant("self_attention", "loops")
def self_attention_loops(X, W_q, W_k, W_v, mask=None):
    T = X.shape[0]
    Q, K, V = X @ W_q, X @ W_k, X @ W_v
    allowed = np.ones((T, T), dtype=bool) if mask is None else np.broadcast_to(mask, (T, T))
    weights = np.zeros((T, T))
    context = np.zeros((T, V.shape[1]))
    for i in range(T):
        keys = [j for j in range(T) if allowed[i, j]]
        if not keys:
            continue
        scores = np.array([Q[i] @ K[j] for j in keys]) / math.sqrt(K.shape[1])
        exp = np.exp(scores - scores.max())
        weights[i, keys] = exp / exp.sum()
        for j in keys:
            context[i] += weights[i, j] * V[j]
    return context, weights


@variant("self_attention", "einsum_fused")
def self_attention_einsum(X, W_q, W_k, W_v, mask=None):
    # Fold the projections into one bilinear form: scores = X (W_q W_k^T) X^T / sqrt(d_k).
    scores = np.einsum("id,de,je->ij", X, W_q @ W_k.T, X) / np.sqrt(W_k.shape[1])
    allowed = np.ones(scores.shape, dtype=bool) if mask is None else np.broadcast_to(mask, scores.shape)
    filled = np.where(allowed, scores, np.finfo(scores.dtype).min)
    exp = np.exp(filled - filled.max(axis=-1, keepdims=True)) * allowed
    total = exp.sum(axis=-1, keepdims=True)
    weights = np.divide(exp, total, out=np.zeros_like(exp), where=total > 0)
    return weights @ X @ W_v, weights


@variant("self_attention", "float32")
def self_attention_float32(X, W_q, W_k, W_v, mask=None):
    X, W_q, W_k, W_v = (a.astype(np.float32) for a in (X, W_q, W_k, W_v))
    Q, K, V = X @ W_q, X @ W_k, X @ W_v
    scores = Q @ K.T / np.float32(np.sqrt(K.shape[1]))
    if mask is not None:
        scores = np.where(mask, scores, np.float32(-np.inf))
    top = scores.max(axis=-1, keepdims=True)
    exp = np.exp(scores - np.where(np.isfinite(top), top, np.float32(0)))
    total = exp.sum(axis=-1, keepdims=True)
    weights = exp / np.where(total > 0, total, np.float32(1))
    return weights @ V, weights


@variant("attention_weights", "float32_inside")
def attention_weights_float32_inside(Q, K, mask=None):
    # Computed in float32, returned in the inputs' dtype (float64).
    scores = Q.astype(np.float32) @ K.astype(np.float32).T / np.float32(np.sqrt(K.shape[-1]))  # (T_q, T_k)
    allowed = np.ones(scores.shape, dtype=bool) if mask is None else np.broadcast_to(mask, scores.shape)
    filled = np.where(allowed, scores, np.float32(-np.inf))
    top = filled.max(axis=-1, keepdims=True)
    exp = np.exp(filled - np.where(np.isfinite(top), top, np.float32(0.0)))  # masked keys: exp(-inf) = 0
    total = exp.sum(axis=-1, keepdims=True)
    weights = exp / np.where(total > 0, total, np.float32(1.0))
    return weights.astype(Q.dtype)


@variant("strike_over_burn_projections", "sport_feature")
def strike_over_burn_sport(feature_names):
    # Another feature tells them apart: strike has sport 0.3, burn none; "match" is sport 1.
    sport = feature_names.index("sport")
    W_q = np.zeros((len(feature_names), 1))
    W_k = np.zeros((len(feature_names), 1))
    W_q[sport, 0] = W_k[sport, 0] = 2.0
    return W_q, W_k


@variant("strike_over_burn_projections", "notebook_design_plus_action")
def strike_over_burn_notebook_design(feature_names):
    # The notebook's hand-made pair (d_k = 2), with the keys also answering "am I an action?".
    index = {name: i for i, name in enumerate(feature_names)}
    W_q = np.zeros((len(feature_names), 2))
    W_q[index["fire"], 0] = 2.0
    W_q[index["sport"], 1] = 2.0
    W_k = W_q.copy()
    W_k[index["object"], :] = -4.0
    W_k[index["action"], :] = 2.0
    return W_q, W_k


@variant("strike_over_burn_projections", "less_fire_float32")
def strike_over_burn_less_fire(feature_names):
    # Burn is more fire than strike (1 against 0.6): keys that answer with *minus* their fire.
    entries = {("fire", "query"): 3.0, ("fire", "key"): -3.0}
    W_q = np.zeros((len(feature_names), 3), dtype=np.float32)  # d_k = 3: two columns stay unused
    W_k = np.zeros((len(feature_names), 3), dtype=np.float32)
    for (feature, role), value in entries.items():
        (W_q if role == "query" else W_k)[feature_names.index(feature), 0] = value
    return W_q, W_k
