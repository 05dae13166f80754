"""Checks for notebook 05: scaled_dot_product_attention and SelfAttention (PyTorch track)."""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..core import Call, Check, Comparison, Exercise
from ._common import distinct_shape, gradients_of

NOTEBOOK = "05_attention_in_pytorch"
PROJECTIONS = ("q_proj", "k_proj", "v_proj")


# ---------------------------------------------------------------------------------------
# Public oracles: F.scaled_dot_product_attention for the output, torch.softmax for the
# weights, same mask polarity (True = may attend). No hidden reference needed.
# ---------------------------------------------------------------------------------------


def _torch_sdpa(q, k, v, mask=None):
    import torch
    import torch.nn.functional as F

    scores = q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5
    if mask is None:
        return F.scaled_dot_product_attention(q, k, v), torch.softmax(scores, dim=-1)
    allowed = torch.broadcast_to(mask, scores.shape)
    weights = torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1).masked_fill(~allowed, 0.0)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
    # a query with no allowed key: zeros (recent PyTorch does this itself; older versions give NaN)
    return torch.where(allowed.any(dim=-1, keepdim=True), out, 0.0), weights


@lru_cache(maxsize=None)
def _torch_self_attention_class():
    """Built lazily: this module must import without torch."""
    from torch import nn

    class TorchSelfAttention(nn.Module):
        """The course's skeleton (q_proj, k_proj, v_proj), attention by PyTorch's built-ins."""

        def __init__(self, d_in, d_out, bias=False):
            super().__init__()
            for name in PROJECTIONS:
                setattr(self, name, nn.Linear(d_in, d_out, bias=bias))

        def forward(self, x, mask=None):
            return _torch_sdpa(self.q_proj(x), self.k_proj(x), self.v_proj(x), mask)

    return TorchSelfAttention


def _torch_self_attention(d_in, d_out, bias=False):
    return _torch_self_attention_class()(d_in, d_out, bias=bias)


# ---------------------------------------------------------------------------------------
# Inputs.
# ---------------------------------------------------------------------------------------


def _qkv(rng, lead, t_q, t_k, d_k, d_v):
    lead = tuple(lead)
    return (rng.normal(size=lead + (t_q, d_k)), rng.normal(size=lead + (t_k, d_k)),
            rng.normal(size=lead + (t_k, d_v)))


def _causal(T):
    return np.tril(np.ones((T, T), dtype=bool))


def _padding(rng, B, T, extra_dims=0):
    """(B, [1,]* 1, T) key-padding mask: sentence b has lengths[b] real tokens (at least 1)."""
    lengths = rng.integers(1, T + 1, size=B)
    lengths[0], lengths[-1] = T, max(1, T - 2)  # one full sentence, one padded one
    mask = np.arange(T)[None, :] < lengths[:, None]
    return mask.reshape((B,) + (1,) * (extra_dims + 1) + (T,))


def _random_mask(rng, shape, fully_masked_row=False):
    """A random mask with one allowed key per row; optionally the first query of the first item has none."""
    mask = rng.random(shape) < 0.6
    rows = mask.reshape(-1, shape[-1])
    rows[np.arange(rows.shape[0]), rng.integers(0, shape[-1], size=rows.shape[0])] = True
    mask = rows.reshape(shape)
    if fully_masked_row:
        mask[(0,) * (len(shape) - 2) + (0,)] = False
    return mask


def _fully_masked_inputs(rng):
    q, k, v = _qkv(rng, (2,), 3, 4, 5, 6)
    mask = np.ones((2, 3, 4), dtype=bool)
    mask[0, 1] = False  # query 1 of sentence 0 may attend to nothing
    mask[1, :, 3] = False
    return q, k, v, mask


def _sdpa_hidden(rng):
    calls = []
    B, H, t_q, t_k, d_k, d_v = distinct_shape(rng, 6)
    calls.append(Call(args=_qkv(rng, (B, H), t_q, t_k, d_k, d_v), torch_args=True))
    B, t_q, t_k, d_k, d_v = distinct_shape(rng, 5)
    calls.append(Call(args=_qkv(rng, (B,), t_q, t_k, d_k, d_v), torch_args=True))
    t_q, t_k, d_k, d_v = distinct_shape(rng, 4)
    calls.append(Call(args=_qkv(rng, (), t_q, t_k, d_k, d_v), torch_args=True))
    return calls


def _sdpa_masked_hidden(rng):
    calls = []
    B, H, t_q, t_k, d_k, d_v = distinct_shape(rng, 6)
    q, k, v = _qkv(rng, (B, H), t_q, t_k, d_k, d_v)
    calls.append(Call(args=(q, k, v, _random_mask(rng, (B, H, t_q, t_k), fully_masked_row=True)), torch_args=True))
    calls.append(Call(args=(q, k, v, _padding(rng, B, t_k, extra_dims=1)), torch_args=True))
    B, T, d_k, d_v = distinct_shape(rng, 4)
    calls.append(Call(args=(*_qkv(rng, (B,), T, T, d_k, d_v), _causal(T)), torch_args=True))
    return calls


