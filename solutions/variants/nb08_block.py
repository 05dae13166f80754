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


# --- float32 inside, returned in the inputs' dtype ------------------------------------------


@variant("layer_norm", "float32_then_promote")
def layer_norm_float32_promote(x, gamma, beta, eps=1e-5):
    # Normalised in float32; multiplying by the float64 gamma promotes the result back to float64.
    x32 = x.float()
    mean = x32.mean(dim=-1, keepdim=True)
    var = ((x32 - mean) ** 2).mean(dim=-1, keepdim=True)
    normalised = (x32 - mean) / torch.sqrt(var + torch.tensor(eps, dtype=torch.float32))  # float32
    return normalised * gamma + beta


@variant("FeedForward", "float32_inside")
class FeedForwardFloat32Inside(_Skeleton):
    def forward(self, x):
        x32 = x.float()
        h = x32 @ self.linear1.weight.float().T + self.linear1.bias.float()  # (B, T, d_ff), float32
        h = F.gelu(h) if self.activation_name == "gelu" else torch.relu(h)
        out = self.dropout(h) @ self.linear2.weight.float().T + self.linear2.bias.float()
        return out.to(x.dtype)


@variant("EncoderBlock", "float32_inside")
class EncoderBlockFloat32Inside(_BlockSkeleton):
    """Each sub-layer computed from float32 copies of its weights; the block returns x's dtype."""

    def _linear(self, h, layer):
        return F.linear(h, layer.weight.float(), layer.bias.float())

    def _norm(self, h, ln):
        return F.layer_norm(h, h.shape[-1:], ln.weight.float(), ln.bias.float(), ln.eps)

    def _attention(self, h, mask):
        B, T, d_model = h.shape
        attn = self.self_attn
        q, k, v = (self._linear(h, p).view(B, T, self.n_heads, -1).transpose(1, 2)
                   for p in (attn.q_proj, attn.k_proj, attn.v_proj))  # (B, H, T, d_head)
        scores = q @ k.transpose(-2, -1) / math.sqrt(d_model // self.n_heads)
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        if mask is not None:
            weights = weights.masked_fill(~mask, 0.0)
        heads = (F.dropout(weights, attn.dropout.p, self.training) @ v).transpose(1, 2).reshape(B, T, d_model)
        return self.drop(self._linear(heads, attn.out_proj))

    def _ff(self, h):
        hidden = self.ff.activation(self._linear(h, self.ff.linear1))
        return self.drop(self._linear(self.ff.dropout(hidden), self.ff.linear2))

    def forward(self, x, mask=None):
        h = x.float()
        if self.norm_first:
            h = h + self._attention(self._norm(h, self.norm1), mask)
            h = h + self._ff(self._norm(h, self.norm2))
        else:
            h = self._norm(h + self._attention(h, mask), self.norm1)
            h = self._norm(h + self._ff(h), self.norm2)
        return h.to(x.dtype)
