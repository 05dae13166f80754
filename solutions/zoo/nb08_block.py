"""Known mistakes for notebook 08: layer_norm, FeedForward, EncoderBlock."""
import torch
import torch.nn.functional as F

from ..block import EncoderBlock
from ..block import FeedForward as _FeedForward
from . import bug


class _EncoderBlock(EncoderBlock):
    """The reference block plus the attention sub-layer as one step, for the mistakes below."""

    def _attention_block(self, x, mask):
        return self.dropout1(self.self_attn(x, mask)[0])

# --- layer_norm ---------------------------------------------------------------------------


@bug("layer_norm", "unbiased_variance", "LayerNorm uses the unbiased variance (divides by d - 1 instead of d)",
     "torch.var divides by d - 1 by default: use x.var(dim=-1, keepdim=True, unbiased=False) "
     "(or correction=0), or ((x - mean) ** 2).mean(dim=-1, keepdim=True).",
     mistake="layernorm_unbiased")
def layer_norm_unbiased(x, gamma, beta, eps=1e-5):
    mean = x.mean(dim=-1, keepdim=True)
    var = x.var(dim=-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * gamma + beta


@bug("layer_norm", "eps_outside_sqrt", "eps is added outside the square root (sqrt(var) + eps)",
     "Write (x - mean) / torch.sqrt(var + eps): eps belongs inside the root, as in nn.LayerNorm.",
     mistake="layernorm_eps_outside")
def layer_norm_eps_outside(x, gamma, beta, eps=1e-5):
    mean = x.mean(dim=-1, keepdim=True)
    var = x.var(dim=-1, keepdim=True, unbiased=False)
    return (x - mean) / (torch.sqrt(var) + eps) * gamma + beta


@bug("layer_norm", "wrong_dim", "LayerNorm statistics are taken over the wrong dimension (down the rows, "
     "like BatchNorm, instead of over each row's features)",
     "LayerNorm normalises each token on its own: mean and var over dim=-1 with keepdim=True, not dim=0.",
     mistake="layernorm_wrong_dim")
def layer_norm_wrong_dim(x, gamma, beta, eps=1e-5):
    mean = x.mean(dim=0, keepdim=True)
    var = x.var(dim=0, keepdim=True, unbiased=False)
    return (x - mean) / torch.sqrt(var + eps) * gamma + beta



@bug("layer_norm", "all_elements", "LayerNorm statistics are taken over the whole tensor (x.mean(), x.var()) "
     "instead of over each row's features",
     "Without dim= the mean and variance mix every token of the batch: use x.mean(dim=-1, keepdim=True) and "
     "x.var(dim=-1, keepdim=True, unbiased=False).")
def layer_norm_all_elements(x, gamma, beta, eps=1e-5):
    return (x - x.mean()) / torch.sqrt(x.var(unbiased=False) + eps) * gamma + beta

# --- FeedForward --------------------------------------------------------------------------


@bug("FeedForward", "no_activation", "the feed-forward network has no activation between its two linear layers",
     "Without a non-linearity linear2(linear1(x)) is one linear map: apply the activation to linear1's output.")
class FeedForwardNoActivation(_FeedForward):
    def forward(self, x):
        return self.linear2(self.dropout(self.linear1(x)))


@bug("FeedForward", "ignores_activation", "the feed-forward network always uses ReLU and ignores `activation`",
     "Choose the function from the `activation` argument in __init__: F.relu for \"relu\", F.gelu for \"gelu\".")
class FeedForwardAlwaysRelu(_FeedForward):
    def forward(self, x):
        return self.linear2(self.dropout(F.relu(self.linear1(x))))


@bug("FeedForward", "gelu_tanh", "GELU uses the tanh approximation instead of the exact erf form",
     "Use F.gelu(h) (approximate=\"none\"), as nn.TransformerEncoderLayer does; the tanh form differs by ~1e-3.")
class FeedForwardGeluTanh(_FeedForward):
    def forward(self, x):
        h = self.linear1(x)
        h = F.gelu(h, approximate="tanh") if self.activation is F.gelu else F.relu(h)
        return self.linear2(self.dropout(h))


@bug("FeedForward", "dropout_in_eval", "dropout stays active in eval mode",
     "F.dropout(h, p) drops units even after model.eval(): use the nn.Dropout module, or pass "
     "training=self.training.",
     mistake="dropout_in_eval")
class FeedForwardDropoutInEval(_FeedForward):
    def forward(self, x):
        return self.linear2(F.dropout(self.activation(self.linear1(x)), self.dropout.p))



@bug("FeedForward", "weight_not_transposed", "the linear layers are applied as x @ W instead of x @ W.T "
     "(nn.Linear stores W as (out, in))",
     "Call the layers themselves, self.linear1(x) and self.linear2(h): they compute x @ weight.T + bias. "
     "x @ self.linear1.weight only runs when d_model == d_ff, and then gives other numbers.",
     mistake="weight_not_transposed")
class FeedForwardWeightNotTransposed(_FeedForward):
    def forward(self, x):
        h = self.activation(x @ self.linear1.weight + self.linear1.bias)
        return self.dropout(h) @ self.linear2.weight + self.linear2.bias


@bug("FeedForward", "activation_after_output", "the activation is also applied after linear2, so the output "
     "can never be negative (with ReLU)",
     "The activation sits between the two layers only: linear2(dropout(activation(linear1(x)))); the block adds "
     "linear2's output to the residual stream as it is.")
class FeedForwardActivationAfterOutput(_FeedForward):
    def forward(self, x):
        return self.activation(super().forward(x))

# --- EncoderBlock -------------------------------------------------------------------------


@bug("EncoderBlock", "pre_post_swapped", "post-LN and pre-LN are swapped (norm_first=False must normalise after "
     "the residual add)",
     "norm_first=False (post-LN, like the original Transformer): x = norm1(x + attn(x)). "
     "norm_first=True (pre-LN): x = x + attn(norm1(x)). Check which branch of your `if` does which.",
     mistake="post_pre_ln_swapped")
class EncoderBlockSwapped(_EncoderBlock):
    def forward(self, x, mask=None):
        if not self.norm_first:
            x = x + self._attention_block(self.norm1(x), mask)
            return x + self.dropout2(self.ff(self.norm2(x)))
        x = self.norm1(x + self._attention_block(x, mask))
        return self.norm2(x + self.dropout2(self.ff(x)))


@bug("EncoderBlock", "no_residual", "the residual connections are missing (the block forgets its input x)",
     "Each sub-layer adds its result to its input: x + self_attn(...), x + ff(...).",
     mistake="residual_missing")
class EncoderBlockNoResidual(_EncoderBlock):
    def forward(self, x, mask=None):
        if self.norm_first:
            x = self._attention_block(self.norm1(x), mask)
            return self.dropout2(self.ff(self.norm2(x)))
        x = self.norm1(self._attention_block(x, mask))
        return self.norm2(self.dropout2(self.ff(x)))


@bug("EncoderBlock", "mask_ignored", "the mask is not passed to the self-attention",
     "Call self.self_attn(x, mask): without it, padding and future tokens are attended to.")
class EncoderBlockMaskIgnored(_EncoderBlock):
    def forward(self, x, mask=None):
        return super().forward(x, None)


@bug("EncoderBlock", "dropout_in_eval", "dropout stays active in eval mode",
     "F.dropout(out, p) drops units even after model.eval(): use nn.Dropout modules, or pass "
     "training=self.training.",
     mistake="dropout_in_eval")
class EncoderBlockDropoutInEval(_EncoderBlock):
    def forward(self, x, mask=None):
        p = self.dropout1.p
        if self.norm_first:
            x = x + F.dropout(self.self_attn(self.norm1(x), mask)[0], p)
            return x + F.dropout(self.ff(self.norm2(x)), p)
        x = self.norm1(x + F.dropout(self.self_attn(x, mask)[0], p))
        return self.norm2(x + F.dropout(self.ff(x), p))


@bug("EncoderBlock", "mask_inverted", "the mask polarity is inverted before the attention (~mask, the convention "
     "of nn.MultiheadAttention)",
     "In this course True means 'may attend' everywhere, and self_attn follows it: pass the mask on unchanged, "
     "self.self_attn(x, mask).",
     mistake="mask_polarity")
class EncoderBlockMaskInverted(_EncoderBlock):
    def forward(self, x, mask=None):
        return super().forward(x, None if mask is None else ~mask)


@bug("EncoderBlock", "norm1_twice", "norm1 is used for both sub-layers (norm2 is created but never used)",
     "Each sub-layer has its own LayerNorm with its own gamma and beta: norm1 around the attention, norm2 "
     "around the feed-forward network.")
class EncoderBlockNorm1Twice(_EncoderBlock):
    def forward(self, x, mask=None):
        if self.norm_first:
            x = x + self._attention_block(self.norm1(x), mask)
            return x + self.dropout2(self.ff(self.norm1(x)))
        x = self.norm1(x + self._attention_block(x, mask))
        return self.norm1(x + self.dropout2(self.ff(x)))


@bug("EncoderBlock", "pre_ln_normalised_residual", "pre-LN normalises the residual stream itself (x = norm1(x), "
     "then x = x + attn(x)) instead of only the sub-layer's input",
     "In pre-LN the residual carries the un-normalised x: x = x + attn(norm1(x)), then x = x + ff(norm2(x)). "
     "Do not overwrite x with norm1(x).")
class EncoderBlockPreLnNormalisedResidual(_EncoderBlock):
    def forward(self, x, mask=None):
        if not self.norm_first:
            return super().forward(x, mask)
        x = self.norm1(x)
        x = x + self._attention_block(x, mask)
        x = self.norm2(x)
        return x + self.dropout2(self.ff(x))

# --- gradients and training-mode dropout ----------------------------------------------------


@bug("layer_norm", "statistics_detached", "the mean and the variance are detached from the graph: the output is "
     "right, but the gradient with respect to x is not",
     "Keep mean and var in the graph (no .detach(), no .item(), no torch.no_grad()): the gradient of LayerNorm "
     "flows through them too.")
def layer_norm_statistics_detached(x, gamma, beta, eps=1e-5):
    mean = x.mean(dim=-1, keepdim=True).detach()
    var = x.var(dim=-1, keepdim=True, unbiased=False).detach()
    return (x - mean) / torch.sqrt(var + eps) * gamma + beta


@bug("FeedForward", "dropout_on_output", "dropout acts on the network's output instead of on its hidden units",
     "nn.TransformerEncoderLayer drops the hidden units: linear2(dropout(activation(linear1(x)))); the block "
     "drops the output itself with its own dropout2.")
class FeedForwardDropoutOnOutput(_FeedForward):
    def forward(self, x):
        return self.dropout(self.linear2(self.activation(self.linear1(x))))


@bug("FeedForward", "no_dropout_in_training", "dropout is never applied, even in training mode",
     "Apply self.dropout to the hidden units after the activation: it does nothing in eval mode and drops "
     "units in training mode.")
class FeedForwardNoDropout(_FeedForward):
    def forward(self, x):
        return self.linear2(self.activation(self.linear1(x)))


@bug("EncoderBlock", "no_residual_dropout", "the sub-layers' outputs are added to the residual stream without "
     "dropout1 and dropout2",
     "As nn.TransformerEncoderLayer: x + self.dropout1(attention output) and x + self.dropout2(ff output), "
     "each before its norm (post-LN) or after it (pre-LN).")
class EncoderBlockNoResidualDropout(EncoderBlock):
    def forward(self, x, mask=None):
        if self.norm_first:
            x = x + self.self_attn(self.norm1(x), mask)[0]
            return x + self.ff(self.norm2(x))
        x = self.norm1(x + self.self_attn(x, mask)[0])
        return self.norm2(x + self.ff(x))
