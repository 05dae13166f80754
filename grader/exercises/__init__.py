"""Every graded exercise of the course, in notebook order.

Each ``nbNN_*`` module defines ``EXERCISES``, a list of :class:`grader.core.Exercise`
whose names, signatures and notebooks follow ``COURSE.md``.
"""
from __future__ import annotations

import importlib

from ..core import Exercise

# One module per notebook, in course order; solutions/zoo and solutions/variants use the same names.
MODULE_NAMES = [
    "nb01_word_embeddings", "nb02_relevance", "nb03_softmax", "nb04_context_vectors", "nb05_attention",
    "nb06_multi_head", "nb07_positional", "nb08_block", "nb09_encoder", "nb10_training", "nb11_probing",
]
_MODULES = [importlib.import_module(f".{name}", __name__) for name in MODULE_NAMES]

EXERCISES: dict[str, Exercise] = {ex.name: ex for module in _MODULES for ex in module.EXERCISES}


def get(name: str) -> Exercise:
    try:
        return EXERCISES[name]
    except KeyError:
        raise KeyError(f"no exercise called {name!r}; known exercises: {', '.join(EXERCISES)}") from None


def for_notebook(notebook: str) -> list[Exercise]:
    """Exercises of one notebook ("03_softmax" or "03_softmax.ipynb"), in order."""
    stem = notebook.rsplit("/", 1)[-1].removesuffix(".ipynb")
    return [ex for ex in EXERCISES.values() if ex.notebook == stem]
