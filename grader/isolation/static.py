"""Static look at an answer's source: does it call a built-in that solves the exercise?"""
from __future__ import annotations

import ast
import functools
import textwrap

from . import gate, twins


def forbidden_uses(source: str, forbidden: tuple[str, ...]) -> list[str]:
    """Forbidden names used as attributes (``F.layer_norm``), imported names, or strings
    (``getattr(F, "layer_norm")``). The answer's own definition name does not count."""
    return list(_forbidden_uses(source, tuple(forbidden)))


@functools.lru_cache(maxsize=4096)
def _forbidden_uses(source: str, forbidden: tuple[str, ...]) -> tuple[str, ...]:
    if not forbidden or not source.strip():
        return ()
    try:
        tree = ast.parse(textwrap.dedent(source))  # dedent: inspect.getsource of a nested def
    except SyntaxError:
        return ()
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in forbidden:
            found.add(node.attr)
        elif isinstance(node, ast.ImportFrom):
            found.update(alias.name for alias in node.names if alias.name in forbidden)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in forbidden:
            found.add(node.value)  # getattr(F, "layer_norm"); not a docstring that mentions it
    return tuple(sorted(found))


def signature_problem(source: str, name: str, expected: tuple[str, ...]) -> str:
    """'' when the answer's parameters start with the expected names; else a student-facing message.

    For a class the parameters of ``__init__`` count (without ``self``). Extra parameters
    after the expected ones are fine (helpers with defaults)."""
    try:
        tree = ast.parse(textwrap.dedent(source))
    except SyntaxError:
        return ""
    defs = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n.name == name]
    if not defs:
        return ""
    node = defs[-1]
    if isinstance(node, ast.ClassDef):
        inits = [n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"]
        if not inits:
            return ""
        params = [a.arg for a in inits[-1].args.posonlyargs + inits[-1].args.args][1:]
        params += [a.arg for a in inits[-1].args.kwonlyargs]
    else:
        params = [a.arg for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs]
    if tuple(params[: len(expected)]) == tuple(expected):
        return ""
    what = f"{name}.__init__" if isinstance(node, ast.ClassDef) else name
    return (f"your {what} takes ({', '.join(params)}) but the exercise expects ({', '.join(expected)}): "
            "keep the parameter names and order of the stub, the checks call them by name")


def refused_before_running(exercise, answer: str, deps=()) -> tuple[str, str] | None:
    """(status, message) when the answer may not run at all: the static gate refuses it (flagged),
    it names a withheld working version of the exercise, or a forbidden built-in (forbidden). The
    answers it calls count too: an EncoderBlock may not lean on a MultiHeadAttention that wraps
    nn.MultiheadAttention. One function for every route (grade, check(), nbgrader)."""
    sources = [answer, *(source for _, source in deps)]
    found = [r for source in sources for r in gate.refusals(source)]
    if found:
        return "flagged", gate.describe(found)
    named = sorted({name for source in sources for name in twins.named_in(source, exercise.name)})
    if named:
        return "forbidden", twins.withheld(exercise.name)[named[0]].message(exercise.name)
    uses = sorted({name for source in sources for name in forbidden_uses(source, exercise.forbidden_names)})
    if uses:
        return "forbidden", f"this exercise is to write it yourself; the answer uses {', '.join(uses)}"
    return None
