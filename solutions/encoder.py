"""Notebook 09: stacking encoder blocks.

The context vectors that one block outputs are the input of the next, so each
layer can build on what the previous ones found.
"""
import torch
from torch import nn

from .block import EncoderBlock
from .positional import PositionalEncoding


class TransformerEncoder(nn.Module):
    """Token ids -> embeddings + sinusoidal positions -> n_layers encoder blocks -> final norm.

    ``final_norm`` is a LayerNorm for pre-LN stacks (their residual stream is never
    normalised otherwise) and the identity for post-LN stacks (each block already
    ends with a LayerNorm).
    """

    def __init__(
        self,
        vocab_size: int,
        d_model: int,
        n_heads: int,
        d_ff: int,
        n_layers: int,
        max_len: int = 512,
        dropout: float = 0.0,
        norm_first: bool = False,
    ):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, d_model)
        self.pos_encoding = PositionalEncoding(d_model, max_len=max_len, dropout=dropout)
        self.layers = nn.ModuleList(
            EncoderBlock(d_model, n_heads, d_ff, dropout=dropout, norm_first=norm_first) for _ in range(n_layers)
        )
        self.final_norm = nn.LayerNorm(d_model) if norm_first else nn.Identity()

    def forward(
        self,
        token_ids: torch.Tensor,
        mask: torch.Tensor | None = None,
        return_all_layers: bool = False,
    ) -> torch.Tensor | list[torch.Tensor]:
        """token_ids: ``(B, T)`` ints; mask: bool broadcastable to ``(B, H, T, T)``, True = may
        attend (for padding: ``pad_mask[:, None, None, :]``).

        Returns ``(B, T, d_model)``. With ``return_all_layers=True`` returns a list of
        ``n_layers + 1`` tensors ``(B, T, d_model)``: the embedded input, then the output
        of each layer; the last one has ``final_norm`` applied and equals the usual output.
        """
        x = self.pos_encoding(self.embedding(token_ids))  # (B, T, d_model)
        hidden_states = [x]
        for layer in self.layers:
            x = layer(x, mask)  # (B, T, d_model)
            hidden_states.append(x)
        hidden_states[-1] = self.final_norm(x)
        return hidden_states if return_all_layers else hidden_states[-1]


def count_parameters(
    vocab_size: int,
    d_model: int,
    n_heads: int,
    d_ff: int,
    n_layers: int,
    norm_first: bool = False,
) -> int:
    """The number of trainable parameters of :class:`TransformerEncoder`, in closed form:
    a formula of the sizes alone, equal to ``sum(p.numel() for p in model.parameters())``
    (the sinusoidal positions are a buffer, not a parameter).
    """
    # embedding vocab_size * d_model; per layer: attention 4 (d^2 + d) (q, k, v, out with biases;
    # the head count only splits them), feed-forward 2 d d_ff + d_ff + d, two LayerNorms 2 * 2d;
    # a final LayerNorm 2d when norm_first.
    attention = 4 * (d_model * d_model + d_model)
    feed_forward = (d_model * d_ff + d_ff) + (d_ff * d_model + d_model)
    norms = 2 * (2 * d_model)
    final_norm = 2 * d_model if norm_first else 0
    return vocab_size * d_model + n_layers * (attention + feed_forward + norms) + final_norm
