"""Correct answers in other styles for notebook 07."""
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import variant


@variant("sinusoidal_positional_encoding", "numpy_loops")
def pe_numpy_loops(T, d_model):
    pe = np.zeros((T, d_model))
    for pos in range(T):
        for i in range(0, d_model, 2):
            angle = pos / 10000 ** (i / d_model)
            pe[pos, i] = math.sin(angle)
            if i + 1 < d_model:
                pe[pos, i + 1] = math.cos(angle)
    return pe


@variant("sinusoidal_positional_encoding", "exp_log_float32")
def pe_exp_log(T, d_model):
    """The Annotated Transformer's recipe, in float32: 1/10000**(2i/d) = exp(-2i ln(10000) / d)."""
    position = torch.arange(T, dtype=torch.float32).unsqueeze(1)
    div_term = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
    pe = torch.zeros(T, d_model)
    pe[:, 0::2] = torch.sin(position * div_term)
    pe[:, 1::2] = torch.cos(position * div_term)[:, : d_model // 2]
    return pe


@variant("sinusoidal_positional_encoding", "stack_flatten")
def pe_stack_flatten(T, d_model):
    """Interleave by stacking (sin, cos) on a new last axis and flattening pairs."""
    pairs = (d_model + 1) // 2
    freq = 10000.0 ** (-2 * torch.arange(pairs, dtype=torch.float64) / d_model)
    angle = torch.outer(torch.arange(T, dtype=torch.float64), freq)
    return torch.stack([angle.sin(), angle.cos()], dim=-1).flatten(1)[:, :d_model]


class _Table(nn.Module):
    def __init__(self, d_model, max_len=512, dropout=0.0):
        super().__init__()
        self.p = dropout
        self.register_buffer("pe", pe_stack_flatten(max_len, d_model).float())


@variant("PositionalEncoding", "functional_dropout")
class PEFunctional(_Table):
    def forward(self, x):
        return F.dropout(x + self.pe[: x.size(1)].unsqueeze(0), self.p, training=self.training)


@variant("PositionalEncoding", "non_persistent_numpy")
class PENonPersistent(nn.Module):
    """A buffer left out of the state dict (it can always be recomputed), built with numpy in float64."""

    def __init__(self, d_model, max_len=512, dropout=0.0):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("pe", torch.from_numpy(pe_numpy_loops(max_len, d_model)), persistent=False)

    def forward(self, x):
        return self.dropout(x + self.pe.narrow(0, 0, x.shape[1]).to(x.dtype))


@variant("PositionalEncoding", "float32_recipe")
class PEFloat32(nn.Module):
    def __init__(self, d_model, max_len=512, dropout=0.0):
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)
        self.register_buffer("pe", pe_exp_log(max_len, d_model))

    def forward(self, x):
        B, T, _ = x.shape
        return self.dropout(x + self.pe[:T].expand(B, T, -1))


# --- float32 inside -----------------------------------------------------------------------


@variant("sinusoidal_positional_encoding", "float32_into_float64_table")
def pe_float32_into_float64(T, d_model):
    """Angles in float32 (float32 constants), written into a float64 table: the values keep
    float32 rounding (about 1e-6 for angles near 40) in a float64 output."""
    position = torch.arange(T, dtype=torch.float32).unsqueeze(1)  # (T, 1)
    base = torch.tensor(10000.0, dtype=torch.float32)
    two_i = torch.arange(0, d_model, 2, dtype=torch.float32)  # (ceil(d_model / 2),)
    angle = position / base ** (two_i / d_model)  # (T, ceil(d_model / 2)), float32
    pe = torch.zeros(T, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle[:, : d_model // 2])
    return pe


@variant("PositionalEncoding", "float32_inside")
class PEFloat32Inside(nn.Module):
    """The table stays float32 whatever the module's dtype; the sum is done in float32 and
    returned in x's dtype."""

    def __init__(self, d_model, max_len=512, dropout=0.0):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("pe", pe_float32_into_float64(max_len, d_model).float())

    def forward(self, x):
        T = x.size(1)
        return self.dropout(x.float() + self.pe[:T].float()).to(x.dtype)
