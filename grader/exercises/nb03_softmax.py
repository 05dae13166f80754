"""Checks for notebook 03: softmax, masked_softmax, causal_mask."""
from __future__ import annotations

import numpy as np

from ..core import Call, Check, Comparison, Exercise
from ._common import distinct_shape, rows_sum_to_one

NOTEBOOK = "03_softmax"


# Public oracles: PyTorch's own functions, so that public checks need no hidden reference.
def _torch_softmax(scores, axis=-1):
    import torch

    return torch.softmax(torch.from_numpy(np.asarray(scores, dtype=np.float64)), dim=axis).numpy()


def _torch_masked_softmax(scores, mask, axis=-1):
    import torch

    s = torch.from_numpy(np.asarray(scores, dtype=np.float64))
    m = torch.from_numpy(np.broadcast_to(np.asarray(mask, dtype=bool), s.shape).copy())
    weights = torch.softmax(s.masked_fill(~m, float("-inf")), dim=axis)
    return weights.masked_fill(~m, 0.0).numpy()


def _torch_causal_mask(T):
    import torch

    return torch.tril(torch.ones(T, T, dtype=torch.bool)).numpy()


def _no_nan_zero_rows(outputs, calls) -> Comparison:
    out = outputs[0]
    if not isinstance(out, np.ndarray):
        return Comparison(False, f"expected an array, got {type(out).__name__}")
    if np.isnan(out).any():
        return Comparison(False, "a fully masked row gave NaN; it should give all-zero weights")
    if not np.allclose(out[1], 0.0):
        return Comparison(False, f"the fully masked row should be all zeros, got {np.round(out[1], 4).tolist()}")
    if not np.allclose(out[0].sum(), 1.0):
        return Comparison(False, "the row with allowed keys should still sum to 1")
    return Comparison(True)


def _softmax_hidden(rng):
    rows, cols, depth = distinct_shape(rng, 3)
    return [
        Call(args=(rng.normal(scale=3.0, size=(rows, cols)),)),
        Call(args=(rng.normal(scale=3.0, size=(depth, rows, cols)),), kwargs={"axis": 1}),
        # large scores: exp overflows without the max. On a 2**-10 grid they are exact in float32
        # too, so a float32 answer loses nothing to rounding the inputs.
        Call(args=(np.round((rng.normal(scale=2.0, size=(rows, cols)) + 800.0) * 1024) / 1024,)),
    ]


def _masked_hidden(rng):
    t_q, t_k, batch = distinct_shape(rng, 3)
    scores = rng.normal(scale=3.0, size=(batch, t_q, t_k))
    mask = rng.random((batch, t_q, t_k)) < 0.6
    mask[:, :, 0] = True  # at least one allowed key per row
    key_mask = rng.random(t_k) < 0.6
    key_mask[-1] = True
    return [
        Call(args=(scores, mask)),
        Call(args=(scores[0], key_mask)),  # a (T_k,) mask broadcast over query rows
        Call(args=(scores[0].T.copy(), mask[0].T.copy()), kwargs={"axis": 0}),
        # large scores: exp overflows without the max. On a 2**-10 grid they are exact in float32
        # too, so a float32 answer loses nothing to rounding the inputs.
        Call(args=(np.round((scores[-1] + 900.0) * 1024) / 1024, mask[-1])),
    ]


