"""Checks for notebook 06: split_heads, merge_heads, MultiHeadAttention."""
from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

import numpy as np

from ..core import Call, Check, Comparison, Exercise, compare
from ._common import LOUD, distinct_shape, gradients_of, in_training

NOTEBOOK = "06_multi_head_attention"
PROJECTIONS = ("q_proj", "k_proj", "v_proj", "out_proj")


# ---------------------------------------------------------------------------------------
# Public oracles: the definition itself (head h = features h*d_head:(h+1)*d_head), and
# nn.MultiheadAttention behind the course's skeleton. No hidden reference needed.
# ---------------------------------------------------------------------------------------


def _slice_split(x, n_heads):
    import torch

    d_head = x.shape[-1] // n_heads
    return torch.stack([x[..., h * d_head:(h + 1) * d_head] for h in range(n_heads)], dim=1)


def _slice_merge(x):
    import torch

    return torch.cat([x[:, h] for h in range(x.shape[1])], dim=-1)


@lru_cache(maxsize=None)
def _torch_mha_class():
    """Built lazily: this module must import without torch."""
    import torch
    from torch import nn

    class TorchMultiHeadAttention(nn.Module):
        """nn.MultiheadAttention(batch_first=True) with the course's constructor, state-dict keys
        (q_proj, k_proj, v_proj, out_proj) and mask polarity (True = may attend)."""

        def __init__(self, d_model, n_heads, dropout=0.0, bias=True):
            super().__init__()
            self.n_heads, self.p, self.bias = n_heads, dropout, bias
            for name in PROJECTIONS:
                setattr(self, name, nn.Linear(d_model, d_model, bias=bias))

        def forward(self, x, mask=None):
            B, T, d_model = x.shape
            mha = nn.MultiheadAttention(d_model, self.n_heads, dropout=self.p, bias=self.bias,
                                        batch_first=True, dtype=x.dtype)
            with torch.no_grad():  # nn.MultiheadAttention packs q, k, v into one in_proj
                mha.in_proj_weight.copy_(torch.cat([self.q_proj.weight, self.k_proj.weight, self.v_proj.weight]))
                mha.out_proj.weight.copy_(self.out_proj.weight)
                if self.bias:
                    mha.in_proj_bias.copy_(torch.cat([self.q_proj.bias, self.k_proj.bias, self.v_proj.bias]))
                    mha.out_proj.bias.copy_(self.out_proj.bias)
            mha.train(self.training)
            attn_mask = None
            if mask is not None:
                allowed = torch.broadcast_to(mask, (B, self.n_heads, T, T)).reshape(B * self.n_heads, T, T)
                attn_mask = ~allowed  # nn.MultiheadAttention: True = NOT allowed
            return mha(x, x, x, attn_mask=attn_mask, need_weights=True, average_attn_weights=False)

    return TorchMultiHeadAttention


def _torch_mha(d_model, n_heads, dropout=0.0, bias=True):
    return _torch_mha_class()(d_model, n_heads, dropout=dropout, bias=bias)


@lru_cache(maxsize=None)
def _torch_heads_class():
    """Built lazily: this module must import without torch."""
    from torch import nn

    from .nb05_attention import _torch_sdpa

    class TorchHeadsAttention(nn.Module):
        """The same projections, with F.scaled_dot_product_attention run on the sliced heads: a query
        with no allowed key gets zeros (nn.MultiheadAttention gives NaN there). Eval mode only."""

        def __init__(self, d_model, n_heads, dropout=0.0, bias=True):
            super().__init__()
            self.n_heads = n_heads
            for name in PROJECTIONS:
                setattr(self, name, nn.Linear(d_model, d_model, bias=bias))

        def forward(self, x, mask=None):
            q, k, v = (_slice_split(p(x), self.n_heads) for p in (self.q_proj, self.k_proj, self.v_proj))
            heads, weights = _torch_sdpa(q, k, v, mask)  # (B, H, T, d_head), (B, H, T, T)
            return self.out_proj(_slice_merge(heads)), weights

    return TorchHeadsAttention


def _torch_heads(d_model, n_heads, dropout=0.0, bias=True):
    return _torch_heads_class()(d_model, n_heads, dropout=dropout, bias=bias)


# ---------------------------------------------------------------------------------------
# Inputs.
# ---------------------------------------------------------------------------------------


def _causal(T):
    return np.tril(np.ones((T, T), dtype=bool))


def _padding(rng, B, T):
    """(B, 1, 1, T) key-padding mask: sentence b has lengths[b] real tokens (at least 1)."""
    lengths = rng.integers(1, T + 1, size=B)
    lengths[0], lengths[-1] = T, max(1, T - 2)  # one full sentence, one padded one
    return (np.arange(T)[None, :] < lengths[:, None])[:, None, None, :]


