"""Known mistakes for notebook 03: softmax, masked_softmax, causal_mask."""
import numpy as np

from . import bug


@bug("softmax", "wrong_axis", "softmax normalises over the wrong axis (columns instead of rows)",
     "Take the max and the sum over `axis` (the keys, -1 by default), with keepdims=True.",
     mistake="softmax_wrong_axis")
def softmax_wrong_axis(scores, axis=-1):
    exp = np.exp(scores - np.max(scores, axis=0, keepdims=True))
    return exp / np.sum(exp, axis=0, keepdims=True)


@bug("softmax", "unstable", "softmax without subtracting the maximum: exp overflows for large scores",
     "exp(1000) is inf; subtract the row maximum before exp, it cancels in the ratio.",
     mistake="unstable_softmax")
def softmax_unstable(scores, axis=-1):
    with np.errstate(over="ignore", invalid="ignore"):
        exp = np.exp(scores)
        return exp / np.sum(exp, axis=axis, keepdims=True)


@bug("softmax", "ignores_axis", "softmax ignores its `axis` argument (always the last axis)",
     "Pass `axis` to np.max and np.sum instead of a hard-coded -1.")
def softmax_ignores_axis(scores, axis=-1):
    exp = np.exp(scores - np.max(scores, axis=-1, keepdims=True))
    return exp / np.sum(exp, axis=-1, keepdims=True)


@bug("softmax", "sum_without_keepdims", "the sum is taken without keepdims=True, so it does not broadcast back "
     "over the rows",
     "exp.sum(axis=axis) drops the summed axis: (rows, cols) becomes (rows,), which cannot divide (rows, cols). "
     "Write exp.sum(axis=axis, keepdims=True) (the same for the max).")
def softmax_sum_without_keepdims(scores, axis=-1):
    exp = np.exp(scores - np.max(scores, axis=axis, keepdims=True))
    return exp / np.sum(exp, axis=axis)


@bug("masked_softmax", "mask_after_softmax", "the mask is applied after the softmax, without renormalising",
     "Put -inf on masked scores *before* the softmax, so the allowed weights still sum to 1.",
     mistake="mask_after_softmax")
def masked_softmax_after(scores, mask, axis=-1):
    exp = np.exp(scores - np.max(scores, axis=axis, keepdims=True))
    weights = exp / np.sum(exp, axis=axis, keepdims=True)
    return np.where(mask, weights, 0.0)


@bug("masked_softmax", "inverted_polarity", "the mask polarity is inverted (True treated as 'blocked')",
     "In this course True means 'may attend': keep the scores where mask is True.", mistake="mask_polarity")
def masked_softmax_inverted(scores, mask, axis=-1):
    mask = ~np.broadcast_to(mask, scores.shape)
    masked = np.where(mask, scores, -np.inf)
    row_max = np.max(masked, axis=axis, keepdims=True)
    row_max = np.where(np.isfinite(row_max), row_max, 0.0)
    exp = np.where(mask, np.exp(masked - row_max), 0.0)
    total = np.sum(exp, axis=axis, keepdims=True)
    return exp / np.where(total > 0, total, 1.0)


@bug("masked_softmax", "fill_zero", "masked scores are set to 0 instead of -inf, so masked keys still get weight",
     "A score of 0 is an ordinary score (exp(0) = 1); use -np.inf so that exp gives exactly 0.",
     mistake="fill_zero")
def masked_softmax_fill_zero(scores, mask, axis=-1):
    masked = np.where(mask, scores, 0.0)
    exp = np.exp(masked - np.max(masked, axis=axis, keepdims=True))
    return exp / np.sum(exp, axis=axis, keepdims=True)


@bug("masked_softmax", "nan_rows", "a fully masked row gives NaN (0/0) instead of zeros",
     "When a row has no allowed key, its max is -inf; replace it by 0 and divide by 1 for such rows.",
     mistake="nan_fully_masked")
