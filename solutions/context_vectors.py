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