def _per_sample(rng, B, T):
    """(B, 1, T, T): causal, and sentence b has lengths[b] real keys; sentence 0 is full, the others padded,
    so the sentences' masks differ (copying them to the heads in the wrong order shows)."""
    lengths = rng.integers(1, T, size=B)
    lengths[0] = T
    keys = np.arange(T)[None, None, :] < lengths[:, None, None]  # (B, 1, T)
    return (keys & _causal(T))[:, None]  # (B, 1, T, T); key 0 keeps every row non-empty


def _per_head_empty_row(rng, B, H, T):
    """A random (B, H, T, T) mask with the diagonal allowed, except one query of the last sentence's last
    head, which may attend to nothing."""
    mask = rng.random((B, H, T, T)) < 0.6
    mask[..., np.arange(T), np.arange(T)] = True
    mask[-1, -1, int(rng.integers(T))] = False
    return mask


def _state(rng, d_model, bias=True):
    # weights ~ N(0, 1/d): scores of order 1, so the softmax is neither flat nor one-hot
    state = {}
    for name in PROJECTIONS:
        state[f"{name}.weight"] = rng.normal(scale=d_model ** -0.5, size=(d_model, d_model))
        if bias:
            state[f"{name}.bias"] = rng.normal(scale=0.3, size=d_model)
    return state


def _mha_call(x, n_heads, state, mask=None, dropout=0.0, bias=True, seed=0):
    init = {"d_model": x.shape[-1], "n_heads": n_heads}
    if dropout:
        init["dropout"] = dropout
    if not bias:
        init["bias"] = False
    return Call(kind="module", init=init, state=state, torch_args=True, dtype="float64", seed=seed,
                args=(x,) if mask is None else (x, mask))


def _mha_case(rng, B, T, H, d_head, mask_kind=None, dropout=0.0, bias=True):
    d_model = H * d_head
    x = rng.normal(size=(B, T, d_model))
    mask = {None: None, "causal": lambda: _causal(T), "padding": lambda: _padding(rng, B, T),
            "per_sample": lambda: _per_sample(rng, B, T),
            "empty_row": lambda: _per_head_empty_row(rng, B, H, T)}[mask_kind]
    return _mha_call(x, H, _state(rng, d_model, bias), mask() if mask else None, dropout, bias)


PUBLIC = dict(B=2, T=5, H=3, d_head=4)  # d_model = 12; pairwise distinct sizes


def _public(mask_kind=None):
    return lambda rng: [_mha_case(rng, **PUBLIC, mask_kind=mask_kind)]


def _eval_twice(rng):
    """Eval mode with dropout=0.3, two calls that differ only in the random seed."""
    x = rng.normal(size=(2, 5, 12))
    state = _state(rng, 12)
    first, second = (_mha_call(x, 3, state, dropout=0.3, seed=seed) for seed in (0, 1))
    return [first, replace(second, process=1)]  # another seed, another process: no memo links them


LEAK_FROM = 2  # tokens after position 2 are perturbed in the second call


def _leak_pair(rng):
    x = rng.normal(size=(2, 5, 12))
    future = x.copy()
    future[:, LEAK_FROM + 1:] = rng.normal(size=future[:, LEAK_FROM + 1:].shape)
    state = _state(rng, 12)
    return [_mha_call(x, 3, state, _causal(5)), _mha_call(future, 3, state, _causal(5))]


# ---------------------------------------------------------------------------------------
# Property judges.
# ---------------------------------------------------------------------------------------


def _out_and_weights(value):
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, np.ndarray) for v in value)):
        return None
    return value


def _deterministic_in_eval(outputs, calls) -> Comparison:
    first, second = (_out_and_weights(o) for o in outputs)
    if first is None or second is None:
        return Comparison(False, "forward should return a tuple (out, weights) of tensors")
    result = compare(second, first, "second call")
    if not result.ok:
        return Comparison(False, "two calls in eval mode with dropout=0.3 gave different outputs: "
                                 "dropout must do nothing in eval mode", result.metrics)
    return Comparison(True)


