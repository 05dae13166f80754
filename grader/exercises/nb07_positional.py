"""Checks for notebook 07: sinusoidal_positional_encoding, PositionalEncoding."""
from __future__ import annotations

import math
from dataclasses import replace
from functools import lru_cache

import numpy as np

from ..core import Call, Check, Comparison, Exercise
from ._common import LOUD, distinct_shape

NOTEBOOK = "07_positional_encoding"


# Public oracles: the formula of the notebook, written out literally (one number at a time).
def _literal_pe(T, d_model):
    pe = np.zeros((T, d_model))
    for pos in range(T):
        for j in range(d_model):
            two_i = j - j % 2  # columns 2i and 2i+1 share the frequency 1 / 10000**(2i / d)
            angle = pos / 10000 ** (two_i / d_model)
            pe[pos, j] = math.sin(angle) if j % 2 == 0 else math.cos(angle)
    return pe


@lru_cache(maxsize=None)
def _literal_module_class():
    """Built lazily: this module must import without torch."""
    import torch
    from torch import nn

    class LiteralPositionalEncoding(nn.Module):
        def __init__(self, d_model, max_len=512, dropout=0.0):
            super().__init__()
            self.dropout = nn.Dropout(dropout)
            self.register_buffer("pe", torch.from_numpy(_literal_pe(max_len, d_model)))

        def forward(self, x):
            return self.dropout(x + self.pe[: x.shape[1]])

    return LiteralPositionalEncoding


def _literal_module(d_model, max_len=512, dropout=0.0):
    return _literal_module_class()(d_model, max_len=max_len, dropout=dropout)


# ---------------------------------------------------------------------------------------
# Inputs. The module is checked in float32 (its default dtype): `pe` computed in float32
# is right, and float64 would fail it on rounding alone.
# ---------------------------------------------------------------------------------------


def _module_call(x, d_model, max_len=None, dropout=0.0, post=None):
    init = {"d_model": d_model}
    if max_len is not None:
        init["max_len"] = max_len
    if dropout:
        init["dropout"] = dropout
    return Call(kind="module", init=init, args=() if x is None else (x,), torch_args=True, dtype="float32",
                post=post)


def _pe_is_buffer(outputs, calls) -> Comparison:
    for out, call in zip(outputs, calls):
        expected = [call.init.get("max_len", 512), call.init["d_model"]]
        params, buffers = out.get("parameters", {}), out.get("buffers", {})
        if "pe" in params:
            return Comparison(False, "`pe` is an nn.Parameter, so the optimizer would train it: "
                                     "store it with self.register_buffer('pe', pe)")
        if "pe" not in buffers:
            return Comparison(False, "no buffer called `pe`: store the table with self.register_buffer('pe', pe) "
                                     "(a plain attribute does not move with .to(device))")
        if buffers["pe"] != expected:
            return Comparison(False, f"`pe` has shape {tuple(buffers['pe'])} for {call.init}, "
                                     f"expected (max_len, d_model) = {tuple(expected)}")
    return Comparison(True)


TRAIN_P = 0.5  # dropout of the training-mode check


def _train_call(rng):
    """Training mode with dropout 0.5: each value is dropped (0) or kept and scaled, (x + pe) / (1 - p)."""
    call = _module_call(rng.normal(size=(2, 7, 6)), 6, max_len=12, dropout=TRAIN_P)
    return [replace(call, train=True, seed=5)]


def _dropout_after_adding(outputs, calls) -> Comparison:
    """In training mode every output value is 0 or (x + pe) / (1 - p), and some of each kind occur."""
    for out, call in zip(outputs, calls):
        x = call.args[0]
        if not isinstance(out, np.ndarray) or out.shape != x.shape:
            return Comparison(False, f"expected an array of shape {x.shape}, got {type(out).__name__} "
                                     f"{getattr(out, 'shape', '')}")
        kept = (x + _literal_pe(x.shape[1], x.shape[2])) / (1 - TRAIN_P)
        is_kept = np.isclose(out, kept, rtol=1e-5, atol=1e-5)
        is_dropped = out == 0
        if not (is_kept | is_dropped).all():
            index = tuple(int(i) for i in np.argwhere(~(is_kept | is_dropped))[0])
            return Comparison(False, f"in training mode with dropout={TRAIN_P}, value {index} is {out[index]:.4g}: "
                                     f"neither 0 (dropped) nor (x + pe) / (1 - p) = {kept[index]:.4g} (kept)",
                              {"first_mismatch": list(index)})
        if not is_dropped.any():
            return Comparison(False, f"in training mode with dropout={TRAIN_P}, no value was dropped: "
                                     "the dropout is not applied")
    return Comparison(True)


def _sinusoid_hidden(rng):
    # an even and an odd d_model (odd: one cosine column fewer), lengths distinct from both
    d_even = int(rng.choice(np.arange(4, 17, 2)))
    d_odd = int(rng.choice(np.arange(5, 16, 2)))
    lengths = [t for t in range(5, 40) if t not in (d_even, d_odd)]
    T1, T2 = (int(t) for t in rng.choice(lengths, size=2, replace=False))
    return [Call(args=(T1, d_even)), Call(args=(T2, d_odd))]


def _module_hidden(rng):
    calls = []
    for parity in (0, 1):  # one even and one odd d_model
        B, T = distinct_shape(rng, 2, 2, 12)
        d_model = int(rng.choice([d for d in range(4, 16) if d % 2 == parity and d not in (B, T)]))
        max_len = T + int(rng.integers(1, 20))
        calls.append(_module_call(rng.normal(size=(B, T, d_model)), d_model, max_len, dropout=0.3))
    return calls


