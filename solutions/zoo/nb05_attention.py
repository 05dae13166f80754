"""Known mistakes for notebook 05: scaled_dot_product_attention, SelfAttention."""
import math

import torch
from torch import nn

from ..attention import SelfAttention, scaled_dot_product_attention
from . import bug


def _scores(q, k, scale=True):
    scores = q @ k.transpose(-2, -1)
    return scores / math.sqrt(q.size(-1)) if scale else scores


def _masked_weights(scores, mask, dim=-1):
    if mask is None:
        return torch.softmax(scores, dim=dim)
    weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=dim)
    return weights.masked_fill(~mask, 0.0)


@bug("scaled_dot_product_attention", "wrong_axis", "the softmax normalises over the queries (dim=-2) instead of the keys",
     "Each query's weights must sum to 1 over the keys: torch.softmax(scores, dim=-1).",
     mistake="softmax_wrong_axis")
def sdpa_wrong_axis(q, k, v, mask=None):
    weights = _masked_weights(_scores(q, k), mask, dim=-2)
    return weights @ v, weights


@bug("scaled_dot_product_attention", "no_scale", "the scores are not divided by sqrt(d_k)",
     "Divide q @ k.transpose(-2, -1) by math.sqrt(q.size(-1)) before the softmax.",
     mistake="missing_scale")
def sdpa_no_scale(q, k, v, mask=None):
    weights = _masked_weights(_scores(q, k, scale=False), mask)
    return weights @ v, weights


@bug("scaled_dot_product_attention", "inverted_polarity", "the mask polarity is inverted (True treated as 'blocked', as in nn.MultiheadAttention)",
     "In this course True means 'may attend' (as in F.scaled_dot_product_attention): fill -inf where the mask is False, i.e. masked_fill(~mask, ...).",
     mistake="mask_polarity")
def sdpa_inverted(q, k, v, mask=None):
    weights = _masked_weights(_scores(q, k), None if mask is None else ~mask)
    return weights @ v, weights


@bug("scaled_dot_product_attention", "mask_after_softmax", "the mask is applied after the softmax, without renormalising",
     "Mask the scores with -inf *before* the softmax, so the allowed weights still sum to 1.",
     mistake="mask_after_softmax")
def sdpa_mask_after(q, k, v, mask=None):
    weights = torch.softmax(_scores(q, k), dim=-1)
    if mask is not None:
        weights = weights.masked_fill(~mask, 0.0)
    return weights @ v, weights


@bug("scaled_dot_product_attention", "nan_rows", "a fully masked row gives NaN (softmax of all -inf) instead of zeros",
     "After the softmax, set the masked weights to 0 (weights.masked_fill(~mask, 0.0)): that also zeroes fully masked rows.",
     mistake="nan_fully_masked")
def sdpa_nan_rows(q, k, v, mask=None):
    scores = _scores(q, k)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    return weights @ v, weights


@bug("scaled_dot_product_attention", "values_from_keys", "the output mixes the keys instead of the values (weights @ k)",
     "The output is weights @ v: its last dim is d_v = v.size(-1).",
     mistake="qkv_swapped")
def sdpa_values_from_keys(q, k, v, mask=None):
    weights = _masked_weights(_scores(q, k), mask)
    return weights @ k, weights



@bug("scaled_dot_product_attention", "fill_zero", "masked scores are set to 0 instead of -inf, so masked keys "
     "still get weight (exp(0) is not 0)",
     "A score of 0 is an ordinary score: masked_fill(~mask, float('-inf')) before the softmax makes the weight "
     "exactly 0.",
     mistake="fill_zero")
def sdpa_fill_zero(q, k, v, mask=None):
    scores = _scores(q, k)
    if mask is not None:
        scores = scores.masked_fill(~mask, 0.0)
    weights = torch.softmax(scores, dim=-1)
    return weights @ v, weights


@bug("scaled_dot_product_attention", "fill_large_negative", "masked scores are set to -1e9 and never zeroed: "
     "a query with no allowed key spreads its weights evenly over all keys instead of getting zeros",
     "-1e9 works while a row has one allowed key; when none is allowed the softmax of equal scores is uniform. "
     "After the softmax, set the masked weights to 0: weights.masked_fill(~mask, 0.0).")
def sdpa_fill_large_negative(q, k, v, mask=None):
    scores = _scores(q, k)
    if mask is not None:
        scores = scores.masked_fill(~mask, -1e9)
    weights = torch.softmax(scores, dim=-1)
    return weights @ v, weights


@bug("scaled_dot_product_attention", "scale_by_d", "the scores are divided by d_k instead of sqrt(d_k)",
     "The scale is 1 / sqrt(d_k): q @ k.transpose(-2, -1) / math.sqrt(q.size(-1)).")