def _state(rng, d_in, d_out, bias=False):
    # weights ~ N(0, 1/d_in): scores of order 1, so the softmax is neither flat nor one-hot
    state = {}
    for name in PROJECTIONS:
        state[f"{name}.weight"] = rng.normal(scale=d_in ** -0.5, size=(d_out, d_in))
        if bias:
            state[f"{name}.bias"] = rng.normal(scale=0.5, size=d_out)
    return state


def _module_call(rng, B, T, d_in, d_out, bias=False, mask=None):
    init = {"d_in": d_in, "d_out": d_out}
    if bias:
        init["bias"] = True
    x = rng.normal(size=(B, T, d_in))
    return Call(kind="module", init=init, state=_state(rng, d_in, d_out, bias), torch_args=True, dtype="float64",
                args=(x,) if mask is None else (x, mask))


def _module_hidden(rng):
    calls = []
    for bias in (False, True):
        B, T, d_in, d_out = distinct_shape(rng, 4)
        calls.append(_module_call(rng, B, T, d_in, d_out, bias=bias))
    return calls


def _module_masked_hidden(rng):
    B, T, d_in, d_out = distinct_shape(rng, 4)
    first = _module_call(rng, B, T, d_in, d_out, mask=_causal(T))
    B, T, d_in, d_out = distinct_shape(rng, 4)
    second = _module_call(rng, B, T, d_in, d_out, bias=True, mask=_padding(rng, B, T))
    return [first, second]


# ---------------------------------------------------------------------------------------
# Property judges.
# ---------------------------------------------------------------------------------------


def _weights_sum_to_one(outputs, calls) -> Comparison:
    for i, out in enumerate(outputs):
        if not isinstance(out, list) or len(out) != 2 or not isinstance(out[1], np.ndarray):
            return Comparison(False, f"call {i}: expected a pair (out, weights) of tensors")
        sums = out[1].sum(axis=-1)
        bad = ~np.isclose(sums, 1.0, atol=1e-5)
        if bad.any():
            index = tuple(int(j) for j in np.argwhere(bad)[0])
            return Comparison(False, f"call {i}: the weights of query {index} sum to {sums[index]:.4g} over the keys, not 1",
                              {"first_mismatch": list(index)})
    return Comparison(True)


def _projections(outputs, calls) -> Comparison:
    """The parameters are exactly the three projections (the contract); buffers are not looked at."""
    for out, call in zip(outputs, calls):
        d_in, d_out, bias = call.init["d_in"], call.init["d_out"], call.init.get("bias", False)
        expected = {f"{name}.weight": [d_out, d_in] for name in PROJECTIONS}
        expected.update({f"{name}.bias": [d_out] for name in PROJECTIONS} if bias else {})
        got = out.get("parameters") if isinstance(out, dict) else None
        if got != expected:
            return Comparison(False, f"for {call.init}: parameters {got}, expected {expected}")
    return Comparison(True)


def _finite(outputs, calls) -> Comparison:
    names = ("out", "grad of q", "grad of k", "grad of v")
    for i, out in enumerate(outputs):
        for name, value in zip(names, out if isinstance(out, list) else [out]):
            if isinstance(value, np.ndarray) and not np.isfinite(value).all():
                return Comparison(False, f"call {i}: {name} contains NaN or inf")
    return Comparison(True)