sinusoidal_positional_encoding = Exercise(
    name="sinusoidal_positional_encoding",
    notebook=NOTEBOOK,
    kind="function",
    signature=("T", "d_model"),
    where="the `sinusoidal_positional_encoding` cell of 07_positional_encoding",
    checks=[
        Check("by_hand", "T=3, d_model=4: pe[0] = [0, 1, 0, 1], pe[1] = [sin 1, cos 1, sin 0.01, cos 0.01], "
                         "pe[2] = [sin 2, cos 2, sin 0.02, cos 0.02]",
              lambda rng: [Call(args=(3, 4))], oracle=_literal_pe,
              hint="Columns alternate sin, cos, sin, cos; columns 2i and 2i+1 share the angle "
                   "pos / 10000**(2i / d_model) (here 10000**(2/4) = 100)."),
        Check("interleaved", "T=5, d_model=8: sin in the even columns, cos in the odd columns, one frequency per pair",
              lambda rng: [Call(args=(5, 8))], oracle=_literal_pe,
              hint="Fill pe[:, 0::2] with the sines and pe[:, 1::2] with the cosines (interleaved), "
                   "not the sines then the cosines side by side."),
        Check("longer", "T=9, d_model=6 matches pe[pos, 2i] = sin(pos / 10000**(2i/6)), pe[pos, 2i+1] = cos(...)",
              lambda rng: [Call(args=(9, 6))], oracle=_literal_pe,
              hint="The exponent is 2i / d_model where 2i is the even column index (0, 2, 4...), not i."),
        Check("odd_d_model", "T=4, d_model=5: an odd width works, the last column is a sine (one cosine fewer)",
              lambda rng: [Call(args=(4, 5))], oracle=_literal_pe,
              hint="With d_model odd there are (d_model + 1) // 2 sines and d_model // 2 cosines: fill "
                   "pe[:, 0::2] and pe[:, 1::2] from angle[:, :pe[:, 0::2].shape[1]] and angle[:, :pe[:, 1::2].shape[1]]."),
        Check("hidden_random", "several lengths, with an even and an odd d_model",
              _sinusoid_hidden, points=2.0, hidden=True),
    ],
)

PositionalEncoding = Exercise(
    name="PositionalEncoding",
    notebook=NOTEBOOK,
    kind="module",
    signature=("d_model", "max_len", "dropout"),
    where="the `PositionalEncoding` cell of 07_positional_encoding",
    checks=[
        Check("zeros_in", "a (2, 3, 4) batch of zeros comes out as pe[:3] in each sentence: "
                          "out[b, 1] = [sin 1, cos 1, sin 0.01, cos 0.01]",
              lambda rng: [_module_call(np.zeros((2, 3, 4)), 4, max_len=10)], oracle=_literal_module,
              hint="forward must return x + self.pe[:T], where T = x.size(1) is the sequence length: "
                   "the (T, d_model) table broadcasts over the batch."),
        Check("random_in", "a random (3, 5, 6) batch with max_len=16 gets pe[:5] added to every sentence",
              lambda rng: [_module_call(rng.normal(size=(3, 5, 6)), 6, max_len=16)], oracle=_literal_module,
              hint="x is (B, T, d_model): slice the table along positions (self.pe[:x.size(1)]), "
                   "not along the batch (self.pe[:x.size(0)])."),
        Check("pe_is_buffer", "`pe` is a buffer (not a parameter) of shape (max_len, d_model), "
                              "also for the default max_len=512",
              lambda rng: [_module_call(None, 6, max_len=20, post="introspect"),
                           _module_call(None, 4, post="introspect")],
              judge=_pe_is_buffer,
              hint="self.register_buffer('pe', table) with table of shape (max_len, d_model)."),
        Check("eval_dropout", "with dropout=0.5 in eval mode, the output is still x + pe",
              lambda rng: [_module_call(rng.normal(size=(2, 7, 6)), 6, max_len=12, dropout=0.5)],
              oracle=_literal_module,
              hint="Apply dropout with self.dropout (nn.Dropout): it does nothing after model.eval()."),
        Check("train_dropout", "in training mode with dropout=0.5, each value of x + pe is either dropped (0) "
                               "or kept and scaled by 1 / (1 - p)",
              _train_call, judge=_dropout_after_adding,
              hint="forward returns self.dropout(x + self.pe[:T]): add the positions first, then apply the "
                   "nn.Dropout created in __init__ from the `dropout` argument."),
        Check("too_long", "a sentence longer than max_len (7 positions, max_len=4): an error (a ValueError that says "
                          "so, or PyTorch's own), never a sentence cut short or positions missing",
              lambda rng: [_module_call(rng.normal(size=(2, 7, 6)), 6, max_len=4),
                           _module_call(rng.normal(size=(3, 5, 5)), 5, max_len=3)],
              raises=LOUD,
              hint="The table has max_len rows: if x.size(1) > max_len, raise ValueError(\"sequence length ... exceeds "
                   "max_len ...\") instead of adding fewer rows or cutting x."),
        Check("hidden_random", "random batches of two shapes (one odd d_model), T < max_len, dropout=0.3 in eval mode",
              _module_hidden, points=2.0, hidden=True),
    ],
)

EXERCISES = [sinusoidal_positional_encoding, PositionalEncoding]