softmax = Exercise(
    name="softmax",
    notebook=NOTEBOOK,
    kind="function",
    signature=("scores", "axis"),
    where="the `softmax` cell of 03_softmax",
    forbidden=("softmax",),
    checks=[
        Check("by_hand", "softmax of rows [1, 2, 3] and [0, 0, 0] = [0.090, 0.245, 0.665] and [1/3, 1/3, 1/3]",
              lambda rng: [Call(args=(np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]),))], oracle=_torch_softmax),
        Check("rows_sum_to_one", "each row of a (3, 5) score matrix sums to 1",
              lambda rng: [Call(args=(rng.normal(size=(3, 5)),))], judge=rows_sum_to_one(-1),
              hint="Divide by the sum over the last axis, with keepdims=True so it broadcasts back over the row."),
        Check("matrix", "a (3, 5) score matrix matches torch.softmax(dim=-1)",
              lambda rng: [Call(args=(rng.normal(size=(3, 5)),))], oracle=_torch_softmax),
        Check("large_scores", "scores near 1000 do not overflow (no NaN, no inf)",
              lambda rng: [Call(args=(np.array([[1000.0, 1001.0, 1002.0], [-1000.0, 0.0, 1000.0]]),))],
              oracle=_torch_softmax,
              hint="exp(1000) is inf in float64: subtract each row's maximum before exp (it cancels in the ratio)."),
        Check("axis_argument", "axis=0 normalises each column of a (4, 2) matrix",
              lambda rng: [Call(args=(rng.normal(size=(4, 2)),), kwargs={"axis": 0})], oracle=_torch_softmax,
              hint="Use the `axis` argument in every max and sum, not a hard-coded -1."),
        Check("hidden_random", "random score arrays of two shapes, including axis=1 and large scores",
              _softmax_hidden, points=2.0, hidden=True),
    ],
)

masked_softmax = Exercise(
    name="masked_softmax",
    notebook=NOTEBOOK,
    kind="function",
    signature=("scores", "mask", "axis"),
    where="the `masked_softmax` cell of 03_softmax",
    forbidden=("softmax", "attention"),
    checks=[
        Check("by_hand", "masking the last of [1, 2, 3] gives [0.269, 0.731, 0]",
              lambda rng: [Call(args=(np.array([1.0, 2.0, 3.0]), np.array([True, True, False])))],
              oracle=_torch_masked_softmax),
        Check("causal_rows", "a (4, 4) causal mask: row i spreads its weight over keys 0..i only",
              lambda rng: [Call(args=(rng.normal(size=(4, 4)), np.tril(np.ones((4, 4), dtype=bool))))],
              oracle=_torch_masked_softmax),
        Check("fully_masked_row", "a row with no allowed key gives zeros, not NaN",
              lambda rng: [Call(args=(np.array([[0.5, 1.5, -1.0], [2.0, 0.0, 1.0]]),
                                      np.array([[True, False, True], [False, False, False]])))],
              judge=_no_nan_zero_rows,
              hint="When every key of a row is masked, its max is -inf and exp(-inf - -inf) is NaN: "
                   "treat such rows separately and return zeros for them."),
        Check("large_scores", "scores near 1000 with a mask do not overflow (no NaN, no inf)",
              lambda rng: [Call(args=(np.array([[1000.0, 1001.0, 1002.0], [-1000.0, 0.0, 1000.0]]),
                                      np.array([[True, True, False], [True, False, True]])))],
              oracle=_torch_masked_softmax,
              hint="exp(1000) is inf in float64: subtract each row's maximum (over the allowed scores) before exp."),
        Check("hidden_random", "random scores and masks of two shapes, broadcast masks, axis=0, large scores",
              _masked_hidden, points=2.0, hidden=True),
    ],
)

causal_mask = Exercise(
    name="causal_mask",
    notebook=NOTEBOOK,
    kind="function",
    signature=("T",),
    where="the `causal_mask` cell of 03_softmax",
    checks=[
        Check("T_equals_3", "causal_mask(3) is the lower triangle, diagonal included",
              lambda rng: [Call(args=(3,))], oracle=_torch_causal_mask,
              hint="Row i is the query word i: True (may attend) in columns 0..i, the diagonal included, and False "
                   "for the future words: np.tril(np.ones((T, T), dtype=bool))."),
        Check("dtype_bool", "the mask is boolean (True = may attend)",
              lambda rng: [Call(args=(4,))],
              judge=lambda outs, calls: Comparison(isinstance(outs[0], np.ndarray) and outs[0].dtype == bool,
                                                   "expected dtype bool (use dtype=bool or a comparison)")),
        Check("hidden_sizes", "several sizes, including T = 1", lambda rng: [Call(args=(int(t),)) for t in (1, *distinct_shape(rng, 2, 5, 12))],
              hidden=True),
    ],
)

EXERCISES = [softmax, masked_softmax, causal_mask]
