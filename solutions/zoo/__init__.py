"""The bug zoo: for every exercise, the mistakes students really make, as code.

The grader runs these on the same inputs as the student's answer: when the answer's
output matches one, the report names the mistake. CI checks that every check rejects
every bug of its exercise that it can see, and that every bug is rejected and named.
Register a bug with :func:`bug`; each notebook's bugs live in their own module.
"""
from __future__ import annotations

from grader.reference import Bug

BUGS: dict[str, list[Bug]] = {}


def bug(exercise: str, id: str, title: str, hint: str):
    """Decorator: register the decorated function or class as a known mistake."""

    def register(impl):
        BUGS.setdefault(exercise, []).append(Bug(exercise, id, title, hint, impl))
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
