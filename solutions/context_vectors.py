"""Notebook 04: context vectors, the weighted combination of transformed word vectors (numpy track).

Projection matrices are ``(d_in, d_out)`` and applied as ``X @ W`` in this track.
"""
import numpy as np

from .softmax import masked_softmax


def attention_weights(Q: np.ndarray, K: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """A = masked_softmax(Q K^T / sqrt(d_k)), one row of weights per query.

    Q: ``(T_q, d_k)``, K: ``(T_k, d_k)``, mask: bool broadcastable to ``(T_q, T_k)``
    (True = may attend). Returns ``(T_q, T_k)``; each row sums to 1 (or is all 0
    when fully masked).
    """
    d_k = K.shape[-1]
    scores = Q @ K.T / np.sqrt(d_k)  # (T_q, T_k)
    return masked_softmax(scores, mask, axis=-1)


def context_vectors(weights: np.ndarray, V: np.ndarray) -> np.ndarray:
    """C = A V: row i is sum_j A[i, j] V[j].

    weights: ``(T_q, T_k)``, V: ``(T_k, d_v)``. Returns ``(T_q, d_v)``.
    """
    return weights @ V  # (T_q, T_k) @ (T_k, d_v) -> (T_q, d_v)


def self_attention(
    X: np.ndarray,
    W_q: np.ndarray,
    W_k: np.ndarray,
    W_v: np.ndarray,
    mask: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Self-attention of a sentence with itself.

    Q = X W_q, K = X W_k, V = X W_v; A = masked_softmax(Q K^T / sqrt(d_k)); C = A V.
    X: ``(T, d_in)``; W_q, W_k: ``(d_in, d_k)``; W_v: ``(d_in, d_v)``.
    Returns ``(C (T, d_v), A (T, T))``.
    """
    Q = X @ W_q  # (T, d_k)
    K = X @ W_k  # (T, d_k)
    V = X @ W_v  # (T, d_v)
    weights = attention_weights(Q, K, mask)  # (T, T)
    return context_vectors(weights, V), weights


def strike_over_burn_projections(feature_names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Hand-made W_q, W_k with which "match" gives "strike" at least twice the weight of "burn".

    In "strike the match so it will burn", with q = x_match W_q and k_j = x_j W_k, the softmax gives
    weight(strike) / weight(burn) = exp((q . k_strike - q . k_burn) / sqrt(d_k)) >= 2.
    feature_names: the names of the embedding's columns, in order (d_in = len(feature_names)).
    Returns ``(W_q, W_k)``, both ``(d_in, d_k)`` for a d_k of your choice, applied as ``x @ W``.
    """
    fire, action = feature_names.index("fire"), feature_names.index("action")
    W_q = np.zeros((len(feature_names), 1))  # (d_in, d_k = 1): the query asks "how much fire am I?"
    W_q[fire, 0] = 2.0
    W_k = np.zeros((len(feature_names), 1))  # the key answers "how much of an action am I?"
    W_k[action, 0] = 2.0  # strike is action 1, burn only 0.6: q . (k_strike - k_burn) = 2 * 2 * 0.4
    return W_q, W_k
