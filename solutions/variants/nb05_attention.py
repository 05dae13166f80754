"""Correct answers in other styles for notebook 05."""
import math

import torch
import torch.nn.functional as F
from torch import nn

from . import variant


@variant("scaled_dot_product_attention", "einsum_prescaled")
def sdpa_einsum(q, k, v, mask=None):
    # Scale the queries first; "..." carries any leading dims.
    scores = torch.einsum("...qd,...kd->...qk", q / math.sqrt(q.size(-1)), k)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    if mask is not None:
        weights = torch.where(mask, weights, torch.zeros_like(weights))
    return torch.einsum("...qk,...kd->...qd", weights, v), weights


@variant("scaled_dot_product_attention", "min_fill_exp")
def sdpa_min_fill(q, k, v, mask=None):
    # A finite fill value and an explicit exp: no NaN ever appears, even for fully masked rows.
    scores = q @ k.mT / q.size(-1) ** 0.5
    allowed = torch.ones_like(scores, dtype=torch.bool) if mask is None else mask.expand_as(scores)
    scores = scores.masked_fill(~allowed, torch.finfo(scores.dtype).min)
    exp = torch.exp(scores - scores.amax(dim=-1, keepdim=True)) * allowed
    total = exp.sum(dim=-1, keepdim=True)
    weights = exp / total.clamp_min(torch.finfo(scores.dtype).tiny)
    return weights @ v, weights


@variant("scaled_dot_product_attention", "nan_to_num")
def sdpa_nan_to_num(q, k, v, mask=None):
    scores = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(k.shape[-1]))
    if mask is not None:
        scores = scores.masked_fill(mask.logical_not(), -math.inf)
    weights = torch.nan_to_num(F.softmax(scores, dim=-1), nan=0.0)
    return torch.matmul(weights, v), weights


@variant("scaled_dot_product_attention", "float32")
def sdpa_float32(q, k, v, mask=None):
    q, k, v = q.float(), k.float(), v.float()
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    if mask is not None:
        weights = weights.masked_fill(~mask, 0.0)
    return weights @ v, weights


def _attention(q, k, v, mask):
    scores = q @ k.transpose(-2, -1) / math.sqrt(k.size(-1))
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    if mask is not None:
        weights = weights.masked_fill(~mask, 0.0)
    return weights @ v, weights


@variant("SelfAttention", "functional_einsum")
class SelfAttentionFunctional(nn.Module):
    def __init__(self, d_in, d_out, bias=False):
        super().__init__()
        self.q_proj = nn.Linear(d_in, d_out, bias=bias)
        self.k_proj = nn.Linear(d_in, d_out, bias=bias)
        self.v_proj = nn.Linear(d_in, d_out, bias=bias)

    def forward(self, x, mask=None):
        q, k, v = (F.linear(x, layer.weight, layer.bias) for layer in (self.q_proj, self.k_proj, self.v_proj))
        scores = torch.einsum("btd,bsd->bts", q, k) / math.sqrt(q.size(-1))
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        if mask is not None:
            weights = weights.masked_fill(~mask, 0.0)
        return torch.einsum("bts,bsd->btd", weights, v), weights


@variant("SelfAttention", "loop_over_batch")
class SelfAttentionLoop(nn.Module):
    def __init__(self, d_in, d_out, bias=False):
        super().__init__()
        self.q_proj = nn.Linear(d_in, d_out, bias=bias)
        self.k_proj = nn.Linear(d_in, d_out, bias=bias)
        self.v_proj = nn.Linear(d_in, d_out, bias=bias)

    def forward(self, x, mask=None):
        B, T, _ = x.shape
        full = None if mask is None else mask.expand(B, T, T)
        outs, weights = [], []
        for b in range(B):  # one sentence at a time, as in the numpy track
            xb = x[b]
            out, w = _attention(self.q_proj(xb), self.k_proj(xb), self.v_proj(xb), None if full is None else full[b])
            outs.append(out)
            weights.append(w)
        return torch.stack(outs), torch.stack(weights)


@variant("SelfAttention", "explicit_matmul_float32")
class SelfAttentionFloat32(nn.Module):
    def __init__(self, d_in, d_out, bias=False):
        super().__init__()
        self.q_proj = nn.Linear(d_in, d_out, bias=bias)
        self.k_proj = nn.Linear(d_in, d_out, bias=bias)
        self.v_proj = nn.Linear(d_in, d_out, bias=bias)

    def forward(self, x, mask=None):
        x = x.float()

        def project(layer):
            y = x @ layer.weight.float().T  # nn.Linear's convention: W is (d_out, d_in)
            return y if layer.bias is None else y + layer.bias.float()

        return _attention(project(self.q_proj), project(self.k_proj), project(self.v_proj), mask)


# --- float32 inside, returned in the inputs' dtype ------------------------------------------
# What a student who "saves memory" or copies GPU code writes: every check runs in float64,
# so these answers carry float32 rounding (about 1e-7 relative) in a float64 output.


@variant("scaled_dot_product_attention", "float32_inside")
def sdpa_float32_inside(q, k, v, mask=None):
    q32, k32, v32 = q.float(), k.float(), v.float()
    scores = q32 @ k32.transpose(-2, -1) / math.sqrt(q.size(-1))  # (..., T_q, T_k), float32
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    if mask is not None:
        weights = weights.masked_fill(~mask, 0.0)
    return (weights @ v32).to(q.dtype), weights.to(q.dtype)


@variant("scaled_dot_product_attention", "float32_scale_constant")
def sdpa_float32_scale(q, k, v, mask=None):
    # The scale as a float32 tensor: the float64 scores stay float64 (a 0-dim tensor does not
    # change the dtype) but 1/sqrt(d_k) is rounded to float32.
    scale = torch.tensor(q.size(-1), dtype=torch.float32).rsqrt()
    scores = (q @ k.transpose(-2, -1)) * scale
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    if mask is not None:
        weights = weights.masked_fill(~mask, 0.0)
    return weights @ v, weights


@variant("SelfAttention", "float32_inside")
class SelfAttentionFloat32Inside(nn.Module):
    def __init__(self, d_in, d_out, bias=False):
        super().__init__()
        self.q_proj = nn.Linear(d_in, d_out, bias=bias)
        self.k_proj = nn.Linear(d_in, d_out, bias=bias)
        self.v_proj = nn.Linear(d_in, d_out, bias=bias)

    def forward(self, x, mask=None):
        x32 = x.float()
        q, k, v = (F.linear(x32, layer.weight.float(), None if layer.bias is None else layer.bias.float())
                   for layer in (self.q_proj, self.k_proj, self.v_proj))  # (B, T, d_out), float32
        out, weights = _attention(q, k, v, mask)
        return out.to(x.dtype), weights.to(x.dtype)
