"""Notebook 08: the Transformer encoder block.

Self-attention mixes information between tokens; the feed-forward network then
transforms each token on its own (the non-linear part). Each sub-layer sits on a
residual connection and is normalised with LayerNorm, after the residual
(post-LN, the original Transformer and BERT) or before the sub-layer (pre-LN,
GPT-2 and most recent models).
"""
import torch
import torch.nn.functional as F
from torch import nn

from .multi_head import MultiHeadAttention

ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}


def layer_norm(x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """y = (x - mean) / sqrt(var + eps) * gamma + beta over the last dimension.

    The variance is biased (divides by d, not d - 1) and eps sits inside the square
    root, as in ``nn.LayerNorm``. x: ``(..., d)``; gamma, beta: ``(d,)``.
    """
    mean = x.mean(dim=-1, keepdim=True)  # (..., 1)
    var = x.var(dim=-1, keepdim=True, correction=0)  # (..., 1), biased
    return (x - mean) / torch.sqrt(var + eps) * gamma + beta


class FeedForward(nn.Module):
    """The position-wise network: linear2(dropout(activation(linear1(x)))).

    Applied to every token independently: ``(B, T, d_model) -> (B, T, d_ff) -> (B, T, d_model)``.
    """

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.0, activation: str = "relu"):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        self.linear1 = nn.Linear(d_model, d_ff)
        self.linear2 = nn.Linear(d_ff, d_model)
        self.dropout = nn.Dropout(dropout)
        self.activation = ACTIVATIONS[activation]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear2(self.dropout(self.activation(self.linear1(x))))


class EncoderBlock(nn.Module):
    """One encoder layer, equal to ``nn.TransformerEncoderLayer(batch_first=True)`` with the
    same weights.

    post-LN (``norm_first=False``)::

        x = norm1(x + dropout1(self_attn(x)))
        x = norm2(x + dropout2(ff(x)))

    pre-LN (``norm_first=True``)::

        x = x + dropout1(self_attn(norm1(x)))
        x = x + dropout2(ff(norm2(x)))
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        d_ff: int,
        dropout: float = 0.0,
        norm_first: bool = False,
        activation: str = "relu",
    ):
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, n_heads, dropout=dropout)
        self.ff = FeedForward(d_model, d_ff, dropout=dropout, activation=activation)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """x: ``(B, T, d_model)``; mask: bool broadcastable to ``(B, H, T, T)``, True = may attend.
        Returns ``(B, T, d_model)``."""
        if self.norm_first:
            x = x + self.dropout1(self.self_attn(self.norm1(x), mask)[0])  # attention of the normalised x
            x = x + self.dropout2(self.ff(self.norm2(x)))
        else:
            x = self.norm1(x + self.dropout1(self.self_attn(x, mask)[0]))  # normalise after the residual add
            x = self.norm2(x + self.dropout2(self.ff(x)))
        return x
