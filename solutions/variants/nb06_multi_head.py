"""Correct answers in other styles for notebook 06."""
import math

import torch
import torch.nn.functional as F
from torch import nn

from . import variant


@variant("split_heads", "view_permute")
def split_view_permute(x, n_heads):
    B, T, d_model = x.shape
    return x.contiguous().view(B, T, n_heads, -1).permute(0, 2, 1, 3)


@variant("split_heads", "chunk_stack")
def split_chunk_stack(x, n_heads):
    # chunk() makes fewer or unequal chunks when n_heads does not divide d_model: say so instead
    assert x.shape[-1] % n_heads == 0, f"{x.shape[-1]} features do not split into {n_heads} heads"
    return torch.stack(x.chunk(n_heads, dim=-1), dim=1)


@variant("split_heads", "loops")
def split_loops(x, n_heads):
    B, T, d_model = x.shape
    d_head, left_over = divmod(d_model, n_heads)
    if left_over:
        raise ValueError(f"d_model={d_model} does not split into {n_heads} heads")
    out = x.new_zeros(B, n_heads, T, d_head)
    for b in range(B):
        for h in range(n_heads):
            for t in range(T):
                out[b, h, t] = x[b, t, h * d_head:(h + 1) * d_head]
    return out


@variant("merge_heads", "permute_view")
def merge_permute_view(x):
    B, H, T, d_head = x.shape
    return x.permute(0, 2, 1, 3).contiguous().view(B, T, H * d_head)


@variant("merge_heads", "cat_heads")
def merge_cat_heads(x):
    return torch.cat(x.unbind(dim=1), dim=-1)


@variant("merge_heads", "flatten")
def merge_flatten(x):
    return x.transpose(1, 2).flatten(start_dim=2)


class _Skeleton(nn.Module):
    def __init__(self, d_model, n_heads, dropout=0.0, bias=True):
        super().__init__()
        self.n_heads = n_heads
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.k_proj = nn.Linear(d_model, d_model, bias=bias)
        self.v_proj = nn.Linear(d_model, d_model, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)
        self.dropout = nn.Dropout(dropout)


