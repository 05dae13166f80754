"""Checks for notebook 08: layer_norm, FeedForward, EncoderBlock."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..core import Call, Check, Comparison, Exercise
from ._common import distinct_shape, gradients_of, in_training

NOTEBOOK = "08_transformer_block"


# ---------------------------------------------------------------------------------------
# Public oracles: PyTorch's own modules, so that public checks need no hidden reference.
# ---------------------------------------------------------------------------------------


def _torch_layer_norm(x, gamma, beta, eps=1e-5):
    import torch.nn.functional as F

    return F.layer_norm(x, x.shape[-1:], gamma, beta, eps)


def _torch_activation(name):
    import torch.nn.functional as F

    return {"relu": F.relu, "gelu": F.gelu}[name]  # F.gelu is the exact (erf) GELU


def _TorchFeedForward(d_model, d_ff, dropout=0.0, activation="relu"):
    """nn.Linear -> activation -> nn.Linear, with the skeleton's parameter names."""
    from torch import nn

    class TorchFeedForward(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear1 = nn.Linear(d_model, d_ff)
            self.linear2 = nn.Linear(d_ff, d_model)
            self.activation = _torch_activation(activation)

        def forward(self, x):
            return self.linear2(self.activation(self.linear1(x)))

    return TorchFeedForward()


def torch_layer_state(state: dict, prefix: str = "") -> dict:
    """Our EncoderBlock's state-dict keys -> nn.TransformerEncoderLayer's (q, k, v packed)."""
    import torch

    def get(key):
        return state[prefix + key]

    mapped = {
        "self_attn.in_proj_weight": torch.cat([get(f"self_attn.{p}_proj.weight") for p in "qkv"]),
        "self_attn.in_proj_bias": torch.cat([get(f"self_attn.{p}_proj.bias") for p in "qkv"]),
        "self_attn.out_proj.weight": get("self_attn.out_proj.weight"),
        "self_attn.out_proj.bias": get("self_attn.out_proj.bias"),
    }
    for ours, theirs in [("ff.linear1", "linear1"), ("ff.linear2", "linear2"), ("norm1", "norm1"), ("norm2", "norm2")]:
        for kind in ("weight", "bias"):
            mapped[f"{theirs}.{kind}"] = get(f"{ours}.{kind}")
    return mapped


def torch_src_mask(mask, batch: int, n_heads: int, T: int):
    """Our mask (True = may attend, broadcastable to (B, H, T, T)) -> nn's attn_mask
    (True = NOT allowed, shape (B * H, T, T))."""
    import torch

    if mask is None:
        return None
    return ~torch.broadcast_to(mask, (batch, n_heads, T, T)).reshape(batch * n_heads, T, T)


def _TorchEncoderBlock(d_model, n_heads, d_ff, dropout=0.0, norm_first=False, activation="relu"):
    """nn.TransformerEncoderLayer behind EncoderBlock's constructor and state-dict keys."""
    from torch import nn

    class TorchEncoderBlock(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = nn.TransformerEncoderLayer(d_model, n_heads, d_ff, dropout=0.0, activation=activation,
                                                    batch_first=True, norm_first=norm_first)

        def load_state_dict(self, state, strict=True):
            return self.layer.load_state_dict(torch_layer_state(state), strict=strict)

        def forward(self, x, mask=None):
            B, T, _ = x.shape
            return self.layer(x, src_mask=torch_src_mask(mask, B, n_heads, T))

    return TorchEncoderBlock()


# ---------------------------------------------------------------------------------------
# Inputs: weights with the skeleton's names, masks with at least one allowed key per row.
# ---------------------------------------------------------------------------------------


def linear_state(rng, prefix: str, d_in: int, d_out: int) -> dict:
    return {f"{prefix}.weight": rng.normal(size=(d_out, d_in)) / np.sqrt(d_in),
            f"{prefix}.bias": rng.normal(scale=0.3, size=d_out)}


def norm_state(rng, prefix: str, d: int) -> dict:
    # gamma away from 1 and beta away from 0, so that a norm applied at the wrong place shows
    return {f"{prefix}.weight": 1.0 + rng.normal(scale=0.3, size=d), f"{prefix}.bias": rng.normal(scale=0.3, size=d)}


def ff_state(rng, d_model: int, d_ff: int, prefix: str = "") -> dict:
    return {**linear_state(rng, f"{prefix}linear1", d_model, d_ff),
            **linear_state(rng, f"{prefix}linear2", d_ff, d_model)}


def block_state(rng, d_model: int, d_ff: int, prefix: str = "") -> dict:
    state = {}
    for p in ("q", "k", "v", "out"):
        state.update(linear_state(rng, f"{prefix}self_attn.{p}_proj", d_model, d_model))
    state.update(ff_state(rng, d_model, d_ff, f"{prefix}ff."))
    state.update(norm_state(rng, f"{prefix}norm1", d_model))
    state.update(norm_state(rng, f"{prefix}norm2", d_model))
    return state


def padding_mask(rng, batch: int, T: int) -> np.ndarray:
    """(B, 1, 1, T), True on real tokens: every sequence keeps >= 1 token, one is padded."""
    lengths = rng.integers(1, T + 1, size=batch)
    lengths[0] = T - 1  # at least one padded position
    pad = np.arange(T)[None, :] < lengths[:, None]
    return pad[:, None, None, :]


def causal(T: int) -> np.ndarray:
    return np.tril(np.ones((T, T), dtype=bool))


# ---------------------------------------------------------------------------------------
# Property judges.
# ---------------------------------------------------------------------------------------


def _first_array(out):
    return out[0] if isinstance(out, list) and out else out


def same_outputs(outputs, calls) -> Comparison:
    """Eval mode: calls that differ only in the random seed give the same output."""
    first = _first_array(outputs[0])
    for i, out in enumerate(outputs[1:], start=1):
        out = _first_array(out)
        if not isinstance(out, np.ndarray) or not isinstance(first, np.ndarray) or out.shape != first.shape:
            return Comparison(False, f"call {i}: expected an array like call 0's, got {type(out).__name__}")
        if not np.allclose(out, first, rtol=1e-6, atol=1e-8):
            return Comparison(False, "in eval mode, two runs with different random seeds gave different outputs: "
                                     "dropout is still active",
                              {"max_abs_error": float(np.max(np.abs(out - first)))})
    return Comparison(True)


def all_finite(names: tuple[str, ...]):
    """Judge for post="grad": the output and the gradient of every input in ``names`` are finite."""

    def judge(outputs, calls) -> Comparison:
        for out in outputs:
            parts = out if isinstance(out, list) else [out]
            for j, part in enumerate(parts):
                if not isinstance(part, np.ndarray):
                    return Comparison(False, f"expected arrays, got {type(part).__name__}")
                if not np.isfinite(part).all():
                    name = names[j - 1] if j - 1 < len(names) else f"input {j - 1}"
                    what = "the output" if j == 0 else f"the gradient with respect to {name}"
                    return Comparison(False, f"{what} contains NaN or inf")
        return Comparison(True)

    return judge


# ---------------------------------------------------------------------------------------
# layer_norm
# ---------------------------------------------------------------------------------------


def _ln_call(x, gamma, beta, **kwargs):
    return Call(args=(np.asarray(x, dtype=np.float64), np.asarray(gamma, dtype=np.float64),
                      np.asarray(beta, dtype=np.float64)), kwargs=kwargs, torch_args=True)


def _ln_hidden(rng):
    B, T, d = distinct_shape(rng, 3, 2, 9)
    T2, d2 = distinct_shape(rng, 2, 3, 9)
    return [
        _ln_call(rng.normal(loc=1.0, scale=2.0, size=(B, T, d)), rng.normal(size=d), rng.normal(size=d)),
        _ln_call(rng.normal(scale=0.01, size=(T2, d2)), rng.normal(size=d2), rng.normal(size=d2), eps=1e-4),
    ]


layer_norm = Exercise(
    name="layer_norm",
    notebook=NOTEBOOK,
    kind="function",
    signature=("x", "gamma", "beta", "eps"),
    where="the `layer_norm` cell of 08_transformer_block",
    forbidden=("normalisation",),
    checks=[
        Check("by_hand", "rows [1, 2, 3, 4] -> [-1.342, -0.447, 0.447, 1.342] and [2, 2, 6, 6] -> [-1, -1, 1, 1] "
                         "(gamma = 1, beta = 0)",
              lambda rng: [_ln_call([[1.0, 2.0, 3.0, 4.0], [2.0, 2.0, 6.0, 6.0]], np.ones(4), np.zeros(4))],
              oracle=_torch_layer_norm,
              hint="Mean and variance of each row (the last dimension): for [1, 2, 3, 4] the mean is 2.5 and the "
                   "variance is 1.25 (divide by d = 4, not d - 1)."),
        Check("gamma_beta", "a (2, 3, 5) batch with random gamma and beta matches F.layer_norm",
              lambda rng: [_ln_call(rng.normal(size=(2, 3, 5)), rng.normal(size=5), rng.normal(size=5))],
              oracle=_torch_layer_norm,
              hint="Normalise over the last dimension (dim=-1, keepdim=True), then multiply by gamma and add beta."),
        Check("small_variance_eps", "rows with a tiny variance (about 1e-5), with the default eps and with eps=0.01",
              lambda rng: [_ln_call(rng.normal(scale=0.003, size=(3, 6)), np.ones(6), np.zeros(6)),
                           _ln_call(rng.normal(scale=0.003, size=(3, 6)), rng.normal(size=6), rng.normal(size=6),
                                    eps=0.01)],
              oracle=_torch_layer_norm,
              hint="eps goes inside the square root, sqrt(var + eps), and must be the `eps` argument."),
        Check("finite_gradients", "gradients stay finite, even for a constant row (variance 0)",
              lambda rng: [Call(args=(np.array([[3.0, 3.0, 3.0, 3.0], [1.0, -1.0, 2.0, 0.5]]),
                                      rng.normal(size=4), rng.normal(size=4)), torch_args=True, post="grad")],
              judge=all_finite(("x", "gamma", "beta")),
              hint="sqrt has an infinite slope at 0: with sqrt(var) + eps a constant row gives NaN gradients; "
                   "sqrt(var + eps) keeps them finite."),
        Check("hidden_random", "random batches of two shapes, random gamma and beta, default and custom eps",
              _ln_hidden, points=2.0, hidden=True),
        Check("hidden_gradients", "the same, backwards: the gradients with respect to x, gamma and beta match "
                                  "(the mean and the variance are part of the graph)",
              gradients_of(_ln_hidden), points=2.0, hidden=True),
    ],
)


# ---------------------------------------------------------------------------------------
# FeedForward
# ---------------------------------------------------------------------------------------

# A network small enough to follow by hand: d_model = 2, d_ff = 3.
_FF_BY_HAND = {
    "linear1.weight": np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]),
    "linear1.bias": np.array([0.0, 0.0, -1.0]),
    "linear2.weight": np.array([[1.0, 1.0, 1.0], [1.0, -1.0, 0.0]]),
    "linear2.bias": np.array([0.0, 0.5]),
}


