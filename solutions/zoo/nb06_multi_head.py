"""Known mistakes for notebook 06: split_heads, merge_heads, MultiHeadAttention."""
import math

import torch
import torch.nn.functional as F
from torch import nn

from . import bug

# --- split_heads ---------------------------------------------------------------------------


@bug("split_heads", "reshape_no_transpose", "the heads are split by reshape alone, without a transpose",
     "reshape(B, H, T, d_head) reads the numbers in memory order and mixes tokens between heads. "
     "Reshape to (B, T, H, d_head) first, then .transpose(1, 2).")
def split_reshape_only(x, n_heads):
    B, T, d_model = x.shape
    return x.reshape(B, n_heads, T, d_model // n_heads)


@bug("split_heads", "missing_transpose", "split_heads returns (B, T, H, d_head): the transpose is missing",
     "After reshape(B, T, H, d_head), call .transpose(1, 2) so that the shape is (B, H, T, d_head).")
def split_no_transpose(x, n_heads):
    B, T, d_model = x.shape
    return x.reshape(B, T, n_heads, d_model // n_heads)


@bug("split_heads", "strided_heads", "each head takes every H-th feature instead of a block of d_head consecutive ones",
     "reshape(B, T, d_head, H) puts H last, so head h gets features h, h+H, h+2H...: "
     "reshape to (B, T, H, d_head) (heads first), then transpose(1, 2).")
def split_strided(x, n_heads):
    B, T, d_model = x.shape
    return x.reshape(B, T, d_model // n_heads, n_heads).permute(0, 3, 1, 2)


# --- merge_heads ---------------------------------------------------------------------------


@bug("merge_heads", "reshape_no_transpose", "the heads are merged by reshape alone, without a transpose",
     "x is (B, H, T, d_head): reshape(B, T, H * d_head) mixes tokens. Call .transpose(1, 2) first "
     "(back to (B, T, H, d_head)), then reshape.")
def merge_reshape_only(x):
    B, H, T, d_head = x.shape
    return x.reshape(B, T, H * d_head)


@bug("merge_heads", "feature_major", "the heads are interleaved feature by feature instead of placed side by side",
     "permute(0, 2, 3, 1) puts d_head before H, so the output is h0f0, h1f0, ...: use transpose(1, 2) "
     "(B, T, H, d_head) so that each head's d_head features stay together.")
def merge_feature_major(x):
    B, H, T, d_head = x.shape
    return x.permute(0, 2, 3, 1).reshape(B, T, H * d_head)


@bug("merge_heads", "cat_over_time", "the heads are concatenated along the time axis instead of the feature axis",
     "torch.cat(x.unbind(1), dim=1) stacks the heads one after another in time, (B, H*T, d_head): "
     "concatenate along the last dimension (dim=-1).")
def merge_cat_time(x):
    return torch.cat(x.unbind(1), dim=1)


# --- MultiHeadAttention ----------------------------------------------------------------------


class _MHA(nn.Module):
    """The correct module, cut into pieces that each bug below gets wrong one at a time."""

    def __init__(self, d_model, n_heads, dropout=0.0, bias=True):
        super().__init__()
        self.n_heads = n_heads
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.k_proj = nn.Linear(d_model, d_model, bias=bias)
        self.v_proj = nn.Linear(d_model, d_model, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def split(self, x):
        B, T, d_model = x.shape
        return x.reshape(B, T, self.n_heads, d_model // self.n_heads).transpose(1, 2)

    def merge(self, x):
        B, H, T, d_head = x.shape
        return x.transpose(1, 2).reshape(B, T, H * d_head)

    def scale(self, q):
        return math.sqrt(q.size(-1))

    def allowed(self, mask):
        return mask

    def drop(self, weights):
        return self.dropout(weights)

    def project_out(self, merged):
        return self.out_proj(merged)

    def qkv(self, x):
        return self.q_proj(x), self.k_proj(x), self.v_proj(x)

    def forward(self, x, mask=None):
        q, k, v = (self.split(t) for t in self.qkv(x))
        scores = q @ k.transpose(-2, -1) / self.scale(q)
        if mask is not None:
            allowed = self.allowed(mask)
            scores = scores.masked_fill(~allowed, float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        if mask is not None:
            weights = weights.masked_fill(~allowed, 0.0)  # fully masked rows: zeros, not NaN
        heads = self.drop(weights) @ v
        return self.project_out(self.merge(heads)), weights


@bug("MultiHeadAttention", "split_no_transpose", "the heads are split by reshape alone, without a transpose",
     "q_proj(x).reshape(B, H, T, d_head) mixes tokens between heads: reshape to (B, T, H, d_head), "
     "then .transpose(1, 2).")
class MHASplitNoTranspose(_MHA):
    def split(self, x):
        B, T, d_model = x.shape
        return x.reshape(B, self.n_heads, T, d_model // self.n_heads)


@bug("MultiHeadAttention", "merge_no_transpose", "the heads are merged by reshape alone, without a transpose",
     "Before out_proj, the heads (B, H, T, d_head) need .transpose(1, 2) back to (B, T, H, d_head), "
     "then reshape(B, T, d_model).")
class MHAMergeNoTranspose(_MHA):
    def merge(self, x):
        B, H, T, d_head = x.shape
        return x.reshape(B, T, H * d_head)


@bug("MultiHeadAttention", "scale_d_model", "the scores are divided by sqrt(d_model) instead of sqrt(d_head)",
     "Each head computes dot products of d_head numbers: divide by math.sqrt(d_head) = sqrt(d_model / n_heads).")
class MHAScaleDModel(_MHA):
    def scale(self, q):
        return math.sqrt(q.size(-1) * self.n_heads)


@bug("MultiHeadAttention", "no_out_proj", "the output projection is missing",
     "After merging the heads, pass the result through self.out_proj: it mixes what the heads found.")
class MHANoOutProj(_MHA):
    def project_out(self, merged):
        return merged


@bug("MultiHeadAttention", "q_k_swapped", "queries and keys are swapped (k_proj used for queries, q_proj for keys)",
     "Queries come from self.q_proj(x) and keys from self.k_proj(x); the scores are q @ k.transpose(-2, -1).")
class MHAQKSwapped(_MHA):
    def qkv(self, x):
        return self.k_proj(x), self.q_proj(x), self.v_proj(x)


@bug("MultiHeadAttention", "dropout_in_eval", "dropout is active in eval mode",
     "F.dropout(w, p) drops at random even after model.eval(): use self.dropout (an nn.Dropout) or "
     "F.dropout(w, p, training=self.training).")
class MHADropoutInEval(_MHA):
    def drop(self, weights):
        return F.dropout(weights, self.dropout.p, training=True)


@bug("MultiHeadAttention", "mask_inverted", "the mask polarity is inverted (True treated as 'blocked')",
     "In this course True means 'may attend': put -inf where the mask is False (scores.masked_fill(~mask, -inf)). "
     "nn.MultiheadAttention uses the opposite convention.")
class MHAMaskInverted(_MHA):
    def allowed(self, mask):
        return ~mask