def sdpa_scale_by_d(q, k, v, mask=None):
    weights = _masked_weights(q @ k.transpose(-2, -1) / q.size(-1), mask)
    return weights @ v, weights


@bug("scaled_dot_product_attention", "queries_keys_swapped", "queries and keys are swapped (scores = k q^T): "
     "key j asks query i instead of the other way round",
     "Row i of the scores belongs to query i: scores = q @ k.transpose(-2, -1), of shape (..., T_q, T_k).",
     mistake="qkv_swapped")
def sdpa_queries_keys_swapped(q, k, v, mask=None):
    weights = _masked_weights(_scores(k, q), mask)
    return weights @ v, weights

@bug("SelfAttention", "weight_not_transposed", "the projection uses x @ W instead of x @ W.T (nn.Linear stores W as (d_out, d_in))",
     "Call the layer itself, self.q_proj(x), which computes x @ weight.T + bias; x @ self.q_proj.weight only "
     "works by accident when d_in == d_out.",
     mistake="weight_not_transposed")
class SelfAttentionWeightNotTransposed(SelfAttention):
    def forward(self, x, mask=None):
        def project(layer):
            y = x @ layer.weight
            return y if layer.bias is None else y + layer.bias

        return scaled_dot_product_attention(project(self.q_proj), project(self.k_proj), project(self.v_proj), mask)


@bug("SelfAttention", "ignores_bias", "the projections use the weight matrices but forget the biases",
     "Call the layers (self.q_proj(x)) instead of multiplying by .weight: they add the bias when bias=True.")
class SelfAttentionIgnoresBias(SelfAttention):
    def forward(self, x, mask=None):
        q, k, v = (x @ layer.weight.T for layer in (self.q_proj, self.k_proj, self.v_proj))
        return scaled_dot_product_attention(q, k, v, mask)


@bug("SelfAttention", "bias_argument_ignored", "the `bias` argument is ignored: nn.Linear adds a bias by default",
     "Pass it on: nn.Linear(d_in, d_out, bias=bias), so bias=False creates no bias parameters.")
class SelfAttentionBiasAlways(SelfAttention):
    def __init__(self, d_in, d_out, bias=False):
        super().__init__(d_in, d_out, bias=bias)
        self.q_proj = nn.Linear(d_in, d_out)
        self.k_proj = nn.Linear(d_in, d_out)
        self.v_proj = nn.Linear(d_in, d_out)


@bug("SelfAttention", "queries_keys_swapped", "queries and keys are swapped (q from k_proj, k from q_proj): the scores are transposed",
     "q = self.q_proj(x) asks, k = self.k_proj(x) is looked at: scores = q @ k.transpose(-2, -1).",
     mistake="qkv_swapped")
class SelfAttentionSwapped(SelfAttention):
    def forward(self, x, mask=None):
        return scaled_dot_product_attention(self.k_proj(x), self.q_proj(x), self.v_proj(x), mask)


@bug("SelfAttention", "values_from_keys", "the values come from the key projection (v = self.k_proj(x))",
     "The output mixes the values: v = self.v_proj(x).",
     mistake="qkv_swapped")
class SelfAttentionValuesFromKeys(SelfAttention):
    def forward(self, x, mask=None):
        k = self.k_proj(x)
        return scaled_dot_product_attention(self.q_proj(x), k, k, mask)


@bug("SelfAttention", "inverted_polarity", "the mask polarity is inverted (True treated as 'blocked')",
     "In this course True means 'may attend': pass the mask on as it is, without ~mask.",
     mistake="mask_polarity")
class SelfAttentionInverted(SelfAttention):
    def forward(self, x, mask=None):
        q, k, v = self.q_proj(x), self.k_proj(x), self.v_proj(x)
        return scaled_dot_product_attention(q, k, v, None if mask is None else ~mask)



class _InlineSelfAttention(SelfAttention):
    """The reference's projections with the attention written out inline, one piece switchable."""

    scale_dim = "d_out"  # whose size the scores are divided by: "d_out", "d_in" or None
    softmax_dim = -1
    mask_after_softmax = False
    pass_mask = True

    def forward(self, x, mask=None):
        q, k, v = self.q_proj(x), self.k_proj(x), self.v_proj(x)  # (B, T, d_out)
        scores = q @ k.transpose(-2, -1)  # (B, T, T)
        if self.scale_dim is not None:
            scores = scores / math.sqrt({"d_out": q, "d_in": x}[self.scale_dim].size(-1))
        mask = mask if self.pass_mask else None
        if mask is None:
            weights = torch.softmax(scores, dim=self.softmax_dim)
        elif self.mask_after_softmax:
            weights = torch.softmax(scores, dim=self.softmax_dim).masked_fill(~mask, 0.0)
        else:
            weights = _masked_weights(scores, mask, dim=self.softmax_dim)
        return weights @ v, weights


