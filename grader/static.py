"""Static look at an answer's source: does it call a built-in that solves the exercise?"""
from __future__ import annotations

import ast


def forbidden_uses(source: str, forbidden: tuple[str, ...]) -> list[str]:
    """Forbidden names used as attributes (``F.layer_norm``), imported names, or strings
    (``getattr(F, "layer_norm")``). The answer's own definition name does not count."""
    if not forbidden or not source.strip():
        return []
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in forbidden:
            found.add(node.attr)
        elif isinstance(node, ast.ImportFrom):
            found.update(alias.name for alias in node.names if alias.name in forbidden)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in forbidden:
            found.add(node.value)  # getattr(F, "layer_norm"); not a docstring that mentions it
    return sorted(found)
