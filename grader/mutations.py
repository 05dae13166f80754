"""The error model: mistakes nobody wrote down, made by mutating the reference.

The bug zoo (``solutions/zoo``) names the mistakes people wrote down. This module makes the others
the same way a mutation-testing tool does: it parses the reference answer of an exercise (its
function, or the student's methods of its class), applies one systematic change at one place, and
keeps each result that still runs as a *mutant*, with a generated name and where to look:

- an axis: ``axis=`` / ``dim=`` of a reduction or a softmax set to another axis;
- ``keepdims`` / ``keepdim`` dropped;
- a transpose dropped (``.T``, ``.mT``, ``.transpose(..)``, ``.swapaxes(..)``), or added to the right
  operand of a matrix product;
- a scale: a division or product by a square root left out, or the square root itself left out;
- a mask inverted (``~m`` -> ``m``, the two branches of ``where`` swapped, ``masked_fill`` on the
  allowed positions) or off by one (``tril`` / ``triu`` one diagonal further or nearer);
- a residual left out (``x + f(x)`` -> ``f(x)``) or a sub-layer left out (``x + f(x)`` -> ``x``),
  a normalisation left out (``norm(z)`` -> ``z``);
- the other activation (ReLU <-> GELU) or none;
- dropout in the wrong mode (``self.training`` -> always / never) or left out;
- a mean for a sum and a sum for a mean; a biased variance made unbiased; eps outside the root.

Diagnosis (:func:`grader.judge.diagnose`) tries the hand-written zoo first and the mutants after,
with the same rules (the same outputs within the check's tolerance, or the same error), and skips
a mutant that returns what the reference returns on the check's inputs: a mutant can only name a
failure, never blame a correct answer. Its message says it comes from the error model.

Trusted side only (it needs ``solutions/``); the students' bundle gets the mutants' fingerprints on
the public checks with the zoo's (:mod:`grader.mistakes`).
"""
from __future__ import annotations

import ast
import copy
import inspect
import textwrap
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable

# The methods of a class exercise that are the student's (the rest is the given skeleton), as in
# tools/build_notebooks.py: mutating a given __init__ would invent mistakes no student can make.
STUDENT_METHODS = {"PositionalEncoding": ("__init__", "forward")}
DEFAULT_STUDENT_METHODS = ("forward",)
GENERATED = "error model"  # what a mutant's diagnosis says it comes from
# Functions a student confuses with each other: each becomes the other.
SIBLINGS = {"sin": "cos", "cos": "sin", "tril": "triu", "triu": "tril", "max": "min", "min": "max",
            "argmax": "argmin", "argmin": "argmax", "amax": "amin", "amin": "amax"}
# Methods without arguments that a student forgets (the value is used without them).
DROPPABLE_METHODS = {"item", "lower", "detach", "contiguous", "float", "long", "bool", "eval", "train", "numpy",
                     "clone", "strip"}


@dataclass(frozen=True)
class Mutant:
    exercise: str
    id: str  # "axis-3": operator and site
    title: str  # "np.sum over the wrong axis (0 instead of axis)"
    hint: str  # where to look
    impl: Callable


# ------------------------------------------------------------------------------ the operators


def _name(node: ast.AST) -> str:
    """``np.sum`` for ``np.sum(...)``'s func, ``x.transpose`` -> ``.transpose``."""
    if isinstance(node, ast.Attribute):
        base = node.value
        if isinstance(base, ast.Name) and base.id in {"np", "torch", "F", "math", "nn"}:
            return f"{base.id}.{node.attr}"
        return f".{node.attr}"
    if isinstance(node, ast.Name):
        return node.id
    return "this call"


def _show(node: ast.AST) -> str:
    text = ast.unparse(node)
    return text if len(text) <= 24 else "the value there"


def _const(value) -> ast.Constant:
    return ast.Constant(value=value)


class _Site:
    """One change at one node: ``apply(node)`` returns the replacement (or mutates in place)."""

    def __init__(self, kind: str, title: str, hint: str, apply: Callable[[ast.AST], ast.AST]):
        self.kind, self.title, self.hint, self.apply = kind, title, hint, apply


