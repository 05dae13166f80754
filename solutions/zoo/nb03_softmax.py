"""Known mistakes for notebook 03: softmax, masked_softmax, causal_mask."""
import numpy as np

from . import bug


@bug("softmax", "wrong_axis", "softmax normalises over the wrong axis (columns instead of rows)",
     "Take the max and the sum over `axis` (the keys, -1 by default), with keepdims=True.")
def softmax_wrong_axis(scores, axis=-1):
    exp = np.exp(scores - np.max(scores, axis=0, keepdims=True))
    return exp / np.sum(exp, axis=0, keepdims=True)


@bug("softmax", "unstable", "softmax without subtracting the maximum: exp overflows for large scores",
     "exp(1000) is inf; subtract the row maximum before exp, it cancels in the ratio.")
def softmax_unstable(scores, axis=-1):
    with np.errstate(over="ignore", invalid="ignore"):
        exp = np.exp(scores)
        return exp / np.sum(exp, axis=axis, keepdims=True)


@bug("softmax", "ignores_axis", "softmax ignores its `axis` argument (always the last axis)",
     "Pass `axis` to np.max and np.sum instead of a hard-coded -1.")
def softmax_ignores_axis(scores, axis=-1):
    exp = np.exp(scores - np.max(scores, axis=-1, keepdims=True))
    return exp / np.sum(exp, axis=-1, keepdims=True)


@bug("masked_softmax", "mask_after_softmax", "the mask is applied after the softmax, without renormalising",
     "Put -inf on masked scores *before* the softmax, so the allowed weights still sum to 1.")
def masked_softmax_after(scores, mask, axis=-1):
    exp = np.exp(scores - np.max(scores, axis=axis, keepdims=True))
    weights = exp / np.sum(exp, axis=axis, keepdims=True)
    return np.where(mask, weights, 0.0)


@bug("masked_softmax", "inverted_polarity", "the mask polarity is inverted (True treated as 'blocked')",
     "In this course True means 'may attend': keep the scores where mask is True.")
def masked_softmax_inverted(scores, mask, axis=-1):
    mask = ~np.broadcast_to(mask, scores.shape)
    masked = np.where(mask, scores, -np.inf)
    row_max = np.max(masked, axis=axis, keepdims=True)
    row_max = np.where(np.isfinite(row_max), row_max, 0.0)
    exp = np.where(mask, np.exp(masked - row_max), 0.0)
    total = np.sum(exp, axis=axis, keepdims=True)
    return exp / np.where(total > 0, total, 1.0)


@bug("masked_softmax", "fill_zero", "masked scores are set to 0 instead of -inf, so masked keys still get weight",
     "A score of 0 is an ordinary score (exp(0) = 1); use -np.inf so that exp gives exactly 0.")
def masked_softmax_fill_zero(scores, mask, axis=-1):
    masked = np.where(mask, scores, 0.0)
    exp = np.exp(masked - np.max(masked, axis=axis, keepdims=True))
    return exp / np.sum(exp, axis=axis, keepdims=True)


@bug("masked_softmax", "nan_rows", "a fully masked row gives NaN (0/0) instead of zeros",
     "When a row has no allowed key, its max is -inf; replace it by 0 and divide by 1 for such rows.")
def masked_softmax_nan(scores, mask, axis=-1):
    masked = np.where(mask, scores, -np.inf)
    with np.errstate(invalid="ignore"):
        exp = np.exp(masked - np.max(masked, axis=axis, keepdims=True))
        return exp / np.sum(exp, axis=axis, keepdims=True)


@bug("causal_mask", "diagonal_excluded", "the causal mask is off by one: the diagonal is excluded (a word cannot see itself)",
     "Word i may attend to words 0..i *including* itself: np.tril keeps the diagonal (k=0).")
def causal_mask_no_diagonal(T):
    return np.tril(np.ones((T, T), dtype=bool), k=-1)


@bug("causal_mask", "upper_triangle", "the causal mask is transposed: it lets words see the future, not the past",
     "Row i is the query: it may attend to columns 0..i, the lower triangle (np.tril), not np.triu.")
def causal_mask_upper(T):
    return np.triu(np.ones((T, T), dtype=bool))


@bug("causal_mask", "float_mask", "the mask holds 0.0/1.0 floats instead of booleans",
     "Masks are boolean in this course: np.tril(np.ones((T, T), dtype=bool)).")
def causal_mask_float(T):
    return np.tril(np.ones((T, T)))