def _no_causal_leak(outputs, calls) -> Comparison:
    first, second = (_out_and_weights(o) for o in outputs)
    if first is None or second is None:
        return Comparison(False, "forward should return a tuple (out, weights) of tensors")
    keep = LEAK_FROM + 1
    for i, what in enumerate(("out", "weights")):
        # out is (B, T, d): time is axis 1; weights are (B, H, T, T): queries are axis 2
        past = (slice(None), slice(0, keep)) if i == 0 else (slice(None), slice(None), slice(0, keep))
        if first[i].ndim < len(past) + 1 or second[i].shape != first[i].shape:
            return Comparison(False, f"{what} has shape {first[i].shape}, not the expected one")
        result = compare(second[i][past], first[i][past], f"{what} of tokens 0..{LEAK_FROM}")
        if not result.ok:
            return Comparison(False, f"changing tokens after position {LEAK_FROM} changed the {what} of tokens "
                                     f"0..{LEAK_FROM}: with a causal mask the past must not see the future",
                              result.metrics)
    return Comparison(True)


# ---------------------------------------------------------------------------------------
# Hidden inputs: two shape configurations, pairwise distinct sizes (B, T, H, d_head).
# ---------------------------------------------------------------------------------------


def _split_hidden(rng):
    calls = []
    for _ in range(2):
        B, T, H, d_head = distinct_shape(rng, 4)
        calls.append(Call(args=(rng.normal(size=(B, T, H * d_head)), H), torch_args=True))
    return calls


def _merge_hidden(rng):
    calls = []
    for _ in range(2):
        B, H, T, d_head = distinct_shape(rng, 4)
        calls.append(Call(args=(rng.normal(size=(B, H, T, d_head)),), torch_args=True))
    return calls


def _mha_hidden(*kinds, dropout=0.0, bias=True):
    def calls(rng):
        out = []
        for _ in range(2):
            B, T, H, d_head = distinct_shape(rng, 4)
            out += [_mha_case(rng, B, T, H, d_head, kind, dropout, bias) for kind in kinds]
        return out

    return calls


# ---------------------------------------------------------------------------------------
# Exercises.
# ---------------------------------------------------------------------------------------

_ARANGE_SPLIT = np.arange(120, dtype=np.float64).reshape(2, 4, 15)  # B=2, T=4, 3 heads of d_head=5
_ARANGE_MERGE = np.arange(120, dtype=np.float64).reshape(2, 3, 4, 5)  # B=2, H=3, T=4, d_head=5

split_heads = Exercise(
    name="split_heads",
    notebook=NOTEBOOK,
    kind="function",
    signature=("x", "n_heads"),
    where="the `split_heads` cell of 06_multi_head_attention",
    checks=[
        Check("by_hand", "x of shape (2, 4, 15) holding 0..119, 3 heads: out[b, h, t] is features "
                         "5h..5h+4 of token t, so out[0, 1, 0] = [5, 6, 7, 8, 9] and the shape is (2, 3, 4, 5)",
              lambda rng: [Call(args=(_ARANGE_SPLIT, 3), torch_args=True)], oracle=_slice_split,
              hint="reshape to (B, T, H, d_head) first (each token's features cut into H consecutive chunks), "
                   "then transpose(1, 2) to bring the heads next to the batch."),
        Check("random", "a random (3, 5, 8) batch split into 2 heads of size 4",
              lambda rng: [Call(args=(rng.normal(size=(3, 5, 8)), 2), torch_args=True)], oracle=_slice_split,
              hint="The result must be (B, H, T, d_head), with head h holding features h*d_head:(h+1)*d_head."),
        Check("indivisible", "12 features cannot split into 5 heads: an error (a ValueError that says so, or "
                             "PyTorch's own from reshape), never a tensor with features dropped (an assert, as nanoGPT's, is loud too)",
              lambda rng: [Call(args=(rng.normal(size=(2, 3, 12)), 5), torch_args=True),
                           Call(args=(rng.normal(size=(2, 4, 10)), 3), torch_args=True)],
              raises=LOUD,
              hint="Check d_model % n_heads before splitting: if it is not 0, raise ValueError(f\"d_model={d_model} "
                   "is not divisible by n_heads={n_heads}\"); do not cut the features to fit."),
        Check("hidden_random", "random batches of two shapes, pairwise distinct sizes",
              _split_hidden, points=2.0, hidden=True),
    ],
)

merge_heads = Exercise(
    name="merge_heads",
    notebook=NOTEBOOK,
    kind="function",
    signature=("x",),
    where="the `merge_heads` cell of 06_multi_head_attention",
    checks=[
        Check("by_hand", "x of shape (2, 3, 4, 5) holding 0..119 (B=2, H=3, T=4, d_head=5): token t's "
                         "row is head 0, head 1, head 2 side by side, so out[0, 0] = [0..4, 20..24, 40..44]",
              lambda rng: [Call(args=(_ARANGE_MERGE,), torch_args=True)], oracle=_slice_merge,
              hint="transpose(1, 2) back to (B, T, H, d_head) first, then reshape to (B, T, H * d_head)."),
        Check("random", "a random (3, 2, 5, 4) tensor (B=3, H=2, T=5, d_head=4) merged to (3, 5, 8)",
              lambda rng: [Call(args=(rng.normal(size=(3, 2, 5, 4)),), torch_args=True)], oracle=_slice_merge,
              hint="merge_heads undoes split_heads: the heads are concatenated along the feature axis, per token."),
        Check("hidden_random", "random tensors of two shapes, pairwise distinct sizes",
              _merge_hidden, points=2.0, hidden=True),
    ],
)