def _sites(node: ast.AST) -> list[_Site]:
    """Every change this module makes at ``node`` (most nodes: none)."""
    sites: list[_Site] = []
    if isinstance(node, ast.Call):
        fn = _name(node.func)
        short = fn.rsplit(".", 1)[-1]
        for i, kw in enumerate(node.keywords):
            if kw.arg in ("axis", "dim") and short not in ("split_heads", "merge_heads", "cat", "stack", "concatenate"):
                for other in (0, -2, 1) if not (isinstance(kw.value, ast.Constant) and kw.value.value == 0) else (-1,):
                    if isinstance(kw.value, ast.Constant) and kw.value.value == other:
                        continue

                    def axis(n, i=i, other=other):
                        n.keywords[i].value = _const(other)
                        return n

                    sites.append(_Site("axis", f"{fn} over the wrong axis ({other} instead of {_show(kw.value)})",
                                       f"Look at the {kw.arg}= of your {fn}: which axis holds what it must combine?",
                                       axis))
            if kw.arg in ("keepdims", "keepdim") and isinstance(kw.value, ast.Constant) and kw.value.value is True:
                def keep(n, i=i):
                    n.keywords[i].value = _const(False)
                    return n

                sites.append(_Site("keepdims", f"{fn} without {kw.arg}=True: the reduced axis is gone and the "
                                                "result broadcasts along the wrong axis",
                                   f"Keep the reduced axis ({kw.arg}=True) so that it lines up with the array it divides "
                                   "or shifts.", keep))
            if kw.arg == "diagonal" and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, int):
                for step in (-1, 1):
                    def diag(n, i=i, step=step):
                        n.keywords[i].value = _const(n.keywords[i].value.value + step)
                        return n

                    sites.append(_Site("diagonal", f"{fn} one diagonal off (diagonal={kw.value.value + step} instead of "
                                                   f"{kw.value.value})",
                                       "Which positions may a word attend to: itself too? Check the diagonal of your mask.",
                                       diag))
            if kw.arg == "correction" and isinstance(kw.value, ast.Constant) and kw.value.value == 0:
                def unbiased(n, i=i):
                    n.keywords[i].value = _const(1)
                    return n

                sites.append(_Site("variance", f"{fn} unbiased (divides by d - 1)",
                                   "LayerNorm's variance divides by d (biased), not d - 1.", unbiased))
        if short in ("tril", "triu") and not any(kw.arg == "diagonal" for kw in node.keywords):
            for k in (-1, 1):
                def diag_default(n, k=k):
                    if len(n.args) >= 2:
                        return n
                    n.keywords.append(ast.keyword(arg="k" if fn.startswith("np.") else "diagonal", value=_const(k)))
                    return n

                sites.append(_Site("diagonal", f"{fn} one diagonal off (diagonal {k} instead of 0)",
                                   "Which positions may a word attend to: itself too? Check the diagonal of your mask.",
                                   diag_default))
        if short in ("transpose", "swapaxes", "permute") and isinstance(node.func, ast.Attribute) and fn.startswith("."):
            sites.append(_Site("transpose", f"a transpose left out ({fn} dropped)",
                               f"Look at your {fn}: the axes must be in the order the next step expects.",
                               lambda n: n.func.value))
        if short in ("sqrt",) and node.args:
            sites.append(_Site("scale", f"the square root left out in {fn}: dividing by d instead of sqrt(d)",
                               "Scale by 1/sqrt(d), not 1/d.", lambda n: n.args[0]))
        if short == "masked_fill" and node.args:
            def invert_fill(n):
                n.args[0] = ast.UnaryOp(op=ast.Invert(), operand=n.args[0]) if not isinstance(n.args[0], ast.UnaryOp) \
                    else n.args[0].operand
                return n

            sites.append(_Site("mask", "the mask inverted in masked_fill (the allowed positions are filled)",
                               "True in the course's masks means 'may attend': fill where the mask is False.",
                               invert_fill))
        if short == "where" and len(node.args) == 3:
            def swap(n):
                n.args[1], n.args[2] = n.args[2], n.args[1]
                return n

            sites.append(_Site("mask", f"the two branches of {fn} swapped (the mask inverted)",
                               "True in the course's masks means 'may attend': keep the scores where it is True.", swap))
        if short in ("mean", "sum") and fn.startswith((".", "np.", "torch.")):
            other = "sum" if short == "mean" else "mean"

            def mean_sum(n, other=other):
                if isinstance(n.func, ast.Attribute):
                    n.func.attr = other
                return n

            sites.append(_Site("reduction", f"a {other} where a {short} belongs ({fn})",
                               f"Check your {fn}: {short} and {other} differ by the number of elements.", mean_sum))
        if "norm" in short.lower() and node.args and short not in ("norm",):
            sites.append(_Site("norm", f"the normalisation {fn} left out",
                               f"Every place the block normalises matters: look at your {fn}.", lambda n: n.args[0]))
        if short in ("relu", "gelu", "activation") and node.args:
            for other in ("relu", "gelu", None):
                if other == short:
                    continue

                def activation(n, other=other):
                    if other is None:
                        return n.args[0]
                    n.func = ast.Attribute(value=ast.Name(id="F", ctx=ast.Load()), attr=other, ctx=ast.Load())
                    return n

                what = "no activation" if other is None else f"{other.upper()} as the activation"
                sites.append(_Site("activation", f"{what} ({fn} replaced)",
                                   "Look at the activation between the two linear layers: which one did the "
                                   "exercise ask for, and is it there?", activation))
        if short == "dropout" or (short.startswith("dropout") and isinstance(node.func, ast.Attribute)):
            if node.args:
                sites.append(_Site("dropout", f"dropout left out ({fn})",
                                   "Dropout acts in training mode: check where your dropout is applied.",
                                   lambda n: n.args[0]))
    if isinstance(node, ast.Call):
        fn = _name(node.func)
        short = fn.rsplit(".", 1)[-1]
        sibling = SIBLINGS.get(short)
        if sibling and isinstance(node.func, (ast.Attribute, ast.Name)):
            def swap_sibling(n, sibling=sibling):
                if isinstance(n.func, ast.Attribute):
                    n.func.attr = sibling
                else:
                    n.func.id = sibling
                return n

            sites.append(_Site("sibling", f"{sibling} where {short} belongs",
                               f"Check your {fn}: is it {short} or {sibling} there?", swap_sibling))
        if isinstance(node.func, ast.Attribute) and not node.args and not node.keywords \
                and node.func.attr in DROPPABLE_METHODS:
            sites.append(_Site("method", f"the .{node.func.attr}() left out",
                               f"Look at what .{node.func.attr}() does to your value, and whether it is there.",
                               lambda n: n.func.value))
        for i, arg in enumerate(node.args):
            if isinstance(arg, ast.Name) and arg.id == "mask":
                def no_mask(n, i=i):
                    n.args[i] = _const(None)
                    return n

                sites.append(_Site("mask", f"the mask not passed on to {fn}",
                                   "Every attention that must respect the mask has to receive it.", no_mask))
        if short == "arange" and len(node.args) == 1 and not node.keywords:
            def from_one(n):
                n.args = [_const(1), ast.BinOp(left=n.args[0], op=ast.Add(), right=_const(1))]
                return n

            sites.append(_Site("offbyone", f"{fn} counting from 1 instead of 0",
                               "Positions and indices count from 0.", from_one))
        if isinstance(node.func, ast.Attribute) and node.func.attr.startswith("dropout") \
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "self" and len(node.args) == 1:
            def always_on(n):
                p = ast.Attribute(value=ast.Attribute(value=ast.Name(id="self", ctx=ast.Load()), attr=n.func.attr,
                                                      ctx=ast.Load()), attr="p", ctx=ast.Load())
                return ast.Call(func=ast.Attribute(value=ast.Attribute(value=ast.Attribute(
                    value=ast.Name(id="torch", ctx=ast.Load()), attr="nn", ctx=ast.Load()), attr="functional",
                    ctx=ast.Load()), attr="dropout", ctx=ast.Load()), args=[n.args[0], p],
                    keywords=[ast.keyword(arg="training", value=_const(True))])

            sites.append(_Site("mode", f"dropout always on ({fn} in eval mode too)",
                               "Dropout must follow the module's mode: on in training, off in eval.", always_on))
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) and not any(
            isinstance(c, ast.Call) and _name(c.func).endswith("sqrt") for c in ast.walk(node.right)):
        sites.append(_Site("division", f"the division by {_show(node.right)} left out",
                           "Look at what your result is divided by, and whether it is.", lambda n: n.left))
    if isinstance(node, ast.Attribute) and node.attr in ("T", "mT") and isinstance(node.ctx, ast.Load):
        sites.append(_Site("transpose", f"a transpose left out (.{node.attr} dropped)",
                           "Look at your transposes: a (T, d) times (d, T) product needs the second one transposed.",
                           lambda n: n.value))
    if isinstance(node, ast.Attribute) and node.attr == "training" and isinstance(node.value, ast.Name) \
            and node.value.id == "self":
        for value in (True, False):
            sites.append(_Site("mode", f"dropout {'always on' if value else 'never on'} (self.training taken as {value})",
                               "Dropout must follow the module's mode: on in training, off in eval.",
                               lambda n, value=value: _const(value)))
    if isinstance(node, ast.BinOp):
        if isinstance(node.op, ast.MatMult):
            def add_transpose(n):
                n.right = ast.Call(func=ast.Attribute(value=n.right, attr="swapaxes", ctx=ast.Load()),
                                   args=[_const(-1), _const(-2)], keywords=[])
                return n

            sites.append(_Site("transpose", f"a transpose too many in {_show(node)}",
                               "Look at the shapes of your matrix product: (.., T, d) @ (.., d, T).", add_transpose))
        if isinstance(node.op, (ast.Div, ast.Mult)) and any(
                isinstance(c, ast.Call) and _name(c.func).endswith("sqrt") for c in ast.walk(node.right)):
            sites.append(_Site("scale", "the scaling by a square root left out",
                               "Scale the scores by 1/sqrt(d) before the softmax.", lambda n: n.left))
        if isinstance(node.op, ast.Add) and isinstance(node.left, ast.Name) and isinstance(node.right, ast.Call):
            sites.append(_Site("residual", f"the residual connection left out ({node.left.id} + ... -> ...)",
                               "Each sub-layer's output is added to its input: x + sublayer(x).", lambda n: n.right))
            sites.append(_Site("sublayer", f"a sub-layer left out ({node.left.id} + ... -> {node.left.id})",
                               "Each sub-layer's output is added to its input: x + sublayer(x).", lambda n: n.left))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Invert):
        sites.append(_Site("mask", f"the mask inverted (~ dropped before {_show(node.operand)})",
                           "True in the course's masks means 'may attend'.", lambda n: n.operand))
    if isinstance(node, ast.Call) and _name(node.func).endswith("sqrt") and len(node.args) == 1 \
            and isinstance(node.args[0], ast.BinOp) and isinstance(node.args[0].op, ast.Add):
        def eps_outside(n):
            inner = n.args[0]
            n.args[0] = inner.left
            return ast.BinOp(left=n, op=ast.Add(), right=inner.right)

        sites.append(_Site("eps", "eps outside the square root (sqrt(var) + eps)",
                           "LayerNorm divides by sqrt(var + eps): eps goes inside the root.", eps_outside))
    return sites


