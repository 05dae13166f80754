"""Correct answers written in other styles (loops, einsum, other orders, float32).

Every one must get full marks from every check: a check that fails a correct
variant is too strict and would fail a student who is right.
"""
from __future__ import annotations

from grader.reference import Variant

VARIANTS: dict[str, list[Variant]] = {}


def variant(exercise: str, id: str):
    """Decorator: register the decorated function or class as a correct variant."""

    def register(impl):
        VARIANTS.setdefault(exercise, []).append(Variant(exercise, id, impl))
        return impl

    return register


from . import (  # noqa: E402,F401  (registration by import)
    nb01_word_embeddings,
    nb02_relevance,
    nb03_softmax,
    nb04_context_vectors,
    nb05_attention,
    nb06_multi_head,
    nb07_positional,
    nb08_block,
    nb09_encoder,
    nb10_training,
    nb11_probing,
)
