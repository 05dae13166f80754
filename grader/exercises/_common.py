"""Building blocks shared by the exercise definitions: input makers and property judges."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..core import Comparison


# What an answer may raise where the contract says "fail loudly": its own ValueError that says why, an
# assert (nanoGPT's style), or the error PyTorch raises itself (reshape, broadcasting). Any of them is
# loud; a tensor with features dropped or rows cut is not.
LOUD = ("ValueError", "AssertionError", "RuntimeError")


def gradients_of(calls_fn):
    """The calls of another check, each run backwards too (``post="grad"``): the output and the
    gradients of every float input and every parameter, compared with the reference's. A correct
    output with a detached part (statistics, weights, a projection) has the wrong gradients."""

    def calls(rng):
        return [replace(call, post="grad") for call in calls_fn(rng)]

    return calls


def in_training(calls_fn):
    """The calls of another check in training mode with dropout = 1: whatever dropout touches becomes
    0, whatever mask an implementation draws, so a dropout that is missing, misplaced (on the scores,
    on the output instead of the weights) or returned (weights after dropout) shows as a different
    output. A seeded mask with p < 1 would show the same, but only for implementations that draw
    their masks in the reference's order and shapes: a per-head loop draws them head by head."""

    def calls(rng):
        return [replace(call, init={**call.init, "dropout": 1.0}, train=True) for call in calls_fn(rng)]

    return calls


def rows_sum_to_one(axis: int = -1, allow_zero_rows: bool = False):
    """Judge: every output sums to 1 along ``axis`` (or to 0, for fully masked rows)."""

    def judge(outputs, calls) -> Comparison:
        for i, out in enumerate(outputs):
            out = out[0] if isinstance(out, list) else out
            if not isinstance(out, np.ndarray) or not np.issubdtype(out.dtype, np.floating):
                return Comparison(False, f"call {i}: expected a float array, got {type(out).__name__}")
            if np.isnan(out).any():
                return Comparison(False, f"call {i}: the output contains NaN")
            sums = out.sum(axis=axis)
            ok = np.isclose(sums, 1.0, atol=1e-5) | (allow_zero_rows & np.isclose(sums, 0.0, atol=1e-12))
            if not ok.all():
                index = tuple(int(j) for j in np.argwhere(~ok)[0])
                return Comparison(False, f"call {i}: weights along axis {axis} sum to {sums[index]:.4g} at {index}, not 1",
                                  {"first_mismatch": list(index)})
        return Comparison(True)

    return judge


def distinct_shape(rng: np.random.Generator, n: int, low: int = 2, high: int = 9) -> list[int]:
    """``n`` pairwise distinct sizes in [low, high): equal sizes hide axis bugs."""
    return [int(s) for s in rng.choice(np.arange(low, high), size=n, replace=False)]
