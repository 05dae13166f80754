"""Correct answers in other styles for notebook 09."""
import math

import torch
import torch.nn.functional as F

from ..encoder import TransformerEncoder as _TransformerEncoder
from . import variant

# --- TransformerEncoder -------------------------------------------------------------------


@variant("TransformerEncoder", "one_hot_embedding")
class EncoderOneHot(_TransformerEncoder):
    """The embedding lookup written as a one-hot matrix product."""

    def forward(self, token_ids, mask=None, return_all_layers=False):
        one_hot = F.one_hot(token_ids, self.embedding.num_embeddings).to(self.embedding.weight.dtype)
        x = self.pos_encoding(one_hot @ self.embedding.weight)  # (B, T, d_model)
        states = [x]
        for layer in self.layers:
            states.append(layer(states[-1], mask))
        states[-1] = self.final_norm(states[-1])
        return states if return_all_layers else states[-1]


@variant("TransformerEncoder", "norm_in_loop")
class EncoderNormInLoop(_TransformerEncoder):
    """The final norm applied inside the loop, on the last layer's output."""

    def forward(self, token_ids, mask=None, return_all_layers=False):
        x = self.pos_encoding(self.embedding(token_ids))
        states = [x]
        for i, layer in enumerate(self.layers):
            x = layer(x, mask)
            if i == len(self.layers) - 1:
                x = self.final_norm(x)
            states.append(x)
        return states if return_all_layers else x


@variant("TransformerEncoder", "manual_pe_expanded_mask")
class EncoderManualPositions(_TransformerEncoder):
    """Positions added by hand from the buffer; the mask expanded to (B, H, T, T) once."""

    def forward(self, token_ids, mask=None, return_all_layers=False):
        B, T = token_ids.shape
        x = self.embedding(token_ids) + self.pos_encoding.pe[:T].unsqueeze(0)
        x = self.pos_encoding.dropout(x)
        if mask is not None:
            heads = self.layers[0].self_attn.n_heads
            mask = torch.broadcast_to(mask, (B, heads, T, T))
        outputs = [x]
        for layer in self.layers:
            outputs.append(layer(outputs[-1], mask))
        last = self.final_norm(outputs.pop())
        return outputs + [last] if return_all_layers else last


# --- count_parameters ---------------------------------------------------------------------


@variant("count_parameters", "shapes")
def count_from_shapes(vocab_size, d_model, n_heads, d_ff, n_layers, norm_first=False):
    """List every parameter's shape, as named_parameters() would, and multiply out."""
    layer = [(d_model, d_model), (d_model,)] * 4  # q, k, v, out projections
    layer += [(d_ff, d_model), (d_ff,), (d_model, d_ff), (d_model,)]  # linear1, linear2
    layer += [(d_model,)] * 4  # norm1, norm2: weight and bias
    shapes = [(vocab_size, d_model)] + layer * n_layers + ([(d_model,)] * 2 if norm_first else [])
    return sum(math.prod(s) for s in shapes)


@variant("count_parameters", "loop")
def count_loop(vocab_size, d_model, n_heads, d_ff, n_layers, norm_first=False):
    total = vocab_size * d_model
    for _ in range(n_layers):
        for _projection in range(4):
            total += d_model * d_model + d_model
        total += d_model * d_ff + d_ff
        total += d_ff * d_model + d_model
        total += 2 * d_model + 2 * d_model
    if norm_first:
        total += 2 * d_model
    return total


@variant("count_parameters", "per_head")
def count_per_head(vocab_size, d_model, n_heads, d_ff, n_layers, norm_first=False):
    """Attention counted head by head: each head has (d_model, d_head) q, k, v slices."""
    d_head = d_model // n_heads
    attention = n_heads * 3 * (d_model * d_head + d_head) + d_model * d_model + d_model
    feed_forward = 2 * d_model * d_ff + d_ff + d_model
    per_layer = attention + feed_forward + 4 * d_model
    return vocab_size * d_model + n_layers * per_layer + (2 * d_model if norm_first else 0)


# --- float32 inside, returned in the weights' dtype ----------------------------------------


def _float32_layer(layer, x, mask):
    """One reference EncoderBlock applied with float32 copies of its weights (x is float32)."""
    B, T, d_model = x.shape
    attn, ff = layer.self_attn, layer.ff
    H = attn.n_heads

    def linear(h, lin):
        return F.linear(h, lin.weight.float(), lin.bias.float())

    def norm(h, ln):
        return F.layer_norm(h, (d_model,), ln.weight.float(), ln.bias.float(), ln.eps)

    def attention(h):
        q, k, v = (linear(h, p).view(B, T, H, -1).transpose(1, 2) for p in (attn.q_proj, attn.k_proj, attn.v_proj))
        scores = q @ k.transpose(-2, -1) / math.sqrt(d_model // H)  # (B, H, T, T)
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        if mask is not None:
            weights = weights.masked_fill(~mask, 0.0)
        heads = (attn.dropout(weights) @ v).transpose(1, 2).reshape(B, T, d_model)
        return layer.dropout1(linear(heads, attn.out_proj))

    def feed_forward(h):
        return layer.dropout2(linear(ff.dropout(ff.activation(linear(h, ff.linear1))), ff.linear2))

    if layer.norm_first:
        x = x + attention(norm(x, layer.norm1))
        return x + feed_forward(norm(x, layer.norm2))
    x = norm(x + attention(x), layer.norm1)
    return norm(x + feed_forward(x), layer.norm2)


@variant("TransformerEncoder", "float32_inside")
class EncoderFloat32Inside(_TransformerEncoder):
    """The whole stack in float32 (float32 copies of every weight); each returned state is cast
    back to the model's dtype."""

    def forward(self, token_ids, mask=None, return_all_layers=False):
        dtype = self.embedding.weight.dtype
        T = token_ids.shape[1]
        x = self.embedding.weight.float()[token_ids] + self.pos_encoding.pe[:T].float()  # (B, T, d_model)
        x = self.pos_encoding.dropout(x)
        states = [x]
        for layer in self.layers:
            states.append(_float32_layer(layer, states[-1], mask))
        final = self.final_norm
        if isinstance(final, torch.nn.LayerNorm):
            states[-1] = F.layer_norm(states[-1], final.normalized_shape, final.weight.float(), final.bias.float(),
                                      final.eps)
        states = [s.to(dtype) for s in states]
        return states if return_all_layers else states[-1]