def _ff_call(rng, B, T, d_model, d_ff, **init):
    return Call(kind="module", init={"d_model": d_model, "d_ff": d_ff, **init}, state=ff_state(rng, d_model, d_ff),
                args=(rng.normal(size=(B, T, d_model)),), torch_args=True)


def _ff_eval_calls(rng):
    call = _ff_call(rng, 2, 3, 5, 7, dropout=0.5)
    return [call, replace(call, seed=1, process=1)]  # another seed, another process: no memo links them


def _ff_hidden(rng):
    calls = []
    for activation in ("relu", "gelu"):
        B, T, d_model, d_ff = distinct_shape(rng, 4, 2, 12)
        calls.append(_ff_call(rng, B, T, d_model, d_ff, activation=activation, dropout=0.3))
    return calls


FeedForward = Exercise(
    name="FeedForward",
    notebook=NOTEBOOK,
    kind="module",
    signature=("d_model", "d_ff", "dropout", "activation"),
    where="the `FeedForward` cell of 08_transformer_block",
    checks=[
        Check("by_hand", "d_model = 2, d_ff = 3: x = [1, -2] -> [1, 1.5] and x = [0.5, 1] -> [2, 0] "
                         "(ReLU zeroes the negative hidden units)",
              lambda rng: [Call(kind="module", init={"d_model": 2, "d_ff": 3}, state=_FF_BY_HAND,
                                args=(np.array([[[1.0, -2.0], [0.5, 1.0]]]),), torch_args=True)],
              oracle=_TorchFeedForward,
              hint="linear1 (d_model -> d_ff), then the activation, then linear2 (d_ff -> d_model). "
                   "For x = [1, -2] the hidden units are [1, -2, -2] before ReLU and [1, 0, 0] after."),
        Check("relu", "a (2, 3, 5) batch through d_ff = 7 with ReLU matches nn.Linear -> F.relu -> nn.Linear",
              lambda rng: [_ff_call(rng, 2, 3, 5, 7)], oracle=_TorchFeedForward),
        Check("gelu", "activation=\"gelu\" uses the exact GELU (F.gelu, with erf)",
              lambda rng: [_ff_call(rng, 2, 3, 5, 7, activation="gelu")], oracle=_TorchFeedForward,
              hint="Pick the activation from the `activation` argument; GELU is F.gelu(h) (the exact erf form, "
                   "not approximate=\"tanh\")."),
        Check("square_weights", "d_model == d_ff == 6: only the values can tell x @ W.T (what nn.Linear does) "
                                "from x @ W",
              lambda rng: [_ff_call(rng, 2, 3, 6, 6)], oracle=_TorchFeedForward,
              hint="Call the layers, self.linear1(x) and self.linear2(h): they compute x @ weight.T + bias "
                   "(weight is stored as (out, in))."),
        Check("eval_no_dropout", "in eval mode with dropout=0.5, two runs give the same output",
              _ff_eval_calls, judge=same_outputs,
              hint="Use an nn.Dropout module (it is off after model.eval()), or pass training=self.training "
                   "to F.dropout."),
        Check("hidden_random", "random sizes and weights, ReLU and GELU, dropout > 0 in eval mode",
              _ff_hidden, points=2.0, hidden=True),
        Check("hidden_training_dropout", "random sizes in training mode with dropout=1 (all it touches becomes 0): "
                                         "dropout acts on the hidden units, after the activation, and nowhere else",
              in_training(_ff_hidden), points=2.0, hidden=True),
    ],
)


