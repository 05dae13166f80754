"""Known mistakes for notebook 09: TransformerEncoder, count_parameters."""
import math

import torch.nn.functional as F
from torch import nn

from ..block import EncoderBlock
from ..encoder import TransformerEncoder as _TransformerEncoder
from . import bug
from .nb08_block import EncoderBlockNoResidual

# --- TransformerEncoder -------------------------------------------------------------------


def _stack(model, x, mask, return_all_layers, with_input=True, final_norm=True, pass_mask=True):
    """The layer loop of the reference, with one piece switchable off."""
    hidden = [x] if with_input else []
    for layer in model.layers:
        x = layer(x, mask if pass_mask else None)
        hidden.append(x)
    if final_norm:
        hidden[-1] = model.final_norm(x)
    return hidden if return_all_layers else hidden[-1]


@bug("TransformerEncoder", "no_positional_encoding", "the positional encoding is not added to the embeddings",
     "Without positions the encoder cannot tell word order: x = self.pos_encoding(self.embedding(token_ids)).",
     mistake="pe_not_added")
class EncoderNoPositions(_TransformerEncoder):
    def forward(self, token_ids, mask=None, return_all_layers=False):
        return _stack(self, self.embedding(token_ids), mask, return_all_layers)


@bug("TransformerEncoder", "sqrt_d_scaling", "the embeddings are multiplied by sqrt(d_model) before the positions "
     "are added (the Annotated Transformer does this; this course's encoder does not)",
     "Add the positional encoding to the plain embeddings: x = self.pos_encoding(self.embedding(token_ids)).")
class EncoderSqrtScaling(_TransformerEncoder):
    def forward(self, token_ids, mask=None, return_all_layers=False):
        x = self.embedding(token_ids) * math.sqrt(self.embedding.embedding_dim)
        return _stack(self, self.pos_encoding(x), mask, return_all_layers)


@bug("TransformerEncoder", "final_norm_missing", "the final LayerNorm of the pre-LN stack is never applied",
     "After the last layer, x = self.final_norm(x) (it is the identity for post-LN, so always calling it is safe).",
     mistake="final_norm_missing")
class EncoderNoFinalNorm(_TransformerEncoder):
    def forward(self, token_ids, mask=None, return_all_layers=False):
        return _stack(self, self.pos_encoding(self.embedding(token_ids)), mask, return_all_layers, final_norm=False)


@bug("TransformerEncoder", "mask_not_passed", "the mask is not passed on to the layers",
     "Call every layer with the mask: x = layer(x, mask); otherwise padding and future tokens leak in.")
class EncoderMaskNotPassed(_TransformerEncoder):
    def forward(self, token_ids, mask=None, return_all_layers=False):
        return _stack(self, self.pos_encoding(self.embedding(token_ids)), mask, return_all_layers, pass_mask=False)


@bug("TransformerEncoder", "dropout_in_eval", "dropout stays active in eval mode",
     "F.dropout(x, p) drops units even after model.eval(): use nn.Dropout modules (or self.pos_encoding, "
     "which has one), or pass training=self.training.",
     mistake="dropout_in_eval")
class EncoderDropoutInEval(_TransformerEncoder):
    def forward(self, token_ids, mask=None, return_all_layers=False):
        T = token_ids.shape[1]
        x = F.dropout(self.embedding(token_ids) + self.pos_encoding.pe[:T], self.pos_encoding.dropout.p)
        return _stack(self, x, mask, return_all_layers)


@bug("TransformerEncoder", "all_layers_missing_input", "return_all_layers leaves out the embedded input "
     "(n_layers arrays instead of n_layers + 1)",
     "Start the list with the embedded input (embeddings + positions), before the first layer.")
class EncoderAllLayersNoInput(_TransformerEncoder):
    def forward(self, token_ids, mask=None, return_all_layers=False):
        return _stack(self, self.pos_encoding(self.embedding(token_ids)), mask, return_all_layers, with_input=False)



@bug("TransformerEncoder", "seq_first", "batch and time axes are swapped: the layers get (T, B, d_model), "
     "the default layout of nn.TransformerEncoderLayer, so the sentences of a batch attend to each other",
     "In this course every layer takes (B, T, d_model) (batch_first): pass x on as it is, without transpose(0, 1).",
     mistake="batch_time_swapped")
