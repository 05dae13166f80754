"""Checks for notebook 09: TransformerEncoder, count_parameters."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..core import Call, Check, Comparison, Exercise
from ._common import distinct_shape, in_training
from .nb08_block import block_state, causal, norm_state, padding_mask, same_outputs, torch_layer_state, torch_src_mask

NOTEBOOK = "09_stacking_encoder"


# ---------------------------------------------------------------------------------------
# Public oracles, built from PyTorch's own modules.
# ---------------------------------------------------------------------------------------


def sinusoids(T: int, d_model: int) -> np.ndarray:
    """pe[pos, 2i] = sin(pos / 10000**(2i/d)), pe[pos, 2i+1] = cos(...), from the formula."""
    angle = np.arange(T)[:, None] / 10000 ** (np.arange(0, d_model, 2) / d_model)
    pe = np.zeros((T, d_model))
    pe[:, 0::2] = np.sin(angle)
    pe[:, 1::2] = np.cos(angle[:, : d_model // 2])
    return pe


def _TorchTransformerEncoder(vocab_size, d_model, n_heads, d_ff, n_layers, max_len=512, dropout=0.0, norm_first=False):
    """nn.Embedding + sinusoids + nn.TransformerEncoderLayer stack (+ nn.LayerNorm when
    norm_first) behind TransformerEncoder's constructor and state-dict keys."""
    import torch
    from torch import nn

    class TorchTransformerEncoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(vocab_size, d_model)
            self.register_buffer("pe", torch.zeros(max_len, d_model))
            self.layers = nn.ModuleList(
                nn.TransformerEncoderLayer(d_model, n_heads, d_ff, dropout=0.0, batch_first=True, norm_first=norm_first)
                for _ in range(n_layers))
            self.final_norm = nn.LayerNorm(d_model) if norm_first else None

        def load_state_dict(self, state, strict=True):
            mapped = {"embedding.weight": state["embedding.weight"], "pe": state["pos_encoding.pe"]}
            for i in range(n_layers):
                mapped.update({f"layers.{i}.{k}": v for k, v in torch_layer_state(state, f"layers.{i}.").items()})
            if norm_first:
                mapped.update({f"final_norm.{k}": state[f"final_norm.{k}"] for k in ("weight", "bias")})
            return super().load_state_dict(mapped, strict=strict)

        def forward(self, token_ids, mask=None, return_all_layers=False):
            B, T = token_ids.shape
            x = self.embedding(token_ids) + self.pe[:T]
            src_mask = torch_src_mask(mask, B, n_heads, T)
            hidden = [x]
            for layer in self.layers:
                x = layer(x, src_mask=src_mask)
                hidden.append(x)
            if self.final_norm is not None:
                hidden[-1] = self.final_norm(x)
            return hidden if return_all_layers else hidden[-1]

    return TorchTransformerEncoder()


def _torch_count(vocab_size, d_model, n_heads, d_ff, n_layers, norm_first=False):
    """sum(p.numel()) of the same model built from PyTorch's modules (small sizes only:
    the meta device would avoid the memory but its first use costs seconds)."""
    from torch import nn

    modules = [nn.Embedding(vocab_size, d_model)]
    modules += [nn.TransformerEncoderLayer(d_model, n_heads, d_ff, batch_first=True, norm_first=norm_first)
                for _ in range(n_layers)]
    if norm_first:
        modules.append(nn.LayerNorm(d_model))
    return int(sum(p.numel() for m in modules for p in m.parameters()))


# BERT-base (Devlin et al. 2019) without its position/type embeddings and pooler: the word
# embeddings and 12 encoder layers, which are sum(p.numel()) of nn.TransformerEncoderLayer(768, 12, 3072).
_BERT_BASE_WORD_EMBEDDINGS = 30522 * 768  # 23,440,896
_BERT_BASE_LAYERS = 85_054_464


def _bert_base_count(*args, **kwargs):
    return _BERT_BASE_WORD_EMBEDDINGS + _BERT_BASE_LAYERS


# ---------------------------------------------------------------------------------------
# Inputs.
# ---------------------------------------------------------------------------------------


def encoder_state(rng, vocab_size, d_model, d_ff, n_layers, max_len, norm_first) -> dict:
    state = {"embedding.weight": rng.normal(size=(vocab_size, d_model)), "pos_encoding.pe": sinusoids(max_len, d_model)}
    for i in range(n_layers):
        state.update(block_state(rng, d_model, d_ff, f"layers.{i}."))
    if norm_first:
        state.update(norm_state(rng, "final_norm", d_model))
    return state


def _encoder_call(rng, B, T, n_heads, d_head, d_ff, vocab_size, n_layers=2, mask=None, tokens=None,
                  all_layers=False, norm_first=False, dropout=0.0, max_len=12):
    d_model = n_heads * d_head
    init = {"vocab_size": vocab_size, "d_model": d_model, "n_heads": n_heads, "d_ff": d_ff, "n_layers": n_layers,
            "max_len": max_len, "dropout": dropout, "norm_first": norm_first}
    if tokens is None:
        tokens = rng.integers(0, vocab_size, size=(B, T))
    return Call(kind="module", init=init,
                state=encoder_state(rng, vocab_size, d_model, d_ff, n_layers, max_len, norm_first),
                args=(np.asarray(tokens, dtype=np.int64), mask),
                kwargs={"return_all_layers": True} if all_layers else {}, torch_args=True)