# ---------------------------------------------------------------------------------------
# EncoderBlock
# ---------------------------------------------------------------------------------------


def _block_call(rng, B, T, n_heads, d_head, d_ff, mask=None, **init):
    d_model = n_heads * d_head
    return Call(kind="module", init={"d_model": d_model, "n_heads": n_heads, "d_ff": d_ff, **init},
                state=block_state(rng, d_model, d_ff), args=(rng.normal(size=(B, T, d_model)), mask),
                torch_args=True)


# Public sizes: B = 3, T = 4, H = 2, d_head = 5 (d_model = 10), d_ff = 16: all different.
_B, _T, _H, _DH, _FF = 3, 4, 2, 5, 16


def _block_eval_calls(rng):
    call = _block_call(rng, _B, _T, _H, _DH, _FF, dropout=0.3)
    return [call, replace(call, seed=1, process=1)]  # another seed, another process: no memo links them


def _block_hidden(norm_first: bool, activation: str):
    def calls(rng):
        out = []
        for config in range(2):  # two shape configurations, each with two kinds of mask
            B, T, H, d_head = distinct_shape(rng, 4, 2, 7)
            d_ff = H * d_head + int(rng.integers(1, 6))
            pad = padding_mask(rng, B, T)
            for mask in ((pad, causal(T)) if config == 0 else (None, pad & causal(T))):
                out.append(_block_call(rng, B, T, H, d_head, d_ff, mask=mask, norm_first=norm_first,
                                       activation=activation, dropout=0.2))
        return out

    return calls