def _statement_sites(node: ast.AST) -> list[_Site]:
    """A statement whose value is thrown away (``optimizer.zero_grad()``, ``model.train()``) left out."""
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        fn = _name(node.value.func)
        return [_Site("step", f"a step left out ({fn}(...) never runs)",
                      f"Look at where your code calls {fn}(...), and whether it does.", lambda n: ast.Pass())]
    return []


_site_of = _sites


def _sites_all(node: ast.AST) -> list[_Site]:
    return _site_of(node) + _statement_sites(node)


class _Apply(ast.NodeTransformer):
    def __init__(self, target: int, site: int):
        self.target, self.site, self.count = target, site, -1

    def visit(self, node):
        self.count += 1
        if self.count == self.target:
            replacement = _sites_all(node)[self.site].apply(node)
            return replacement
        return super().visit(node)


# ------------------------------------------------------------------------------ building mutants


def _student_regions(tree: ast.Module, name: str, is_class: bool) -> list[ast.AST]:
    definition = next(n for n in tree.body if getattr(n, "name", None) == name)
    if not is_class:
        return [definition]
    methods = STUDENT_METHODS.get(name, DEFAULT_STUDENT_METHODS)
    return [n for n in definition.body if isinstance(n, ast.FunctionDef) and n.name in methods]


