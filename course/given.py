"""Working versions of the pieces earlier notebooks ask you to build, so that each notebook stands
alone: a bug in your notebook-06 `MultiHeadAttention` never breaks notebook 08's `EncoderBlock`.

The notebooks use them as ``given.MultiHeadAttention`` and so on. They follow the course's
conventions (``batch_first`` tensors ``(B, T, d_model)``, heads ``(B, H, T, d_head)``, boolean
masks with True = "may attend", a query with no allowed key gets zero weights) and the same
parameter names as the exercises, so weights can be copied between yours and these.

Solve each exercise yourself before reading its version here: these are written with PyTorch's
own functions where one exists, which is not what the exercises ask of you.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "attention", "split_heads", "merge_heads", "MultiHeadAttention",
    "sinusoidal_positional_encoding", "PositionalEncoding",
    "FeedForward", "EncoderBlock", "TransformerEncoder",
]


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
              mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Notebook 05's scaled dot-product attention: ``(out (..., T_q, d_v), weights (..., T_q, T_k))``."""
    scores = torch.einsum("...qd,...kd->...qk", q, k) * (1.0 / math.sqrt(q.shape[-1]))
    if mask is None:
        weights = scores.softmax(dim=-1)
    else:
        allowed = mask.expand_as(scores)
        weights = scores.masked_fill(~allowed, -math.inf).softmax(dim=-1)
        weights = torch.where(allowed, weights, torch.zeros((), dtype=weights.dtype))  # NaN rows -> 0
    return torch.einsum("...qk,...kd->...qd", weights, v), weights


def _fused_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                     mask: torch.Tensor | None = None, dropout_p: float = 0.0) -> torch.Tensor:
    """The output of :func:`attention` from PyTorch's fused kernel, without the weights: ``(..., T_q, d_v)``.

    ``F.scaled_dot_product_attention`` never stores the ``(T_q, T_k)`` weights, and reads masks the
    course's way (True = may attend). For a query with no allowed key, PyTorch 2.5 and later
    return zeros and 2.4 returns NaN (on some backends); the course wants zeros on every version:
    such a query attends to every key inside the kernel, then its output is zeroed (finite
    values, so no NaN reaches the gradients either).
    """
    if mask is None:
        return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p)
    has_key = mask.any(dim=-1, keepdim=True)  # (..., T_q, 1)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask | ~has_key, dropout_p=dropout_p)
    return out.masked_fill(~has_key, 0.0)


def split_heads(x: torch.Tensor, n_heads: int) -> torch.Tensor:
    """Notebook 06: ``(B, T, H * d_head) -> (B, H, T, d_head)``."""
    return x.unflatten(-1, (n_heads, x.shape[-1] // n_heads)).movedim(-2, 1)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """Notebook 06: ``(B, H, T, d_head) -> (B, T, H * d_head)``."""
    return x.movedim(1, -2).flatten(-2)


class MultiHeadAttention(nn.Module):
    """Notebook 06's multi-head self-attention: ``forward(x, mask) -> (out (B, T, d_model), weights (B, H, T, T))``.

    ``forward(x, mask, need_weights=False)`` returns ``(out, None)``: the same output from the
    fused kernel (``F.scaled_dot_product_attention``), which never stores the ``(B, H, T, T)``
    weights: faster, and memory linear in T instead of quadratic (benchmarks/attention.py).
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0, bias: bool = True):
        super().__init__()
        self.n_heads = n_heads
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.k_proj = nn.Linear(d_model, d_model, bias=bias)
        self.v_proj = nn.Linear(d_model, d_model, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None,
                need_weights: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
        q, k, v = (split_heads(proj(x), self.n_heads) for proj in (self.q_proj, self.k_proj, self.v_proj))
        if not need_weights:
            dropout_p = self.dropout.p if self.training else 0.0  # on the weights, inside the kernel
            return self.out_proj(merge_heads(_fused_attention(q, k, v, mask, dropout_p))), None
        heads, weights = attention(q, k, v, mask)
        if self.training and self.dropout.p > 0:
            heads = self.dropout(weights) @ v
        return self.out_proj(merge_heads(heads)), weights


def sinusoidal_positional_encoding(T: int, d_model: int) -> torch.Tensor:
    """Notebook 07's interleaved sinusoids, ``(T, d_model)`` in the default dtype."""
    position = torch.arange(T, dtype=torch.float64)[:, None]
    frequency = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float64) * (-math.log(10000.0) / d_model))
    angle = position * frequency  # (T, ceil(d_model / 2))
    pe = torch.stack([angle.sin(), angle.cos()], dim=-1).flatten(-2)[:, :d_model]  # sin, cos, sin, cos...
    return pe.to(torch.get_default_dtype())


