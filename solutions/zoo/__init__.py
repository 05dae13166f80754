"""The bug zoo: for every exercise, the mistakes students really make, as code.

The grader runs these on the same inputs as the student's answer: when the answer's
output matches one, the report names the mistake. CI checks that every check rejects
every bug of its exercise that it can see, and that every bug is rejected and named.
Register a bug with :func:`bug`; each notebook's bugs live in their own module.
"""
from __future__ import annotations

from grader.reference import Bug

BUGS: dict[str, list[Bug]] = {}

# GRADING.md's list of known student mistakes, and the exercises where each one can happen.
# Every (mistake, exercise) pair below must have a bug-zoo entry tagged with that mistake.
LISTED_MISTAKES: dict[str, tuple[str, tuple[str, ...]]] = {
    "softmax_wrong_axis": ("softmax over the wrong axis", (
        "softmax", "masked_softmax", "attention_weights", "self_attention",
        "scaled_dot_product_attention", "SelfAttention", "MultiHeadAttention")),
    "unstable_softmax": ("unstable softmax (overflow at 1000)", ("softmax", "masked_softmax")),
    "mask_after_softmax": ("mask applied after softmax (no renormalisation)", (
        "masked_softmax", "attention_weights", "self_attention", "scaled_dot_product_attention",
        "SelfAttention", "MultiHeadAttention")),
    "mask_polarity": ("mask polarity inverted", (
        "masked_softmax", "causal_mask", "attention_weights", "self_attention",
        "scaled_dot_product_attention", "SelfAttention", "MultiHeadAttention", "EncoderBlock")),
    "fill_zero": ("fill value 0 instead of -inf", (
        "masked_softmax", "attention_weights", "scaled_dot_product_attention", "MultiHeadAttention")),
    "nan_fully_masked": ("fully masked row gives NaN", (
        "masked_softmax", "attention_weights", "context_vectors", "scaled_dot_product_attention",
        "MultiHeadAttention")),
    "causal_off_by_one": ("causal mask off by one (diagonal excluded)", ("causal_mask",)),
    "missing_scale": ("missing 1/sqrt(d_k), or sqrt(d_model) instead of sqrt(d_head)", (
        "scaled_relevance_matrix", "attention_weights", "self_attention", "scaled_dot_product_attention",
        "SelfAttention", "MultiHeadAttention")),
    "reshape_no_transpose": ("head split by reshape without transpose (split or merge)", (
        "split_heads", "merge_heads", "MultiHeadAttention")),
    "qkv_swapped": ("q/k/v swapped", (
        "self_attention", "scaled_dot_product_attention", "SelfAttention", "MultiHeadAttention")),
    "no_out_proj": ("output projection missing", ("MultiHeadAttention", "count_parameters")),
    "repeat_not_interleave": ("per-sample mask built with repeat instead of repeat_interleave", (
        "MultiHeadAttention",)),
    "batch_time_swapped": ("batch and time axes swapped", (
        "PositionalEncoding", "MultiHeadAttention", "TransformerEncoder")),
    "dropout_in_eval": ("dropout active in eval", (
        "MultiHeadAttention", "PositionalEncoding", "FeedForward", "EncoderBlock", "TransformerEncoder",
        "evaluate")),
    "layernorm_wrong_dim": ("LayerNorm over the wrong dim", ("layer_norm",)),
    "layernorm_unbiased": ("LayerNorm with unbiased variance", ("layer_norm",)),
    "layernorm_eps_outside": ("LayerNorm with eps outside the sqrt", ("layer_norm",)),
    "post_pre_ln_swapped": ("post-LN vs pre-LN swapped", ("EncoderBlock", "TransformerEncoder")),
    "residual_missing": ("residual missing", ("EncoderBlock", "TransformerEncoder")),
    "final_norm_missing": ("final norm missing in pre-LN stacks", ("TransformerEncoder", "count_parameters")),
    "pe_concatenated": ("PE sin/cos concatenated instead of interleaved", (
        "sinusoidal_positional_encoding", "PositionalEncoding")),
    "pe_exponent_i": ("PE exponent i/d instead of 2i/d", ("sinusoidal_positional_encoding", "PositionalEncoding")),
    "pe_not_added": ("PE not added", ("PositionalEncoding", "TransformerEncoder")),
    "pe_not_buffer": ("PE not a buffer (device error on GPU)", ("PositionalEncoding",)),
    "weight_not_transposed": ("weights used as W instead of W.T", (
        "bilinear_relevance", "self_attention", "SelfAttention", "MultiHeadAttention", "FeedForward")),
    "cosine_no_norms": ("cosine similarity without norms", ("cosine_similarity",)),
    "relevance_transposed": ("relevance matrix transposed in the asymmetric case", (
        "bilinear_relevance", "attention_weights", "self_attention")),
    "count_missing_biases": ("parameter count missing biases", ("count_parameters",)),
    "count_missing_layernorm": ("parameter count missing LayerNorm parameters", ("count_parameters",)),
}


def bug(exercise: str, id: str, title: str, hint: str, mistake: str = ""):
    """Decorator: register the decorated function or class as a known mistake.

    ``mistake``: the key in :data:`LISTED_MISTAKES` when this is one of the listed mistakes
    (tests/test_grader_mistakes.py checks that each listed mistake is in the zoo of every
    exercise where it can happen)."""
    if mistake and mistake not in LISTED_MISTAKES:
        raise KeyError(f"unknown listed mistake {mistake!r}")

    def register(impl):
        BUGS.setdefault(exercise, []).append(Bug(exercise, id, title, hint, impl, mistake))
        return impl

    return register


import importlib  # noqa: E402

from grader.exercises import MODULE_NAMES  # noqa: E402

for _name in MODULE_NAMES:  # registration happens on import
    importlib.import_module(f".{_name}", __name__)
