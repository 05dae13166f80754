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