def masked_softmax_nan(scores, mask, axis=-1):
    masked = np.where(mask, scores, -np.inf)
    with np.errstate(invalid="ignore"):
        exp = np.exp(masked - np.max(masked, axis=axis, keepdims=True))
        return exp / np.sum(exp, axis=axis, keepdims=True)


@bug("masked_softmax", "wrong_axis", "the masked softmax normalises over axis 0 (the queries) instead of `axis`",
     "Take the max and the sum over `axis` (-1 by default: the keys of each query), with keepdims=True.",
     mistake="softmax_wrong_axis")
def masked_softmax_wrong_axis(scores, mask, axis=-1):
    mask = np.broadcast_to(mask, scores.shape)
    masked = np.where(mask, scores, -np.inf)
    top = np.max(masked, axis=0, keepdims=True)
    exp = np.where(mask, np.exp(masked - np.where(np.isfinite(top), top, 0.0)), 0.0)
    total = np.sum(exp, axis=0, keepdims=True)
    return exp / np.where(total > 0, total, 1.0)


@bug("masked_softmax", "unstable", "the masked softmax does not subtract the maximum: exp overflows for large scores",
     "exp(1000) is inf in float64 and inf / inf is NaN: subtract the maximum of the allowed scores of each row "
     "before exp (it cancels in the ratio).", mistake="unstable_softmax")
def masked_softmax_unstable(scores, mask, axis=-1):
    mask = np.broadcast_to(mask, scores.shape)
    with np.errstate(over="ignore", invalid="ignore"):
        exp = np.where(mask, np.exp(scores), 0.0)
        total = np.sum(exp, axis=axis, keepdims=True)
        return exp / np.where(total > 0, total, 1.0)


@bug("masked_softmax", "large_negative_fill", "masked scores are filled with -1e9 and nothing else, so a fully "
     "masked row gets uniform weights instead of zeros",
     "-1e9 (or np.finfo.min) works for rows with an allowed key, but a row where every key is masked then "
     "spreads its weight evenly: set the weights of masked positions to 0 after the softmax as well "
     "(np.where(mask, weights, 0)).")
def masked_softmax_large_negative(scores, mask, axis=-1):
    masked = np.where(mask, scores, -1e9)
    exp = np.exp(masked - np.max(masked, axis=axis, keepdims=True))
    return exp / np.sum(exp, axis=axis, keepdims=True)


@bug("causal_mask", "diagonal_excluded", "the causal mask is off by one: the diagonal is excluded (a word cannot see itself)",
     "Word i may attend to words 0..i *including* itself: np.tril keeps the diagonal (k=0).",
     mistake="causal_off_by_one")
def causal_mask_no_diagonal(T):
    return np.tril(np.ones((T, T), dtype=bool), k=-1)


@bug("causal_mask", "upper_triangle", "the causal mask is transposed: it lets words see the future, not the past",
     "Row i is the query: it may attend to columns 0..i, the lower triangle (np.tril), not np.triu.")
def causal_mask_upper(T):
    return np.triu(np.ones((T, T), dtype=bool))


@bug("causal_mask", "inverted", "the mask polarity is inverted: True marks the future words to block",
     "In this course True means 'may attend' (as F.scaled_dot_product_attention): word i may attend to words 0..i, "
     "so keep np.tril(np.ones((T, T), dtype=bool)) and do not negate it (~) or take np.triu(..., k=1).",
     mistake="mask_polarity")
def causal_mask_inverted(T):
    return ~np.tril(np.ones((T, T), dtype=bool))


@bug("causal_mask", "one_future_word", "the causal mask is off by one the other way: each word also sees the "
     "next word (np.tril(..., k=1))",
     "k=1 keeps the first diagonal above the main one: word i could see word i+1. np.tril's default k=0 is right.")
def causal_mask_one_future_word(T):
    return np.tril(np.ones((T, T), dtype=bool), k=1)


@bug("causal_mask", "float_mask", "the mask holds 0.0/1.0 floats instead of booleans",
     "Masks are boolean in this course: np.tril(np.ones((T, T), dtype=bool)).")
def causal_mask_float(T):
    return np.tril(np.ones((T, T)))
