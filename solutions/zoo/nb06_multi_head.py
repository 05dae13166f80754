"""Known mistakes for notebook 06: split_heads, merge_heads, MultiHeadAttention."""
import math

import torch
import torch.nn.functional as F
from torch import nn

from . import bug

# --- split_heads ---------------------------------------------------------------------------


@bug("split_heads", "reshape_no_transpose", "the heads are split by reshape alone, without a transpose",
     "reshape(B, H, T, d_head) reads the numbers in memory order and mixes tokens between heads. "
     "Reshape to (B, T, H, d_head) first, then .transpose(1, 2).",
     mistake="reshape_no_transpose")
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



@bug("split_heads", "heads_as_size", "n_heads is used as the size of each head: the result has d_model // n_heads "
     "heads of n_heads features, shape (B, d_head, T, H)",
     "n_heads is how many heads there are; each has d_head = d_model // n_heads features: "
     "x.reshape(B, T, n_heads, d_head).transpose(1, 2).")
def split_heads_as_size(x, n_heads):
    B, T, d_model = x.shape
    return x.reshape(B, T, d_model // n_heads, n_heads).transpose(1, 2)

# --- merge_heads ---------------------------------------------------------------------------


@bug("merge_heads", "reshape_no_transpose", "the heads are merged by reshape alone, without a transpose",
     "x is (B, H, T, d_head): reshape(B, T, H * d_head) mixes tokens. Call .transpose(1, 2) first "
     "(back to (B, T, H, d_head)), then reshape.",
     mistake="reshape_no_transpose")
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



@bug("merge_heads", "view_not_contiguous", "merge_heads calls .view on the transposed tensor, which is not "
     "contiguous in memory (RuntimeError: view size is not compatible...)",
     "After transpose(1, 2) the numbers are no longer in row order: use .reshape(B, T, H * d_head), or "
     ".contiguous().view(...).")
def merge_view_not_contiguous(x):
    B, H, T, d_head = x.shape
    return x.transpose(1, 2).view(B, T, H * d_head)

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

    softmax_dim = -1  # the keys
    fill = float("-inf")  # what masked scores become
    zero_masked = True  # zero the masked weights after the softmax (fully masked rows: zeros, not NaN)
    mask_after_softmax = False

    def weights_of(self, scores, allowed):
        if allowed is None:
            return torch.softmax(scores, dim=self.softmax_dim)
        if self.mask_after_softmax:
            return torch.softmax(scores, dim=self.softmax_dim).masked_fill(~allowed, 0.0)
        weights = torch.softmax(scores.masked_fill(~allowed, self.fill), dim=self.softmax_dim)
        return weights.masked_fill(~allowed, 0.0) if self.zero_masked else weights

    def forward(self, x, mask=None):
        q, k, v = (self.split(t) for t in self.qkv(x))  # (B, H, T, d_head)
        scores = q @ k.transpose(-2, -1) / self.scale(q)  # (B, H, T, T)
        weights = self.weights_of(scores, None if mask is None else self.allowed(mask))
        heads = self.drop(weights) @ v
        return self.project_out(self.merge(heads)), weights


@bug("MultiHeadAttention", "split_no_transpose", "the heads are split by reshape alone, without a transpose",
     "q_proj(x).reshape(B, H, T, d_head) mixes tokens between heads: reshape to (B, T, H, d_head), "
     "then .transpose(1, 2).",
     mistake="reshape_no_transpose")
class MHASplitNoTranspose(_MHA):
    def split(self, x):
        B, T, d_model = x.shape
        return x.reshape(B, self.n_heads, T, d_model // self.n_heads)


@bug("MultiHeadAttention", "merge_no_transpose", "the heads are merged by reshape alone, without a transpose",
     "Before out_proj, the heads (B, H, T, d_head) need .transpose(1, 2) back to (B, T, H, d_head), "
     "then reshape(B, T, d_model).",
     mistake="reshape_no_transpose")
class MHAMergeNoTranspose(_MHA):
    def merge(self, x):
        B, H, T, d_head = x.shape
        return x.reshape(B, T, H * d_head)


@bug("MultiHeadAttention", "scale_d_model", "the scores are divided by sqrt(d_model) instead of sqrt(d_head)",
     "Each head computes dot products of d_head numbers: divide by math.sqrt(d_head) = sqrt(d_model / n_heads).",
     mistake="missing_scale")
class MHAScaleDModel(_MHA):
    def scale(self, q):
        return math.sqrt(q.size(-1) * self.n_heads)


# Before no_out_proj: with dropout = 1 in training both give zeros, and this one is what that check tests.
@bug("MultiHeadAttention", "dropout_on_output", "dropout acts on the output instead of on the attention weights",
     "In nn.MultiheadAttention (and this course) dropout acts on the weights, before weights @ v: "
     "heads = self.dropout(weights) @ v; the output projection is not dropped.")
class MHADropoutOnOutput(_MHA):
    def drop(self, weights):
        return weights

    def project_out(self, merged):
        return self.dropout(self.out_proj(merged))


@bug("MultiHeadAttention", "no_out_proj", "the output projection is missing",
     "After merging the heads, pass the result through self.out_proj: it mixes what the heads found.",
     mistake="no_out_proj")
class MHANoOutProj(_MHA):
    def project_out(self, merged):
        return merged


@bug("MultiHeadAttention", "q_k_swapped", "queries and keys are swapped (k_proj used for queries, q_proj for keys)",
     "Queries come from self.q_proj(x) and keys from self.k_proj(x); the scores are q @ k.transpose(-2, -1).",
     mistake="qkv_swapped")
class MHAQKSwapped(_MHA):
    def qkv(self, x):
        return self.k_proj(x), self.q_proj(x), self.v_proj(x)


@bug("MultiHeadAttention", "dropout_in_eval", "dropout is active in eval mode",
     "F.dropout(w, p) drops at random even after model.eval(): use self.dropout (an nn.Dropout) or "
     "F.dropout(w, p, training=self.training).",
     mistake="dropout_in_eval")
class MHADropoutInEval(_MHA):
    def drop(self, weights):
        return F.dropout(weights, self.dropout.p, training=True)


@bug("MultiHeadAttention", "mask_inverted", "the mask polarity is inverted (True treated as 'blocked')",
     "In this course True means 'may attend': put -inf where the mask is False (scores.masked_fill(~mask, -inf)). "
     "nn.MultiheadAttention uses the opposite convention.",
     mistake="mask_polarity")
class MHAMaskInverted(_MHA):
    def allowed(self, mask):
        return ~mask



@bug("MultiHeadAttention", "no_scale", "the scores are not divided by sqrt(d_head)",
     "Divide q @ k.transpose(-2, -1) by math.sqrt(d_head) before the softmax, with d_head = d_model // n_heads.",
     mistake="missing_scale")
class MHANoScale(_MHA):
    def scale(self, q):
        return 1.0


@bug("MultiHeadAttention", "wrong_axis", "the softmax normalises over the queries (dim=-2) instead of the keys",
     "scores is (B, H, T_q, T_k): each query's weights must sum to 1 over the keys, torch.softmax(scores, dim=-1).",
     mistake="softmax_wrong_axis")
class MHAWrongAxis(_MHA):
    softmax_dim = -2


@bug("MultiHeadAttention", "mask_after_softmax", "the mask is applied after the softmax, without renormalising",
     "Fill the scores with -inf where the mask is False *before* the softmax, so the allowed weights sum to 1.",
     mistake="mask_after_softmax")
class MHAMaskAfterSoftmax(_MHA):
    mask_after_softmax = True


@bug("MultiHeadAttention", "fill_zero", "masked scores are set to 0 instead of -inf, so masked keys still get weight",
     "exp(0) = 1 is an ordinary weight: scores.masked_fill(~mask, float('-inf')) makes masked weights exactly 0.",
     mistake="fill_zero")
class MHAFillZero(_MHA):
    fill = 0.0
    zero_masked = False


@bug("MultiHeadAttention", "nan_rows", "a query with no allowed key gives NaN (softmax of all -inf) instead of zeros",
     "After the softmax, set the masked weights to 0 (weights.masked_fill(~mask, 0.0)): that also zeroes the rows "
     "where every key is masked.",
     mistake="nan_fully_masked")
class MHANanRows(_MHA):
    zero_masked = False


def _times_weight(x, layer):
    """x @ W (+ b): the weight used as it is stored, (out, in), without the transpose."""
    y = x @ layer.weight
    return y if layer.bias is None else y + layer.bias


@bug("MultiHeadAttention", "weight_not_transposed", "the projections use x @ W instead of x @ W.T "
     "(nn.Linear stores W as (out, in))",
     "Call the layers themselves, self.q_proj(x) ... self.out_proj(h): they compute x @ weight.T + bias. "
     "With square d_model x d_model weights, x @ weight runs without error but gives other numbers.",
     mistake="weight_not_transposed")
class MHAWeightNotTransposed(_MHA):
    def qkv(self, x):
        return tuple(_times_weight(x, layer) for layer in (self.q_proj, self.k_proj, self.v_proj))

    def project_out(self, merged):
        return _times_weight(merged, self.out_proj)


@bug("MultiHeadAttention", "seq_first", "batch and time axes are swapped: x is treated as (T, B, d_model), "
     "the default of nn.MultiheadAttention, so the sentences of a batch attend to each other",
     "In this course x is (B, T, d_model) (batch_first): attention mixes the T words of each sentence, "
     "and the weights have shape (B, H, T, T).",
     mistake="batch_time_swapped")
class MHASeqFirst(_MHA):
    def forward(self, x, mask=None):
        out, weights = super().forward(x.transpose(0, 1), mask)  # attends over the batch axis
        return out.transpose(0, 1), weights


@bug("MultiHeadAttention", "mask_repeat", "the per-sentence mask is copied to the heads with repeat instead of "
     "repeat_interleave: with (B, H) flattened to B*H, sentence b's heads get the masks of other sentences",
     "Flattening (B, H, T, d_head) to (B*H, T, d_head) orders it b0h0, b0h1, ..., b1h0: mask.repeat(H, 1, 1) gives "
     "b0, b1, ..., b0, b1 instead. Use mask.repeat_interleave(H, dim=0), or keep the (B, H, T, T) shape and let "
     "the mask broadcast.",
     mistake="repeat_not_interleave")
class MHARepeatMask(_MHA):
    def forward(self, x, mask=None):
        B, T, d_model = x.shape
        H = self.n_heads
        q, k, v = (self.split(t).reshape(B * H, T, -1) for t in self.qkv(x))  # index b * H + h
        scores = q @ k.transpose(1, 2) / self.scale(q)  # (B*H, T, T)
        allowed = None
        if mask is not None:
            if mask.dim() == 4 and mask.size(1) == H:  # a per-head mask: flattened the same way
                allowed = mask.expand(B, H, T, T).reshape(B * H, T, T)
            else:  # one (T, T) mask per sentence, copied to the heads
                allowed = torch.broadcast_to(mask, (B, 1, T, T))[:, 0].repeat(H, 1, 1)  # index h * B + b
        weights = self.weights_of(scores, allowed)
        heads = (self.drop(weights) @ v).reshape(B, H, T, -1)
        return self.project_out(self.merge(heads)), weights.reshape(B, H, T, T)


@bug("MultiHeadAttention", "mask_ignored", "the mask argument is ignored: every token attends to every token",
     "Use `mask` in forward: scores.masked_fill(~mask, float('-inf')) before the softmax; a (T, T) or "
     "(B, 1, 1, T) mask broadcasts over the heads as it is.")
class MHAMaskIgnored(_MHA):
    def allowed(self, mask):
        return torch.ones_like(mask)

@bug("MultiHeadAttention", "weights_detached", "the weights are detached before weights @ v: the output is right, "
     "but no gradient reaches q_proj and k_proj",
     "Leave the weights in the graph (weights @ v, not weights.detach() @ v): training learns the queries and "
     "keys through them.")
class MHAWeightsDetached(_MHA):
    def drop(self, weights):
        return self.dropout(weights).detach()


@bug("MultiHeadAttention", "no_dropout_in_training", "dropout is never applied, even in training mode",
     "Apply self.dropout to the weights before weights @ v: nn.Dropout does nothing in eval mode, and drops "
     "weights in training mode (as nn.MultiheadAttention does).")
class MHANoDropout(_MHA):
    def drop(self, weights):
        return weights


@bug("MultiHeadAttention", "returns_dropped_weights", "the weights returned are those after dropout",
     "Return the weights before dropout (what the model attends to), and use the dropped ones only for "
     "weights @ v: dropped = self.dropout(weights); heads = dropped @ v; return out, weights.")
class MHAReturnsDroppedWeights(_MHA):
    def forward(self, x, mask=None):
        q, k, v = (self.split(t) for t in self.qkv(x))
        scores = q @ k.transpose(-2, -1) / self.scale(q)
        weights = self.drop(self.weights_of(scores, None if mask is None else self.allowed(mask)))
        return self.project_out(self.merge(weights @ v)), weights


@bug("split_heads", "drops_features", "when n_heads does not divide d_model, the features that do not fit are "
     "dropped silently",
     "d_model must be a multiple of n_heads: check d_model % n_heads == 0 and raise a ValueError otherwise; "
     "cutting x to n_heads * (d_model // n_heads) features loses information without a word.")
def split_drops_features(x, n_heads):
    B, T, d_model = x.shape
    d_head = d_model // n_heads
    return x[..., : n_heads * d_head].reshape(B, T, n_heads, d_head).transpose(1, 2)


@bug("MultiHeadAttention", "fill_large_negative", "masked scores are set to -1e9 and never zeroed: a query with "
     "no allowed key spreads its weights evenly over all keys instead of getting zeros",
     "-1e9 works while a row has one allowed key; when none is allowed the softmax of equal scores is uniform. "
     "After the softmax, set the masked weights to 0: weights.masked_fill(~mask, 0.0).")
class MHAFillLargeNegative(_MHA):
    fill = -1e9
    zero_masked = False


@bug("MultiHeadAttention", "always_causal", "the module always applies a causal mask (as decoders such as "
     "nanoGPT do), whatever mask it is given",
     "This course's attention is an encoder's: every word may attend to every word unless the `mask` argument "
     "says otherwise. Apply the mask you are given (True = may attend), and no other.")
class MHAAlwaysCausal(_MHA):
    def forward(self, x, mask=None):
        T = x.size(1)
        causal = torch.tril(torch.ones(T, T, dtype=torch.bool, device=x.device))
        return super().forward(x, causal if mask is None else mask & causal)
