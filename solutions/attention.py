"""Notebook 05: attention in PyTorch, batched over any leading dimensions.

Masks are boolean with True = "may attend" (the convention of
``torch.nn.functional.scaled_dot_product_attention``; ``nn.MultiheadAttention``
uses the opposite polarity).
"""
import math

import torch
from torch import nn


def scaled_dot_product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """out = softmax(q k^T / sqrt(d_k)) v, with masked positions excluded.

    q: ``(..., T_q, d_k)``, k: ``(..., T_k, d_k)``, v: ``(..., T_k, d_v)``,
    mask: bool broadcastable to ``(..., T_q, T_k)``.
    Returns ``(out (..., T_q, d_v), weights (..., T_q, T_k))``. A query with no
    allowed key gets zero weights (and a zero output), never NaN.
    """
    d_k = q.size(-1)
    scores = q @ k.transpose(-2, -1) / math.sqrt(d_k)  # (..., T_q, T_k)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)  # (..., T_q, T_k)
    if mask is not None:
        # A fully masked row is softmax(all -inf) = NaN; zero it (and its gradient).
        weights = weights.masked_fill(~mask, 0.0)
    return weights @ v, weights  # (..., T_q, d_v)


class SelfAttention(nn.Module):
    """One attention head over a sequence: queries, keys and values all come from x.

    Projections follow ``nn.Linear``: ``q = x @ W_q.T (+ b)``, ``W_q`` of shape ``(d_out, d_in)``.
    """

    def __init__(self, d_in: int, d_out: int, bias: bool = False):
        super().__init__()
        self.q_proj = nn.Linear(d_in, d_out, bias=bias)
        self.k_proj = nn.Linear(d_in, d_out, bias=bias)
        self.v_proj = nn.Linear(d_in, d_out, bias=bias)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """x: ``(B, T, d_in)``. Returns ``(out (B, T, d_out), weights (B, T, T))``."""
        q = self.q_proj(x)  # (B, T, d_out)
        k = self.k_proj(x)  # (B, T, d_out)
        v = self.v_proj(x)  # (B, T, d_out)
        return scaled_dot_product_attention(q, k, v, mask)