# Public sizes: B = 3, T = 5, H = 2, d_head = 4 (d_model = 8), d_ff = 12, vocabulary 13, 2 layers.
_B, _T, _H, _DH, _FF, _V = 3, 5, 2, 4, 12, 13


def _public(rng, **kwargs):
    return _encoder_call(rng, _B, _T, _H, _DH, _FF, _V, **kwargs)


def _with_tokens(call: Call, tokens: np.ndarray) -> Call:
    return replace(call, args=(tokens.astype(np.int64), *call.args[1:]))


def _leak_calls(rng):
    """Same weights, causal mask; the second sentence differs from position 3 on."""
    call = _public(rng, mask=causal(_T))
    tokens = call.args[0].copy()
    tokens[:, 3:] = (tokens[:, 3:] + rng.integers(1, _V, size=(_B, _T - 3))) % _V
    return [call, _with_tokens(call, tokens)]


def _padding_calls(rng):
    """Same weights, padding mask; the second batch differs only at padded positions."""
    call = _public(rng, mask=padding_mask(rng, _B, _T))
    pad = call.args[1][:, 0, 0, :]
    tokens = call.args[0].copy()
    tokens[~pad] = (tokens[~pad] + rng.integers(1, _V, size=int((~pad).sum()))) % _V
    return [call, _with_tokens(call, tokens)]


def _eval_calls(rng):
    call = _public(rng, dropout=0.3)
    return [call, replace(call, seed=1, process=1)]  # another seed, another process: no memo links them


def _unchanged(positions):
    """Judge: the outputs of two calls agree where ``positions(calls)`` (a (B, T) bool) is True."""

    def judge(outputs, calls) -> Comparison:
        a, b = outputs
        if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)) or a.shape != b.shape or a.ndim != 3:
            return Comparison(False, "expected two (B, T, d_model) arrays")
        keep = positions(calls)  # (B, T)
        changed = keep & ~np.isclose(a, b, rtol=1e-6, atol=1e-8).all(axis=-1)
        if changed.any():
            where = tuple(int(i) for i in np.argwhere(changed)[0])
            return Comparison(False, f"changing tokens the mask hides changed the output at (batch, position) {where}",
                              {"max_abs_error": float(np.nanmax(np.abs(a - b)[keep]))})
        return Comparison(True)

    return judge


def _past_positions(calls):
    """Positions before the first token that differs between the two calls."""
    changed = (calls[0].args[0] != calls[1].args[0]).any(axis=0)
    first = int(np.argmax(changed))
    keep = np.zeros(calls[0].args[0].shape, dtype=bool)
    keep[:, :first] = True
    return keep


def _real_positions(calls):
    return calls[0].args[1][:, 0, 0, :]


def _encoder_hidden(norm_first: bool):
    def calls(rng):
        out = []
        for config in range(2):  # two shape configurations
            B, T, H, d_head = distinct_shape(rng, 4, 2, 7)
            d_ff = H * d_head + int(rng.integers(1, 6))
            vocab_size = int(rng.integers(10, 20))
            pad = padding_mask(rng, B, T)
            common = dict(n_layers=2 + config, norm_first=norm_first, dropout=0.2)
            out.append(_encoder_call(rng, B, T, H, d_head, d_ff, vocab_size, mask=pad, **common))
            out.append(_encoder_call(rng, B, T, H, d_head, d_ff, vocab_size, all_layers=True,
                                     mask=None if config == 0 else pad & causal(T), **common))
        return out

    return calls