@bug("SelfAttention", "no_scale", "the scores are not divided by sqrt(d_k) (here d_k = d_out)",
     "Divide q @ k.transpose(-2, -1) by math.sqrt(d_out) (the size of q's last dim) before the softmax.",
     mistake="missing_scale")
class SelfAttentionNoScale(_InlineSelfAttention):
    scale_dim = None


@bug("SelfAttention", "scale_d_in", "the scores are divided by sqrt(d_in), the size of x, instead of sqrt(d_out), "
     "the size of q and k",
     "The dot products are taken between projected vectors of size d_out: divide by math.sqrt(q.size(-1)), "
     "not math.sqrt(x.size(-1)).",
     mistake="missing_scale")
class SelfAttentionScaleDIn(_InlineSelfAttention):
    scale_dim = "d_in"


@bug("SelfAttention", "wrong_axis", "the softmax normalises over the queries (dim=1) instead of the keys",
     "scores is (B, T_q, T_k): each query's weights must sum to 1 over the keys, torch.softmax(scores, dim=-1).",
     mistake="softmax_wrong_axis")
class SelfAttentionWrongAxis(_InlineSelfAttention):
    softmax_dim = 1


@bug("SelfAttention", "mask_after_softmax", "the mask is applied after the softmax, without renormalising",
     "Fill the scores with -inf where the mask is False *before* the softmax, so the allowed weights sum to 1.",
     mistake="mask_after_softmax")
class SelfAttentionMaskAfterSoftmax(_InlineSelfAttention):
    mask_after_softmax = True


@bug("SelfAttention", "mask_ignored", "the mask argument is ignored: every word attends to every word",
     "Use `mask` in forward: scores.masked_fill(~mask, float('-inf')) before the softmax (True = may attend).")
class SelfAttentionMaskIgnored(_InlineSelfAttention):
    pass_mask = False

# --- gradients: the forward pass is right, a part of the graph is cut ------------------------


@bug("scaled_dot_product_attention", "weights_detached", "the weights are detached before weights @ v: the "
     "output is right, but no gradient reaches q and k",
     "Leave the weights in the graph: weights @ v, not weights.detach() @ v (or .data, or a torch.no_grad() "
     "block). Training learns W_q and W_k through them.")
def sdpa_weights_detached(q, k, v, mask=None):
    weights = _masked_weights(_scores(q, k), mask)
    return weights.detach() @ v, weights


@bug("SelfAttention", "keys_detached", "the keys are detached from the graph: the output is right, but k_proj "
     "never learns",
     "Use self.k_proj(x) as it is: .detach() (or computing it under torch.no_grad()) stops its gradient.")
class SelfAttentionKeysDetached(SelfAttention):
    def forward(self, x, mask=None):
        q, k, v = self.q_proj(x), self.k_proj(x).detach(), self.v_proj(x)
        return scaled_dot_product_attention(q, k, v, mask)


# --- what code from elsewhere does (nanoGPT, Raschka, d2l): named, not only rejected -----------


@bug("scaled_dot_product_attention", "batched_3d_only", "the products use torch.bmm, which takes 3-D tensors "
     "only: q of shape (..., T, d) with more (or fewer) leading dimensions fails",
     "Use q @ k.transpose(-2, -1) (torch.matmul): it broadcasts over any leading dimensions, (T, d), "
     "(B, T, d) and (B, H, T, d) alike. torch.bmm is for exactly (B, T, d).")
def sdpa_bmm(q, k, v, mask=None):
    scores = torch.bmm(q, k.transpose(-2, -1)) / math.sqrt(q.size(-1))
    weights = _masked_weights(scores, mask)
    return torch.bmm(weights, v), weights


@bug("SelfAttention", "always_causal", "the module always applies a causal mask (a registered tril buffer, as "
     "in decoders such as nanoGPT), whatever mask it is given",
     "This course's attention is an encoder's: every word may attend to every word unless the `mask` argument "
     "says otherwise. Apply the mask you are given (True = may attend), and no other.")
class SelfAttentionAlwaysCausal(SelfAttention):
    def __init__(self, d_in, d_out, bias=False):
        super().__init__(d_in, d_out, bias)
        self.register_buffer("causal", torch.tril(torch.ones(64, 64, dtype=torch.bool)))

    def forward(self, x, mask=None):
        T = x.size(1)
        causal = self.causal[:T, :T]
        q, k, v = self.q_proj(x), self.k_proj(x), self.v_proj(x)
        return scaled_dot_product_attention(q, k, v, causal if mask is None else mask & causal)