def _numbered(tree: ast.AST) -> list[ast.AST]:
    """Nodes in the order :class:`_Apply` visits them."""
    found = []

    class Walk(ast.NodeVisitor):
        def visit(self, node):
            found.append(node)
            super().visit(node)

    Walk().visit(tree)
    return found


def _variants_of(tree: ast.Module, regions: set[int]):
    """Every (site, mutated tree) of the nodes of ``regions``, each mutated source once."""
    seen: set[str] = {ast.unparse(tree)}
    for index, node in enumerate(_numbered(tree)):
        if id(node) not in regions:
            continue
        for site_index, site in enumerate(_sites_all(node)):
            mutated = _Apply(index, site_index).visit(copy.deepcopy(tree))
            ast.fix_missing_locations(mutated)
            source = ast.unparse(mutated)
            if source not in seen:
                seen.add(source)
                yield site, mutated


# Changes a student makes everywhere at once (both residuals, every dropout), made as one mutant too.
EVERYWHERE = ("residual", "sublayer", "dropout", "keepdims", "norm", "mask", "mode", "step", "division", "scale",
              "transpose", "method")


def _everywhere(tree: ast.Module, regions: set[int]):
    """For each kind of change with several sites: one (title, mutated tree) changing them all, applied
    from the last site to the first (a change never renumbers the nodes before it)."""
    nodes = _numbered(tree)
    by_kind: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for index, node in enumerate(nodes):
        if id(node) not in regions:
            continue
        for site_index, site in enumerate(_sites_all(node)):
            if site.kind in EVERYWHERE:
                variant = site.title if site.kind == "mode" else site.kind  # always on, never on: two of them
                by_kind.setdefault((site.kind, variant), []).append((index, site_index))
    for (kind, _), places in by_kind.items():
        if len(places) < 2:
            continue
        first = _sites_all(nodes[places[0][0]])[places[0][1]]
        mutated = copy.deepcopy(tree)
        for index, site_index in sorted(places, reverse=True):
            mutated = _Apply(index, site_index).visit(mutated)
        ast.fix_missing_locations(mutated)
        yield _Site(kind, f"{first.title}, and the same at {len(places) - 1} more place(s)", first.hint,
                    first.apply), mutated