class EncoderSeqFirst(_TransformerEncoder):
    def forward(self, token_ids, mask=None, return_all_layers=False):
        x = self.pos_encoding(self.embedding(token_ids)).transpose(0, 1)  # (T, B, d_model)
        hidden = [h.transpose(0, 1) for h in _stack(self, x, mask, True)]
        return hidden if return_all_layers else hidden[-1]


class _RebuiltLayers(_TransformerEncoder):
    """The reference encoder whose blocks are rebuilt by ``block(d_model, n_heads, d_ff, dropout, norm_first)``."""

    def __init__(self, vocab_size, d_model, n_heads, d_ff, n_layers, max_len=512, dropout=0.0, norm_first=False):
        super().__init__(vocab_size, d_model, n_heads, d_ff, n_layers, max_len, dropout, norm_first)
        self.layers = nn.ModuleList(self.block(d_model, n_heads, d_ff, dropout, norm_first) for _ in range(n_layers))


@bug("TransformerEncoder", "norm_first_not_passed", "norm_first is not passed on to the blocks: every block is "
     "post-LN, even in a pre-LN stack",
     "Build each block with the stack's setting: EncoderBlock(d_model, n_heads, d_ff, dropout=dropout, "
     "norm_first=norm_first).",
     mistake="post_pre_ln_swapped")
class EncoderNormFirstNotPassed(_RebuiltLayers):
    @staticmethod
    def block(d_model, n_heads, d_ff, dropout, norm_first):
        return EncoderBlock(d_model, n_heads, d_ff, dropout=dropout)


@bug("TransformerEncoder", "blocks_without_residual", "the stacked blocks have no residual connections "
     "(each layer's output replaces its input instead of being added to it)",
     "Each sub-layer of a block adds its result to its input: x + self_attn(...), x + ff(...). Without the "
     "residual stream a deep stack forgets the token it started from.",
     mistake="residual_missing")
class EncoderBlocksWithoutResidual(_RebuiltLayers):
    @staticmethod
    def block(d_model, n_heads, d_ff, dropout, norm_first):
        return EncoderBlockNoResidual(d_model, n_heads, d_ff, dropout=dropout, norm_first=norm_first)


@bug("TransformerEncoder", "shared_block", "every layer is the same block (nn.ModuleList([block] * n_layers)): "
     "the layers share one set of weights",
     "[block] * n repeats one object n times. Create a new block for each layer: "
     "nn.ModuleList(EncoderBlock(...) for _ in range(n_layers)).")
class EncoderSharedBlock(_TransformerEncoder):
    def __init__(self, vocab_size, d_model, n_heads, d_ff, n_layers, max_len=512, dropout=0.0, norm_first=False):
        super().__init__(vocab_size, d_model, n_heads, d_ff, n_layers, max_len, dropout, norm_first)
        self.layers = nn.ModuleList([self.layers[0]] * n_layers)


@bug("TransformerEncoder", "layers_not_chained", "each layer is applied to the embeddings instead of to the "
     "previous layer's output",
     "Feed each layer's output into the next: x = layer(x, mask), reassigning x in the loop.")
class EncoderLayersNotChained(_TransformerEncoder):
    def forward(self, token_ids, mask=None, return_all_layers=False):
        x = self.pos_encoding(self.embedding(token_ids))
        hidden = [x] + [layer(x, mask) for layer in self.layers]
        hidden[-1] = self.final_norm(hidden[-1])
        return hidden if return_all_layers else hidden[-1]

# --- count_parameters ---------------------------------------------------------------------


def _count(vocab_size, d_model, d_ff, n_layers, norm_first, biases=True, norms=True, final_norm=True, out_proj=True):
    b = 1 if biases else 0
    attention = (4 if out_proj else 3) * (d_model * d_model + b * d_model)
    feed_forward = d_model * d_ff + b * d_ff + d_ff * d_model + b * d_model
    layer_norms = 2 * 2 * d_model if norms else 0
    last = 2 * d_model if (norm_first and final_norm and norms) else 0
    return vocab_size * d_model + n_layers * (attention + feed_forward + layer_norms) + last