TransformerEncoder = Exercise(
    name="TransformerEncoder",
    notebook=NOTEBOOK,
    kind="module",
    signature=("vocab_size", "d_model", "n_heads", "d_ff", "n_layers", "max_len", "dropout", "norm_first"),
    where="the `TransformerEncoder` cell of 09_stacking_encoder",
    forbidden=("transformer_layer",),
    checks=[
        Check("post_ln", "a 2-layer post-LN encoder matches nn.Embedding + positions + 2 nn.TransformerEncoderLayer",
              lambda rng: [_public(rng)], oracle=_TorchTransformerEncoder,
              hint="x = pos_encoding(embedding(token_ids)), then x = layer(x, mask) for each layer; post-LN "
                   "stacks need no final norm (final_norm is the identity)."),
        Check("pre_ln", "a 2-layer pre-LN encoder (norm_first=True) ends with final_norm",
              lambda rng: [_public(rng, norm_first=True)], oracle=_TorchTransformerEncoder,
              hint="A pre-LN block never normalises its output: apply self.final_norm after the last layer."),
        Check("padding_mask", "a (B, 1, 1, T) padding mask reaches every layer",
              lambda rng: [_public(rng, mask=padding_mask(rng, _B, _T))], oracle=_TorchTransformerEncoder,
              hint="Pass `mask` to every layer: x = layer(x, mask)."),
        Check("all_layers", "return_all_layers=True gives n_layers + 1 arrays: the embedded input, then each layer's "
                            "output (the last with final_norm)",
              lambda rng: [_public(rng, norm_first=True, all_layers=True)], oracle=_TorchTransformerEncoder,
              hint="Start the list with the embedded input (embeddings + positions), append each layer's output, "
                   "then apply final_norm to the last entry."),
        Check("no_causal_leak",
              "with a causal mask, changing tokens 3.. leaves the outputs at positions 0..2 unchanged",
              _leak_calls, judge=_unchanged(_past_positions),
              hint="Pass `mask` to every layer: x = layer(x, mask)."),
        Check("padding_invariance", "with a padding mask, changing the padded tokens leaves the real tokens' outputs "
                                    "unchanged",
              _padding_calls, judge=_unchanged(_real_positions),
              hint="Pass `mask` to every layer: x = layer(x, mask)."),
        Check("eval_no_dropout", "in eval mode with dropout=0.3, two runs give the same output",
              _eval_calls, judge=same_outputs,
              hint="Use nn.Dropout modules (off after model.eval()), or pass training=self.training to F.dropout."),
        Check("hidden_post_ln", "post-LN: random weights, two shape configurations, masks, return_all_layers",
              _encoder_hidden(False), points=2.0, hidden=True),
        Check("hidden_pre_ln", "pre-LN: random weights, two shape configurations, masks, return_all_layers",
              _encoder_hidden(True), points=2.0, hidden=True),
        Check("hidden_training_dropout", "post-LN in training mode with dropout=1 (all it touches becomes 0): the "
                                         "positional encoding's dropout and every block's",
              in_training(lambda rng: _encoder_hidden(False)(rng)[:2]), points=2.0, hidden=True),
    ],
)


# ---------------------------------------------------------------------------------------
# count_parameters
# ---------------------------------------------------------------------------------------


EXACT = (0.0, 0.0)  # a count is right to the last parameter (a float at rtol 1e-5 would allow 1,000 off on BERT)


def _is_int(outputs, calls) -> Comparison:
    for out in outputs:
        if type(out) is not int:
            what = "an array" if isinstance(out, np.ndarray) else type(out).__name__
            return Comparison(False, f"count_parameters returned {what} {out!r}"[:120] + ", not an int")
    return Comparison(True)


def _count_hidden(rng):
    calls = []
    for norm_first in (False, True):
        H, d_head, n_layers = distinct_shape(rng, 3, 2, 13)
        d_ff = 4 * H * d_head + int(rng.integers(1, 9))
        calls.append(Call(args=(int(rng.integers(50, 5000)), H * d_head, H, d_ff, n_layers),
                          kwargs={"norm_first": norm_first}))
    return calls


count_parameters = Exercise(
    name="count_parameters",
    notebook=NOTEBOOK,
    kind="function",
    signature=("vocab_size", "d_model", "n_heads", "d_ff", "n_layers", "norm_first"),
    where="the `count_parameters` cell of 09_stacking_encoder",
    forbidden=("counting",),
    checks=[
        Check("by_hand", "vocab 10, d_model 4, 2 heads, d_ff 8, 1 layer: 40 (embedding) + 80 (attention) "
                         "+ 76 (feed-forward) + 16 (two LayerNorms) = 212",
              lambda rng: [Call(args=(10, 4, 2, 8, 1))], oracle=_torch_count, tolerance=EXACT,
              hint="Every nn.Linear(d_in, d_out) has d_in * d_out weights and d_out biases; every LayerNorm(d) "
                   "has d weights and d biases; the positional encoding is a buffer, not a parameter."),
        Check("bert_base", "BERT-base sizes (30522, 768, 12, 3072, 12): 23,440,896 embedding + 85,054,464 "
                           "in the 12 layers",
              lambda rng: [Call(args=(30522, 768, 12, 3072, 12))], oracle=_bert_base_count, tolerance=EXACT,
              hint="Per layer: 4 * (d_model**2 + d_model) for attention, 2 * d_model * d_ff + d_ff + d_model for the "
                   "feed-forward network, 4 * d_model for the two LayerNorms; the number of heads changes nothing."),
        Check("pre_ln_final_norm", "norm_first=True adds the final LayerNorm (50, 6, 3, 10, 3 layers)",
              lambda rng: [Call(args=(50, 6, 3, 10, 3), kwargs={"norm_first": True})], oracle=_torch_count, tolerance=EXACT,
              hint="A pre-LN stack has one more LayerNorm after the last layer: 2 * d_model parameters."),
        Check("returns_int", "the count is a Python int (whole parameters), not a float",
              lambda rng: [Call(args=(10, 4, 2, 8, 1)), Call(args=(30522, 768, 12, 3072, 12))], judge=_is_int,
              hint="Count with whole numbers: use // for any division (or none at all: the number of heads changes "
                   "nothing), and return an int."),
        Check("hidden_sizes", "random sizes, post-LN and pre-LN", _count_hidden, points=2.0, hidden=True,
              tolerance=EXACT),
    ],
)

EXERCISES = [TransformerEncoder, count_parameters]
