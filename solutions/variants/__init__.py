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


import importlib  # noqa: E402

from grader.exercises import MODULE_NAMES  # noqa: E402

for _name in MODULE_NAMES:  # registration happens on import
    importlib.import_module(f".{_name}", __name__)