EncoderBlock = Exercise(
    name="EncoderBlock",
    notebook=NOTEBOOK,
    kind="module",
    signature=("d_model", "n_heads", "d_ff", "dropout", "norm_first", "activation"),
    where="the `EncoderBlock` cell of 08_transformer_block",
    forbidden=("transformer_layer",),
    checks=[
        Check("post_ln", "norm_first=False (post-LN) matches nn.TransformerEncoderLayer with the same weights",
              lambda rng: [_block_call(rng, _B, _T, _H, _DH, _FF)], oracle=_TorchEncoderBlock,
              hint="Post-LN: x = norm1(x + self_attn(x)[0]), then x = norm2(x + ff(x)). The residual x is added "
                   "before the norm."),
        Check("pre_ln", "norm_first=True (pre-LN) matches nn.TransformerEncoderLayer(norm_first=True)",
              lambda rng: [_block_call(rng, _B, _T, _H, _DH, _FF, norm_first=True)], oracle=_TorchEncoderBlock,
              hint="Pre-LN: x = x + self_attn(norm1(x))[0], then x = x + ff(norm2(x)). The residual stream itself "
                   "is never normalised."),
        Check("padding_mask", "a padding mask of shape (B, 1, 1, T) (True = real token) reaches the attention",
              lambda rng: [_block_call(rng, _B, _T, _H, _DH, _FF, mask=padding_mask(rng, _B, _T))],
              oracle=_TorchEncoderBlock,
              hint="Pass `mask` on to self.self_attn(x, mask)."),
        Check("causal_mask", "pre-LN with a (T, T) causal mask matches nn.TransformerEncoderLayer",
              lambda rng: [_block_call(rng, _B, _T, _H, _DH, _FF, mask=causal(_T), norm_first=True)],
              oracle=_TorchEncoderBlock,
              hint="Pass `mask` on to self.self_attn(x, mask)."),
        Check("gelu", "activation=\"gelu\" reaches the feed-forward network",
              lambda rng: [_block_call(rng, _B, _T, _H, _DH, _FF, activation="gelu")], oracle=_TorchEncoderBlock,
              hint="Build self.ff = FeedForward(d_model, d_ff, dropout, activation)."),
        Check("eval_no_dropout", "in eval mode with dropout=0.3, two runs give the same output",
              _block_eval_calls, judge=same_outputs,
              hint="Use nn.Dropout modules (off after model.eval()), or pass training=self.training to F.dropout."),
        Check("hidden_post_ln", "post-LN, ReLU: random weights, two shape configurations, padding and causal masks",
              _block_hidden(False, "relu"), points=2.0, hidden=True),
        Check("hidden_pre_ln", "pre-LN, GELU: random weights, two shape configurations, padding and causal masks",
              _block_hidden(True, "gelu"), points=2.0, hidden=True),
        Check("hidden_training_dropout", "post-LN and pre-LN in training mode with dropout=1 (all it touches "
                                         "becomes 0): dropout on the attention's output and on the feed-forward's "
                                         "output, before each residual add, as nn.TransformerEncoderLayer",
              in_training(lambda rng: _block_hidden(False, "relu")(rng)[:1] + _block_hidden(True, "gelu")(rng)[:1]),
              points=2.0, hidden=True),
        Check("hidden_gradients", "post-LN and pre-LN, backwards: the gradients of x and of every parameter match",
              gradients_of(lambda rng: _block_hidden(False, "relu")(rng)[:1] + _block_hidden(True, "gelu")(rng)[:1]),
              points=2.0, hidden=True),
    ],
)

EXERCISES = [layer_norm, FeedForward, EncoderBlock]