MultiHeadAttention = Exercise(
    name="MultiHeadAttention",
    notebook=NOTEBOOK,
    kind="module",
    signature=("d_model", "n_heads", "dropout", "bias"),
    where="the `MultiHeadAttention` cell of 06_multi_head_attention",
    forbidden=("attention", "multi_head_attention"),
    checks=[
        Check("no_mask", "a (2, 5, 12) batch, 3 heads, no mask: out and weights match nn.MultiheadAttention "
                         "with the same weights",
              _public(), oracle=_torch_mha,
              hint="In order: q/k/v projections, split into (B, H, T, d_head), scores / sqrt(d_head), softmax "
                   "over the keys, weights @ v, merge the heads back to (B, T, d_model), then out_proj."),
        Check("causal_mask", "the same with a (5, 5) causal mask (True = may attend), broadcast over batch and heads",
              _public("causal"), oracle=_torch_mha,
              hint="Fill the scores with -inf where the mask is False, before the softmax; a (T, T) mask "
                   "broadcasts over (B, H, T, T) as it is."),
        Check("padding_mask", "a (2, 1, 1, 5) key-padding mask: the second sentence has only 3 real tokens",
              _public("padding"), oracle=_torch_mha,
              hint="A (B, 1, 1, T) mask says which keys exist in each sentence; it broadcasts over heads and "
                   "queries. True means 'may attend'."),
        Check("per_sample_mask", "a (2, 1, 5, 5) mask, one per sentence (causal; the second sentence has 2 padded "
                                 "keys): each sentence's heads use that sentence's mask",
              _public("per_sample"), oracle=_torch_mha,
              hint="A (B, 1, T, T) mask broadcasts over the heads as it is. If you flatten (B, H) into B*H, the "
                   "order is b0h0, b0h1, ...: expand the mask with repeat_interleave(H, dim=0), not repeat(H, 1, 1)."),
        Check("fully_masked_row", "a per-head (2, 3, 5, 5) mask where one query of one head may attend to nothing: "
                                  "its weights are zeros (not NaN) and that head adds nothing to its output",
              _public("empty_row"), oracle=_torch_heads,
              hint="softmax of a row of -inf is NaN: after the softmax, set the masked weights to 0 "
                   "(weights.masked_fill(~mask, 0.0))."),
        Check("eval_deterministic", "in eval mode, dropout=0.3 changes nothing: two calls give the same output",
              _eval_twice, judge=_deterministic_in_eval,
              hint="Use self.dropout (an nn.Dropout) or F.dropout(..., training=self.training): "
                   "dropout is for training only."),
        Check("no_causal_leak", "with a causal mask, changing tokens 3 and 4 leaves out and weights of tokens 0..2 "
                                "unchanged",
              _leak_pair, judge=_no_causal_leak,
              hint="Token t may only attend to tokens 0..t: check which positions your mask blocks "
                   "(True = may attend, so -inf goes where the mask is False)."),
        Check("hidden_random", "random weights and batches of two shapes, without a mask and with a causal mask",
              _mha_hidden(None, "causal"), points=2.0, hidden=True),
        Check("hidden_masks", "two shapes, with a key-padding mask (B, 1, 1, T), a per-sentence mask (B, 1, T, T) "
                              "and a per-head mask (B, H, T, T) with one fully masked query",
              _mha_hidden("padding", "per_sample", "empty_row"), points=2.0, hidden=True),
        Check("hidden_dropout_no_bias", "two shapes, bias=False and dropout=0.25 in eval mode, with a causal mask",
              _mha_hidden("causal", dropout=0.25, bias=False), points=2.0, hidden=True),
        Check("hidden_training_dropout", "two shapes in training mode with dropout=1 (all it touches becomes 0): "
                                         "dropout acts on the weights before @ v, and the weights returned are those "
                                         "before dropout",
              in_training(_mha_hidden("padding")), points=2.0, hidden=True),
        Check("hidden_gradients", "two shapes, backwards: the gradients of x and of all four projections match",
              gradients_of(_mha_hidden("causal")), points=2.0, hidden=True),
    ],
)

EXERCISES = [split_heads, merge_heads, MultiHeadAttention]