class PositionalEncoding(nn.Module):
    """Notebook 07: adds the sinusoids (a buffer ``pe`` of shape ``(max_len, d_model)``), then dropout."""

    def __init__(self, d_model: int, max_len: int = 512, dropout: float = 0.0):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("pe", sinusoidal_positional_encoding(max_len, d_model))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(x + self.pe[: x.shape[1]])


class FeedForward(nn.Module):
    """Notebook 08's position-wise network: ``linear2(dropout(activation(linear1(x))))``."""

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.0, activation: str = "relu"):
        super().__init__()
        self.linear1 = nn.Linear(d_model, d_ff)
        self.linear2 = nn.Linear(d_ff, d_model)
        self.dropout = nn.Dropout(dropout)
        self.activation = {"relu": nn.ReLU(), "gelu": nn.GELU()}[activation]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear2(self.dropout(self.activation(self.linear1(x))))


class EncoderBlock(nn.Module):
    """Notebook 08's encoder layer (post-LN, or pre-LN with ``norm_first=True``), equal to
    ``nn.TransformerEncoderLayer(batch_first=True)`` with the same weights.

    Keeps the last forward's attention weights in ``self.attention_weights`` (for plots). With
    ``keep_attention_weights=False`` (or setting that attribute later) it keeps ``None`` instead and
    attends with the fused kernel: the same output, faster, without the ``(B, H, T, T)`` weights.
    """

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float = 0.0,
                 norm_first: bool = False, activation: str = "relu", keep_attention_weights: bool = True):
        super().__init__()
        self.norm_first = norm_first
        self.keep_attention_weights = keep_attention_weights
        self.self_attn = MultiHeadAttention(d_model, n_heads, dropout=dropout)
        self.ff = FeedForward(d_model, d_ff, dropout=dropout, activation=activation)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.attention_weights: torch.Tensor | None = None

    def _attend(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        out, self.attention_weights = self.self_attn(x, mask, need_weights=self.keep_attention_weights)
        return self.dropout1(out)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if self.norm_first:
            x = x + self._attend(self.norm1(x), mask)
            return x + self.dropout2(self.ff(self.norm2(x)))
        x = self.norm1(x + self._attend(x, mask))
        return self.norm2(x + self.dropout2(self.ff(x)))


class TransformerEncoder(nn.Module):
    """Notebook 09's stack: embedding + positions -> ``n_layers`` blocks -> final norm (pre-LN only).

    ``forward(token_ids, mask=None, return_all_layers=False)``; with ``return_all_layers`` a list of
    ``n_layers + 1`` tensors: the embedded input, then each layer's output.
    ``keep_attention_weights`` goes to every block (see :class:`EncoderBlock`): pass False to train
    or measure with the fused attention kernel when no plot needs the weights.
    """

    def __init__(self, vocab_size: int, d_model: int, n_heads: int, d_ff: int, n_layers: int,
                 max_len: int = 512, dropout: float = 0.0, norm_first: bool = False,
                 keep_attention_weights: bool = True):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, d_model)
        self.pos_encoding = PositionalEncoding(d_model, max_len=max_len, dropout=dropout)
        self.layers = nn.ModuleList([EncoderBlock(d_model, n_heads, d_ff, dropout, norm_first,
                                                  keep_attention_weights=keep_attention_weights)
                                     for _ in range(n_layers)])
        self.final_norm = nn.LayerNorm(d_model) if norm_first else nn.Identity()

    def forward(self, token_ids: torch.Tensor, mask: torch.Tensor | None = None,
                return_all_layers: bool = False):
        states = [self.pos_encoding(self.embedding(token_ids))]
        for layer in self.layers:
            states.append(layer(states[-1], mask))
        states[-1] = self.final_norm(states[-1])
        return states if return_all_layers else states[-1]
