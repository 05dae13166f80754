"""Notebook 03: from relevance scores to weights that add up to one (numpy track)."""
import numpy as np


def softmax(scores: np.ndarray, axis: int = -1) -> np.ndarray:
    """softmax(s)_j = exp(s_j) / sum_k exp(s_k) along ``axis``.

    Subtracting the maximum first changes nothing mathematically (it cancels in the
    ratio) but keeps exp() from overflowing: exp(1000) is inf in float64.
    """
    shifted = scores - np.max(scores, axis=axis, keepdims=True)
    exp = np.exp(shifted)
    return exp / np.sum(exp, axis=axis, keepdims=True)


def masked_softmax(scores: np.ndarray, mask: np.ndarray | None, axis: int = -1) -> np.ndarray:
    """Softmax over the positions where ``mask`` is True ("may attend").

    Masked positions get weight exactly 0 and the others are renormalised to sum
    to 1. A row with no allowed position gets all-zero weights, never NaN.
    ``mask`` is boolean and broadcastable to ``scores``.
    """
    if mask is None:
        return softmax(scores, axis=axis)
    scores, mask = np.broadcast_arrays(scores, np.asarray(mask, dtype=bool))
    masked = np.where(mask, scores, -np.inf)
    row_max = np.max(masked, axis=axis, keepdims=True)
    row_max = np.where(np.isfinite(row_max), row_max, 0.0)  # fully masked rows: max is -inf
    exp = np.where(mask, np.exp(masked - row_max), 0.0)
    total = np.sum(exp, axis=axis, keepdims=True)
    return exp / np.where(total > 0, total, 1.0)  # 0 / 1 = 0 for fully masked rows


def causal_mask(T: int) -> np.ndarray:
    """``(T, T)`` boolean mask, True on and below the diagonal: word i may attend to words 0..i."""
    return np.tril(np.ones((T, T), dtype=bool))
