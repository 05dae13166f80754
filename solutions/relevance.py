"""Notebook 02: a relevance function G(word_i, word_j) between two word vectors (numpy track).

The dot product is the simplest relevance: large when two vectors point the same
way. Its spread grows with the dimension d (the variance of a dot product of two
random unit-variance vectors is d), so attention divides it by sqrt(d).
"""
import numpy as np


def relevance(query: np.ndarray, key: np.ndarray) -> float:
    """G(key | query) = query . key for two vectors of shape ``(d,)``."""
    return float(np.dot(query, key))


def relevance_matrix(X: np.ndarray) -> np.ndarray:
    """All pairwise relevances: ``R[i, j] = X[i] . X[j]``.

    X: ``(T, d)``. Returns ``(T, T)``; row i scores every word j for word i.
    """
    return X @ X.T  # (T, d) @ (d, T) -> (T, T)


def scaled_relevance_matrix(X: np.ndarray) -> np.ndarray:
    """``R[i, j] = X[i] . X[j] / sqrt(d)``, keeping the scores' spread independent of d.

    X: ``(T, d)``. Returns ``(T, T)``.
    """
    d = X.shape[-1]
    return X @ X.T / np.sqrt(d)  # (T, T)


def bilinear_relevance(x_i: np.ndarray, x_j: np.ndarray, W_q: np.ndarray, W_k: np.ndarray) -> float:
    """G(x_j | x_i) = (x_i W_q) . (x_j W_k): an asymmetric, learnable relevance.

    x_i, x_j: ``(d_in,)``; W_q, W_k: ``(d_in, d_k)`` (numpy track: applied as ``x @ W``).
    Swapping the words changes the score unless W_q W_k^T is symmetric.
    """
    query = x_i @ W_q  # (d_k,)
    key = x_j @ W_k  # (d_k,)
    return float(np.dot(query, key))
