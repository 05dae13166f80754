"""Correct answers in other styles for notebook 08."""
import math

import torch
import torch.nn.functional as F
from torch import nn

from ..block import FeedForward as _FeedForward
from ..multi_head import MultiHeadAttention as _MultiHeadAttention
from . import variant

# --- layer_norm ---------------------------------------------------------------------------


@variant("layer_norm", "loops")
def layer_norm_loops(x, gamma, beta, eps=1e-5):
    rows = x.reshape(-1, x.shape[-1])
    out = torch.empty_like(rows)
    d = rows.shape[-1]
    for r in range(rows.shape[0]):
        mean = sum(rows[r, j] for j in range(d)) / d
        var = sum((rows[r, j] - mean) ** 2 for j in range(d)) / d
        for j in range(d):
            out[r, j] = (rows[r, j] - mean) / torch.sqrt(var + eps) * gamma[j] + beta[j]
    return out.reshape(x.shape)


@variant("layer_norm", "mean_of_squares")
def layer_norm_mean_of_squares(x, gamma, beta, eps=1e-5):
    mean = x.mean(dim=-1, keepdim=True)
    var = (x * x).mean(dim=-1, keepdim=True) - mean * mean  # E[x^2] - E[x]^2
    return (x - mean) * torch.rsqrt(var + eps) * gamma + beta


@variant("layer_norm", "float32")
def layer_norm_float32(x, gamma, beta, eps=1e-5):
    x, gamma, beta = x.float(), gamma.float(), beta.float()
    centred = x - x.mean(dim=-1, keepdim=True)
    var = (centred ** 2).mean(dim=-1, keepdim=True)
    return centred / (var + eps).sqrt() * gamma + beta


# --- FeedForward --------------------------------------------------------------------------


class _Skeleton(nn.Module):
    """The skeleton's parameters: linear1 (d_model -> d_ff), linear2 (d_ff -> d_model)."""

    def __init__(self, d_model, d_ff, dropout=0.0, activation="relu"):
        super().__init__()
        self.linear1 = nn.Linear(d_model, d_ff)
        self.linear2 = nn.Linear(d_ff, d_model)
        self.dropout = nn.Dropout(dropout)
        self.activation_name = activation


@variant("FeedForward", "einsum_erf")
class FeedForwardEinsum(_Skeleton):
    def forward(self, x):
        h = torch.einsum("btd,fd->btf", x, self.linear1.weight) + self.linear1.bias
        if self.activation_name == "gelu":
            h = 0.5 * h * (1.0 + torch.erf(h / math.sqrt(2.0)))  # the exact GELU
        else:
            h = torch.clamp(h, min=0.0)
        h = self.dropout(h)
        return torch.einsum("btf,df->btd", h, self.linear2.weight) + self.linear2.bias


@variant("FeedForward", "activation_modules")
class FeedForwardModules(_Skeleton):
    def __init__(self, d_model, d_ff, dropout=0.0, activation="relu"):
        super().__init__(d_model, d_ff, dropout, activation)
        self.act = nn.GELU() if activation == "gelu" else nn.ReLU()

    def forward(self, x):
        return self.linear2(self.dropout(self.act(self.linear1(x))))


@variant("FeedForward", "float32")
class FeedForwardFloat32(_Skeleton):
    def forward(self, x):
        h = F.linear(x.float(), self.linear1.weight.float(), self.linear1.bias.float())
        h = F.gelu(h) if self.activation_name == "gelu" else F.relu(h)
        h = F.dropout(h, self.dropout.p, training=self.training)
        return F.linear(h, self.linear2.weight.float(), self.linear2.bias.float())


# --- EncoderBlock -------------------------------------------------------------------------


class _BlockSkeleton(nn.Module):
    """The skeleton's sub-modules: self_attn (q/k/v/out projections), ff, norm1, norm2."""

    def __init__(self, d_model, n_heads, d_ff, dropout=0.0, norm_first=False, activation="relu"):
        super().__init__()
        self.n_heads, self.norm_first = n_heads, norm_first
        self.self_attn = _MultiHeadAttention(d_model, n_heads, dropout=dropout)
        self.ff = _FeedForward(d_model, d_ff, dropout=dropout, activation=activation)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.drop = nn.Dropout(dropout)


@variant("EncoderBlock", "sublayer_helper")
class EncoderBlockSublayer(_BlockSkeleton):
    """The Annotated Transformer's SublayerConnection, generalised to both norm placements."""

    def _sublayer(self, x, norm, fn):
        if self.norm_first:
            return x + self.drop(fn(norm(x)))
        return norm(x + self.drop(fn(x)))

    def forward(self, x, mask=None):
        x = self._sublayer(x, self.norm1, lambda h: self.self_attn(h, mask)[0])
        return self._sublayer(x, self.norm2, self.ff)


def _inline_block(block, x, mask, dtype):
    """The whole block written out with einsum, in ``dtype``, from the skeleton's weights."""

    def p(t):
        return t.to(dtype)

    def norm(h, ln):
        mean = h.mean(-1, keepdim=True)
        var = ((h - mean) ** 2).mean(-1, keepdim=True)
        return (h - mean) / torch.sqrt(var + ln.eps) * p(ln.weight) + p(ln.bias)

    def linear(h, lin):
        return torch.einsum("...i,oi->...o", h, p(lin.weight)) + p(lin.bias)

    def attention(h, mask):
        B, T, d_model = h.shape
        H = block.n_heads
        q, k, v = (linear(h, getattr(block.self_attn, f"{n}_proj")).reshape(B, T, H, d_model // H)
                   for n in "qkv")  # (B, T, H, d_head)
        scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(d_model // H)
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        if mask is not None:
            weights = weights.masked_fill(~mask, 0.0)  # a row with no allowed key: zeros, not NaN
        heads = torch.einsum("bhqk,bkhd->bqhd", weights, v).reshape(B, T, d_model)
        return linear(heads, block.self_attn.out_proj)

    def ff(h):
        hidden = linear(h, block.ff.linear1)
        return linear(block.ff.activation(hidden), block.ff.linear2)

    x = x.to(dtype)
    if block.norm_first:
        x = x + block.drop(attention(norm(x, block.norm1), mask))
        return x + block.drop(ff(norm(x, block.norm2)))
    x = norm(x + block.drop(attention(x, mask)), block.norm1)
    return norm(x + block.drop(ff(x)), block.norm2)


@variant("EncoderBlock", "inline_einsum")
class EncoderBlockInline(_BlockSkeleton):
    def forward(self, x, mask=None):
        return _inline_block(self, x, mask, torch.float64)


@variant("EncoderBlock", "inline_float32")
class EncoderBlockFloat32(_BlockSkeleton):
    def forward(self, x, mask=None):
        return _inline_block(self, x, mask, torch.float32)