scaled_dot_product_attention = Exercise(
    name="scaled_dot_product_attention",
    notebook=NOTEBOOK,
    kind="function",
    signature=("q", "k", "v", "mask"),
    where="the `scaled_dot_product_attention` cell of 05_attention_in_pytorch",
    forbidden=("attention", "multi_head_attention"),
    checks=[
        Check("by_hand", "q k^T / sqrt(4) = [[1, 0, 0], [0, 1, 0]]: weights [0.576, 0.212, 0.212] and "
                         "[0.212, 0.576, 0.212]; out = weights @ v, first column [3.18, 5.00]",
              lambda rng: [Call(args=(np.array([[2.0, 0, 0, 0], [0, 2.0, 0, 0]]),
                                      np.array([[1.0, 0, 0, 0], [0, 1.0, 0, 0], [0, 0, 1.0, 0]]),
                                      np.arange(15.0).reshape(3, 5)), torch_args=True)],
              oracle=_torch_sdpa,
              hint="scores = q @ k.transpose(-2, -1) / sqrt(d_k); weights = softmax over the last dim; out = weights @ v."),
        Check("batched", "a batch of 2 sentences: q (2, 3, 4), k (2, 5, 4), v (2, 5, 6), no mask",
              lambda rng: [Call(args=_qkv(rng, (2,), 3, 5, 4, 6), torch_args=True)],
              oracle=_torch_sdpa,
              hint="Transpose only the last two dims of k (k.transpose(-2, -1)), so any leading dims work."),
        Check("weights_sum_to_one", "each query's weights over the keys sum to 1, for q (3, 4, 5) and k (3, 6, 5)",
              lambda rng: [Call(args=_qkv(rng, (3,), 4, 6, 5, 2), torch_args=True)],
              judge=_weights_sum_to_one,
              hint="Normalise over the keys: softmax(..., dim=-1), not dim=-2 (the queries)."),
        Check("heads_padding_mask", "heads (B=2, H=3, T_q=4, T_k=6) with a (B, 1, 1, T_k) padding mask",
              lambda rng: [Call(args=(*_qkv(rng, (2, 3), 4, 6, 5, 7), _padding(rng, 2, 6, extra_dims=1)),
                                torch_args=True)],
              oracle=_torch_sdpa,
              hint="Fill the scores with -inf where the mask is False (True = may attend), then take the softmax."),
        Check("causal_mask", "a (5, 5) causal mask broadcast over a batch of 2: query i sees keys 0..i",
              lambda rng: [Call(args=(*_qkv(rng, (2,), 5, 5, 3, 4), _causal(5)), torch_args=True)],
              oracle=_torch_sdpa,
              hint="Mask the scores before the softmax (masked_fill(~mask, float('-inf'))), so allowed weights sum to 1."),
        Check("fully_masked_row", "a query with no allowed key gets zero weights and a zero output, not NaN",
              lambda rng: [Call(args=_fully_masked_inputs(rng), torch_args=True)],
              oracle=_torch_sdpa,
              hint="softmax of a row of -inf is NaN: after the softmax, set the masked weights to 0 (masked_fill(~mask, 0.0))."),
        Check("finite_gradients", "gradients with respect to q, k and v stay finite with a fully masked row",
              lambda rng: [Call(args=_fully_masked_inputs(rng), torch_args=True, post="grad")],
              judge=_finite,
              hint="A NaN in the forward pass also poisons the gradients: zero the weights of fully masked rows."),
        Check("hidden_random", "random q, k, v with leading dims (B, H), (B,) and (), T_q != T_k, no mask",
              _sdpa_hidden, points=2.0, hidden=True),
        Check("hidden_masked", "random q, k, v with per-head masks (one fully masked row), padding and causal masks",
              _sdpa_masked_hidden, points=2.0, hidden=True),
        Check("hidden_gradients", "the same masked inputs, backwards: the gradients with respect to q, k and v "
                                  "match (nothing detached)",
              gradients_of(_sdpa_masked_hidden), points=2.0, hidden=True),
    ],
)

SelfAttention = Exercise(
    name="SelfAttention",
    notebook=NOTEBOOK,
    kind="module",
    signature=("d_in", "d_out", "bias"),
    where="the `SelfAttention` cell of 05_attention_in_pytorch",
    forbidden=("attention", "multi_head_attention"),
    checks=[
        Check("parameters", "q_proj, k_proj and v_proj are nn.Linear(d_in, d_out), with biases only when bias=True "
                            "(buffers the module keeps, a causal mask say, are its own business)",
              lambda rng: [Call(kind="module", init={"d_in": 3, "d_out": 5}, post="introspect"),
                           Call(kind="module", init={"d_in": 3, "d_out": 5, "bias": True}, post="introspect")],
              judge=_projections,
              hint="Create self.q_proj = nn.Linear(d_in, d_out, bias=bias), and the same for k_proj and v_proj."),
        Check("small", "B=2 sentences of T=3 words, d_in=5, d_out=4, no bias: out and weights match",
              lambda rng: [_module_call(rng, 2, 3, 5, 4)],
              oracle=_torch_self_attention,
              hint="q = self.q_proj(x), k = self.k_proj(x), v = self.v_proj(x); then attention of q, k, v with the mask."),
        Check("square_projections", "d_in == d_out == 4: only the values can tell x @ W.T (what nn.Linear does) from x @ W",
              lambda rng: [_module_call(rng, 2, 3, 4, 4)],
              oracle=_torch_self_attention,
              hint="Call the layer, self.q_proj(x): it computes x @ weight.T + bias."),
        Check("with_bias", "bias=True: B=3, T=4, d_in=2, d_out=5, the biases are used",
              lambda rng: [_module_call(rng, 3, 4, 2, 5, bias=True)],
              oracle=_torch_self_attention,
              hint="Call the layers themselves (self.q_proj(x)): they add the bias."),
        Check("causal_mask", "a (4, 4) causal mask, B=2, d_in=3, d_out=5: word i only attends to words 0..i",
              lambda rng: [_module_call(rng, 2, 4, 3, 5, mask=_causal(4))],
              oracle=_torch_self_attention,
              hint="Pass the mask on to the attention: True = may attend."),
        Check("hidden_random", "random weights and inputs of two shapes, with and without bias, no mask",
              _module_hidden, points=2.0, hidden=True),
        Check("hidden_masked", "random weights and inputs of two shapes, causal and padding masks",
              _module_masked_hidden, points=2.0, hidden=True),
        Check("hidden_gradients", "the same, backwards: the gradients of x and of every projection's weights match",
              gradients_of(_module_masked_hidden), points=2.0, hidden=True),
    ],
)

EXERCISES = [scaled_dot_product_attention, SelfAttention]
