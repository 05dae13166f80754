"""Notebook 06: multi-head attention, several attention patterns computed in parallel."""
import torch
from torch import nn

from .attention import scaled_dot_product_attention


def split_heads(x: torch.Tensor, n_heads: int) -> torch.Tensor:
    """``(B, T, H * d_head)`` -> ``(B, H, T, d_head)``.

    The last dimension is cut into H consecutive chunks; head h gets features
    ``h * d_head : (h + 1) * d_head``. The transpose brings heads next to the batch,
    so one batched matmul runs every head at once.
    """
    B, T, d_model = x.shape
    if d_model % n_heads != 0:
        raise ValueError(f"d_model={d_model} is not divisible by n_heads={n_heads}")
    d_head = d_model // n_heads
    return x.reshape(B, T, n_heads, d_head).transpose(1, 2)  # (B, T, H, d_head) -> (B, H, T, d_head)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """``(B, H, T, d_head)`` -> ``(B, T, H * d_head)``, the inverse of :func:`split_heads`."""
    B, H, T, d_head = x.shape
    return x.transpose(1, 2).reshape(B, T, H * d_head)  # (B, T, H, d_head) -> (B, T, H * d_head)


class MultiHeadAttention(nn.Module):
    """Multi-head self-attention, equal to ``nn.MultiheadAttention(batch_first=True)``
    once its packed ``in_proj_weight`` is split into ``q_proj, k_proj, v_proj``.

    Each head attends with its own slice of the projections (d_head = d_model / H,
    scaled by 1/sqrt(d_head)); ``out_proj`` mixes the concatenated heads.
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0, bias: bool = True):
        super().__init__()
        if d_model % n_heads != 0:
            raise ValueError(f"d_model={d_model} is not divisible by n_heads={n_heads}")
        self.n_heads = n_heads
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.k_proj = nn.Linear(d_model, d_model, bias=bias)
        self.v_proj = nn.Linear(d_model, d_model, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """x: ``(B, T, d_model)``; mask: bool broadcastable to ``(B, H, T, T)``, True = may attend
        (a key-padding mask ``(B, T)`` becomes ``mask[:, None, None, :]``).

        Returns ``(out (B, T, d_model), weights (B, H, T, T))``; the weights are before dropout.
        """
        q = split_heads(self.q_proj(x), self.n_heads)  # (B, H, T, d_head)
        k = split_heads(self.k_proj(x), self.n_heads)  # (B, H, T, d_head)
        v = split_heads(self.v_proj(x), self.n_heads)  # (B, H, T, d_head)
        heads, weights = scaled_dot_product_attention(q, k, v, mask)  # (B, H, T, d_head), (B, H, T, T)
        if self.training and self.dropout.p > 0:
            # Dropout acts on the attention weights, as in nn.MultiheadAttention.
            heads = self.dropout(weights) @ v
        return self.out_proj(merge_heads(heads)), weights  # (B, T, d_model)