@variant("MultiHeadAttention", "einsum")
class MHAEinsum(_Skeleton):
    """Heads as an einsum axis; masked scores filled with the most negative float instead of -inf."""

    def forward(self, x, mask=None):
        B, T, d_model = x.shape
        H = self.n_heads
        q, k, v = (p(x).view(B, T, H, d_model // H) for p in (self.q_proj, self.k_proj, self.v_proj))
        scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(d_model // H)
        if mask is not None:
            allowed = torch.broadcast_to(mask, scores.shape)
            scores = torch.where(allowed, scores, torch.finfo(scores.dtype).min)
        weights = torch.softmax(scores, dim=-1)
        if mask is not None:
            weights = weights * allowed
        heads = torch.einsum("bhqk,bkhd->bqhd", F.dropout(weights, self.dropout.p, self.training), v)
        return self.out_proj(heads.reshape(B, T, d_model)), weights


@variant("MultiHeadAttention", "per_head_loop")
class MHAPerHeadLoop(_Skeleton):
    """One head at a time, with the rows of each projection that belong to that head."""

    def forward(self, x, mask=None):
        B, T, d_model = x.shape
        d_head = d_model // self.n_heads
        allowed = None if mask is None else torch.broadcast_to(mask, (B, self.n_heads, T, T))
        outputs, all_weights = [], []
        for h in range(self.n_heads):
            rows = slice(h * d_head, (h + 1) * d_head)
            q, k, v = (F.linear(x, p.weight[rows], None if p.bias is None else p.bias[rows])
                       for p in (self.q_proj, self.k_proj, self.v_proj))
            scores = q @ k.transpose(1, 2) / d_head ** 0.5
            if allowed is not None:
                scores = scores.masked_fill(~allowed[:, h], -math.inf)
            weights = torch.nan_to_num(torch.softmax(scores, dim=-1), nan=0.0)
            outputs.append(self.dropout(weights) @ v)
            all_weights.append(weights)
        return self.out_proj(torch.cat(outputs, dim=-1)), torch.stack(all_weights, dim=1)


@variant("MultiHeadAttention", "packed_float32")
class MHAPackedFloat32(_Skeleton):
    """q, k and v from one packed matmul, computed in float32 (outputs compared with float32 tolerance)."""

    def forward(self, x, mask=None):
        B, T, d_model = x.shape
        H = self.n_heads
        weight = torch.cat([self.q_proj.weight, self.k_proj.weight, self.v_proj.weight]).float()
        bias = None if self.q_proj.bias is None else torch.cat(
            [self.q_proj.bias, self.k_proj.bias, self.v_proj.bias]).float()
        packed = F.linear(x.float(), weight, bias).view(B, T, 3, H, d_model // H)
        q, k, v = packed.permute(2, 0, 3, 1, 4)  # each (B, H, T, d_head)
        scores = (q / math.sqrt(d_model // H)) @ k.transpose(-2, -1)
        if mask is not None:
            scores = scores.masked_fill(mask.logical_not(), float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        if mask is not None:
            weights = weights.masked_fill(mask.logical_not(), 0.0)
        heads = (self.dropout(weights) @ v).transpose(1, 2).reshape(B, T, d_model)
        out_bias = None if self.out_proj.bias is None else self.out_proj.bias.float()
        return F.linear(heads, self.out_proj.weight.float(), out_bias), weights


# --- float32 inside, returned in the inputs' dtype ------------------------------------------


@variant("split_heads", "float32_round_trip")
def split_float32(x, n_heads):
    B, T, d_model = x.shape
    heads = x.float().view(B, T, n_heads, d_model // n_heads).transpose(1, 2)  # (B, H, T, d_head)
    return heads.to(x.dtype)


@variant("merge_heads", "float32_round_trip")
def merge_float32(x):
    B, H, T, d_head = x.shape
    return x.float().transpose(1, 2).reshape(B, T, H * d_head).to(x.dtype)  # (B, T, H * d_head)


@variant("MultiHeadAttention", "float32_inside")
class MHAFloat32Inside(_Skeleton):
    """float32 copies of the weights, float32 activations, float64 out (x's dtype)."""

    def forward(self, x, mask=None):
        B, T, d_model = x.shape
        H = self.n_heads
        x32 = x.float()

        def project(layer, h):
            bias = None if layer.bias is None else layer.bias.float()
            return F.linear(h, layer.weight.float(), bias)

        q, k, v = (project(p, x32).view(B, T, H, -1).transpose(1, 2) for p in (self.q_proj, self.k_proj, self.v_proj))
        scores = q @ k.transpose(-2, -1) / math.sqrt(d_model // H)  # (B, H, T, T)
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        if mask is not None:
            weights = weights.masked_fill(~mask, 0.0)
        heads = (self.dropout(weights) @ v).transpose(1, 2).reshape(B, T, d_model)
        return project(self.out_proj, heads).to(x.dtype), weights.to(x.dtype)


@variant("MultiHeadAttention", "float32_scale_constant")
class MHAFloat32Scale(_Skeleton):
    """float64 everywhere except the scale, a float32 tensor (the product stays float64)."""

    def forward(self, x, mask=None):
        B, T, d_model = x.shape
        H = self.n_heads
        scale = torch.tensor(d_model // H, dtype=torch.float32) ** -0.5
        q, k, v = (p(x).view(B, T, H, -1).transpose(1, 2) for p in (self.q_proj, self.k_proj, self.v_proj))
        scores = (q @ k.transpose(-2, -1)) * scale  # (B, H, T, T)
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        if mask is not None:
            weights = weights.masked_fill(~mask, 0.0)
        heads = (self.dropout(weights) @ v).transpose(1, 2).reshape(B, T, d_model)
        return self.out_proj(heads), weights