@bug("count_parameters", "no_biases", "the count leaves out the biases of the linear layers",
     "Each nn.Linear(d_in, d_out) has d_in * d_out weights plus d_out biases: q, k, v, out_proj, linear1, linear2.",
     mistake="count_missing_biases")
def count_no_biases(vocab_size, d_model, n_heads, d_ff, n_layers, norm_first=False):
    return _count(vocab_size, d_model, d_ff, n_layers, norm_first, biases=False)


@bug("count_parameters", "no_layernorm", "the count leaves out the LayerNorm parameters",
     "Each LayerNorm(d_model) has d_model weights (gamma) and d_model biases (beta): two per layer, "
     "plus the final one in a pre-LN stack.",
     mistake="count_missing_layernorm")
def count_no_layernorm(vocab_size, d_model, n_heads, d_ff, n_layers, norm_first=False):
    return _count(vocab_size, d_model, d_ff, n_layers, norm_first, norms=False)


@bug("count_parameters", "no_final_norm", "the count ignores the final LayerNorm of a pre-LN stack",
     "When norm_first is True the encoder ends with one more LayerNorm: add 2 * d_model.",
     mistake="final_norm_missing")
def count_no_final_norm(vocab_size, d_model, n_heads, d_ff, n_layers, norm_first=False):
    return _count(vocab_size, d_model, d_ff, n_layers, norm_first, final_norm=False)


@bug("count_parameters", "no_out_proj", "the count leaves out the attention's output projection",
     "Multi-head attention has four d_model x d_model projections (q, k, v and out_proj), each with a bias.",
     mistake="no_out_proj")
def count_no_out_proj(vocab_size, d_model, n_heads, d_ff, n_layers, norm_first=False):
    return _count(vocab_size, d_model, d_ff, n_layers, norm_first, out_proj=False)


@bug("count_parameters", "counts_positions", "the count includes the sinusoidal table (max_len * d_model), "
     "which is a buffer, not a parameter",
     "The positional encoding is fixed (register_buffer): nothing trains it, so it is not counted. "
     "The trainable parts are the embedding, the layers and the final norm.")
def count_with_positions(vocab_size, d_model, n_heads, d_ff, n_layers, norm_first=False):
    return _count(vocab_size, d_model, d_ff, n_layers, norm_first) + 512 * d_model


@bug("count_parameters", "heads_multiply", "each head is counted with its own full-size q, k and v "
     "projections (the attention count grows with n_heads)",
     "The heads split one d_model x d_model projection into n_heads slices of d_head columns: the attention has "
     "4 * (d_model**2 + d_model) parameters whatever n_heads is.")
def count_heads_multiply(vocab_size, d_model, n_heads, d_ff, n_layers, norm_first=False):
    per_head = 3 * (d_model * d_model + d_model)
    return _count(vocab_size, d_model, d_ff, n_layers, norm_first) + n_layers * (n_heads - 1) * per_head


@bug("count_parameters", "returns_float", "the count is a float (a / somewhere, e.g. d_head = d_model / n_heads "
     "multiplied back): a parameter count is a whole number",
     "Return an int: / always gives a float in Python 3, even 8 / 2 = 4.0; the heads need no division at all "
     "(the attention's size does not depend on n_heads).")
def count_returns_float(vocab_size, d_model, n_heads, d_ff, n_layers, norm_first=False):
    d_head = d_model / n_heads
    return _count(vocab_size, d_model, d_ff, n_layers, norm_first) * (d_head * n_heads / d_model)


@bug("TransformerEncoder", "positions_without_dropout", "the positional encoding's table is added by hand, "
     "without its dropout",
     "Call the module, x = self.pos_encoding(self.embedding(token_ids)): it adds the table and applies its "
     "dropout in training mode; self.pos_encoding.pe[:T] alone skips the dropout.")
class EncoderPositionsWithoutDropout(_TransformerEncoder):
    def forward(self, token_ids, mask=None, return_all_layers=False):
        x = self.embedding(token_ids) + self.pos_encoding.pe[: token_ids.shape[1]]
        return _stack(self, x, mask, return_all_layers)
