"""The hidden reference implementation of every exercise in the course.

Instructors only: the grader compares student answers against these, and the
solved notebooks are generated from them. Never released to students, never
readable from the grading sandbox.
"""
from .attention import SelfAttention, scaled_dot_product_attention
from .block import EncoderBlock, FeedForward, layer_norm
from .context_vectors import attention_weights, context_vectors, self_attention, strike_over_burn_projections
from .encoder import TransformerEncoder, count_parameters
from .multi_head import MultiHeadAttention, merge_heads, split_heads
from .positional import PositionalEncoding, sinusoidal_positional_encoding
from .probing import layer_probe_accuracy
from .relevance import bilinear_relevance, relevance, relevance_matrix, scaled_relevance_matrix
from .softmax import causal_mask, masked_softmax, softmax
from .training import evaluate, pick_device, train_step
from .word_embeddings import cosine_similarity, embed, tokenize

__all__ = [
    "tokenize", "embed", "cosine_similarity",
    "relevance", "relevance_matrix", "scaled_relevance_matrix", "bilinear_relevance",
    "softmax", "masked_softmax", "causal_mask",
    "attention_weights", "context_vectors", "self_attention", "strike_over_burn_projections",
    "scaled_dot_product_attention", "SelfAttention",
    "split_heads", "merge_heads", "MultiHeadAttention",
    "sinusoidal_positional_encoding", "PositionalEncoding",
    "layer_norm", "FeedForward", "EncoderBlock",
    "TransformerEncoder", "count_parameters",
    "pick_device", "train_step", "evaluate",
    "layer_probe_accuracy",
]
