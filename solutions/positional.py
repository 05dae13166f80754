"""Notebook 07: telling attention where each token is.

Self-attention alone is permutation-equivariant: shuffle the tokens and the outputs
shuffle the same way. Adding a position-dependent vector to each token breaks that.
"""
import torch
from torch import nn


def sinusoidal_positional_encoding(T: int, d_model: int) -> torch.Tensor:
    """The sinusoids of "Attention Is All You Need", interleaved:

    ``pe[pos, 2i] = sin(pos / 10000**(2i / d_model))``, ``pe[pos, 2i+1] = cos(pos / 10000**(2i / d_model))``.

    Returns ``(T, d_model)`` in the default dtype (computed in float64).
    """
    position = torch.arange(T, dtype=torch.float64).unsqueeze(1)  # (T, 1)
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)  # (ceil(d_model / 2),)
    angle = position / 10000 ** (two_i / d_model)  # (T, ceil(d_model / 2))
    pe = torch.zeros(T, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle[:, : d_model // 2])  # odd d_model: one cosine fewer
    return pe.to(torch.get_default_dtype())


class PositionalEncoding(nn.Module):
    """Adds the sinusoidal encoding to a batch of embeddings, then applies dropout.

    ``pe`` is a buffer: it moves with ``.to(device)`` and ``.double()`` but is not trained.
    """

    def __init__(self, d_model: int, max_len: int = 512, dropout: float = 0.0):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("pe", sinusoidal_positional_encoding(max_len, d_model))  # (max_len, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: ``(B, T, d_model)`` with T <= max_len. Returns ``(B, T, d_model)``."""
        T = x.size(1)
        if T > self.pe.size(0):
            raise ValueError(f"sequence length {T} exceeds max_len={self.pe.size(0)}")
        return self.dropout(x + self.pe[:T])  # (T, d_model) broadcasts over B