def _define(tree: ast.Module, name: str, namespace: dict[str, Any]) -> Any | None:
    """``name`` as ``tree`` defines it, run in ``namespace`` (a copy of its module's globals)."""
    try:
        exec(compile(tree, f"<mutant of {name}>", "exec"), namespace)  # noqa: S102 (the reference's own code)
    except Exception:  # noqa: BLE001  (a change that does not even define the answer)
        return None
    return namespace.get(name)


def _helpers(ref: Any, tree: ast.Module, regions: set[int]) -> dict[str, Callable]:
    """The course's own functions the student's part of the reference calls by name (multi-head
    attention calls ``split_heads`` and ``scaled_dot_product_attention``): a mistake inside one of
    them is a mistake of this exercise too, when a student writes it all in one cell."""
    module = inspect.getmodule(ref)
    found = {}
    for node in _numbered(tree):
        if id(node) in regions and isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            value = vars(module).get(node.id)
            if (inspect.isfunction(value) and (value.__module__ or "").startswith("solutions")
                    and value is not ref and node.id not in found):
                found[node.id] = value
    return found


@lru_cache(maxsize=None)
def mutants(exercise: str) -> tuple[Mutant, ...]:
    """The error model's mutants of ``exercise`` (empty without solutions/): one change in the
    student's part of the reference, or in a course function it calls. Each compiles and is distinct
    in its source; whether it differs from the reference is decided per check's inputs."""
    from . import reference

    ref = reference.reference(exercise)
    if ref is None:
        return ()
    module = inspect.getmodule(ref)
    tree = ast.parse(textwrap.dedent(inspect.getsource(ref)))
    regions = {id(n) for region in _student_regions(tree, exercise, inspect.isclass(ref)) for n in _numbered(region)}
    made: list[Mutant] = []

    def keep(site: _Site, impl: Any, where: str = "") -> None:
        if impl is not None:
            title = f"{site.title}{where}"
            made.append(Mutant(exercise, f"{site.kind}-{len(made) + 1}", title, site.hint, impl))

    for site, mutated in [*_variants_of(tree, regions), *_everywhere(tree, regions)]:
        keep(site, _define(mutated, exercise, dict(vars(module))))
    for name, helper in _helpers(ref, tree, regions).items():
        helper_tree = ast.parse(textwrap.dedent(inspect.getsource(helper)))
        helper_regions = {id(n) for n in _numbered(helper_tree)}
        for site, mutated in _variants_of(helper_tree, helper_regions):
            changed = _define(mutated, helper.__name__, dict(vars(inspect.getmodule(helper))))
            if changed is not None:
                keep(site, _define(tree, exercise, {**vars(module), name: changed}), f", in the {name} step")
    return tuple(made)
