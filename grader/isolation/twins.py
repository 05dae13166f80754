"""Nothing graded is given: the course's own working versions of an exercise, withheld while it is graded.

``course.given`` holds working versions of the pieces notebooks 05-09 ask for, so that a bug in one
notebook never breaks the next, and ``course.capstone`` holds a training step and an evaluation.
While exercise E is graded, none of them may hold a working E: the *twins* of E, and of every
exercise after E (a later piece contains E: ``given.MultiHeadAttention`` attends), are withheld,
together with everything in the course that uses them (``capstone.fit`` runs ``capstone._step``).
Pieces *earlier* than E stay usable, as the notebooks promise.

How that is enforced, by route:

- ``grade`` and ``pytest --grade`` (the sandbox): the withheld modules are not in the sandbox at
  all (:func:`stage_course` copies ``course/`` without them). Each job gets its own copies,
  written by the trusted side (:func:`course_view`), in which every withheld definition is a stub
  that says why and reports its use; no file or memory of that process holds the working version.
- ``check()`` and nbgrader's test cells (the student's own kernel, where the real modules are
  loaded): the answer's source may not name a withheld piece (:func:`named_in`), and while the
  checks run, every withheld function and class is swapped for the same stub
  (:func:`withheld_in_process`), so an alias taken earlier reaches the stub too. A kernel is the
  student's own: this is feedback, not a wall.
"""
from __future__ import annotations

import ast
import contextlib
import functools
import sys
import textwrap
import types
from dataclasses import dataclass
from pathlib import Path

COURSE_DIR = Path(__file__).resolve().parent.parent.parent / "course"
# The course modules that hold working versions of graded exercises (others hold data and helpers).
MODULES = ("given", "capstone", "bench")
# Exercise -> its working versions in the course, as "<module>.<name>".
TWINS: dict[str, tuple[str, ...]] = {
    "scaled_dot_product_attention": ("given.attention", "given._fused_attention"),
    "split_heads": ("given.split_heads",),
    "merge_heads": ("given.merge_heads",),
    "MultiHeadAttention": ("given.MultiHeadAttention",),
    "sinusoidal_positional_encoding": ("given.sinusoidal_positional_encoding",),
    "PositionalEncoding": ("given.PositionalEncoding",),
    "FeedForward": ("given.FeedForward",),
    "EncoderBlock": ("given.EncoderBlock",),
    "TransformerEncoder": ("given.TransformerEncoder",),
    "train_step": ("capstone._step",),
    "evaluate": ("capstone.evaluate_split",),
}
REPORT_PREFIX = "course."  # a use of a withheld piece, as the worker's report pipe carries it
REPORT_FD = 3  # the worker child's report pipe (grader.isolation.worker.REPORT_FD)


@dataclass(frozen=True)
class Withheld:
    name: str  # "given.attention"
    twin_of: str  # the exercise it is a working version of
    via: str = ""  # for a piece withheld because it uses another: that one ("capstone._step")

    def message(self, graded: str) -> str:
        why = f"it is a working {self.twin_of}" if not self.via else f"it runs {self.via}, a working {self.twin_of}"
        return (f"`{self.name}` is not available while {graded} is graded: {why}, and {graded} is "
                f"{'that exercise' if self.twin_of == graded else 'a part of it'}. Write it yourself; "
                "the given pieces of earlier notebooks stay available.")


def _order() -> list[str]:
    from ..exercises import EXERCISES

    return list(EXERCISES)


@functools.lru_cache(maxsize=None)
def _module_tree(module: str) -> ast.Module:
    return ast.parse((COURSE_DIR / f"{module}.py").read_text(encoding="utf-8"))


def _definitions(module: str) -> dict[str, ast.stmt]:
    """Top-level functions and classes of a course module, by name."""
    return {node.name: node for node in _module_tree(module).body
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}


def _module_aliases(tree: ast.AST) -> dict[str, str]:
    """Names bound to a course module ({"given": "given"} for ``from course import given``)."""
    aliases = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module in ("course", None) or node.level):
            for alias in node.names:
                if alias.name in MODULES and (node.module == "course" or node.level == 1):
                    aliases[alias.asname or alias.name] = alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("course.") and alias.name.split(".")[1] in MODULES and alias.asname:
                    aliases[alias.asname] = alias.name.split(".")[1]
    return aliases


def _references(node: ast.AST, module: str, aliases: dict[str, str]) -> set[str]:
    """"<module>.<name>" of the course definitions a statement uses."""
    own = _definitions(module)
    found = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and sub.id in own:
            found.add(f"{module}.{sub.id}")
        elif isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name) and sub.value.id in aliases:
            found.add(f"{aliases[sub.value.id]}.{sub.attr}")
    return found


@functools.lru_cache(maxsize=None)
def withheld(exercise: str) -> dict[str, Withheld]:
    """What is withheld while ``exercise`` is graded: the twins of it and of every later exercise,
    and every course definition that uses one of them (to a fixed point)."""
    order = _order()
    if exercise not in order:
        raise KeyError(f"no exercise called {exercise!r}")
    later = order[order.index(exercise):]
    hidden = {name: Withheld(name, ex) for ex in later for name in TWINS.get(ex, ())}
    uses = {}
    for module in MODULES:
        aliases = _module_aliases(_module_tree(module))
        for name, node in _definitions(module).items():
            uses[f"{module}.{name}"] = _references(node, module, aliases) - {f"{module}.{name}"}
    changed = True
    while changed:
        changed = False
        for name, used in uses.items():
            if name in hidden:
                continue
            through = sorted(u for u in used if u in hidden)
            if through:
                first = hidden[through[0]]
                hidden[name] = Withheld(name, first.twin_of, first.via or first.name)
                changed = True
    return hidden


# ------------------------------------------------------------------------------ the sandbox's copies


def _stub_source(node: ast.stmt, item: Withheld, graded: str) -> str:
    message = item.message(graded)
    if isinstance(node, ast.ClassDef):
        return (f"class {node.name}:\n"
                f"    \"\"\"Withheld while {graded} is graded.\"\"\"\n\n"
                f"    def __init__(self, *args, **kwargs):\n"
                f"        _withheld({item.name!r}, {message!r})\n\n"
                f"    def __call__(self, *args, **kwargs):\n"
                f"        _withheld({item.name!r}, {message!r})\n\n"
                f"    forward = __call__\n")
    return (f"def {node.name}(*args, **kwargs):\n"
            f"    \"\"\"Withheld while {graded} is graded.\"\"\"\n"
            f"    _withheld({item.name!r}, {message!r})\n")


_HELPER = f'''

class WithheldError(RuntimeError):
    """A working version of the exercise being graded was asked for."""


def _withheld(name, message):
    import os as _os

    try:  # the worker reads this after the answer's process ends, whatever the answer catches
        _os.write({REPORT_FD}, ("{REPORT_PREFIX}" + name + "\\n").encode())
    except OSError:
        pass
    raise WithheldError(message)
'''


@functools.lru_cache(maxsize=None)
def course_view(exercise: str) -> dict[str, str]:
    """{module: source} of the withheld-bearing course modules as the sandbox gets them while
    ``exercise`` is graded: each withheld definition (with its decorators) replaced by a stub."""
    hidden = withheld(exercise)
    view = {}
    for module in MODULES:
        lines = (COURSE_DIR / f"{module}.py").read_text(encoding="utf-8").splitlines(keepends=True)
        replaced = []
        for name, node in _definitions(module).items():
            item = hidden.get(f"{module}.{name}")
            if item is not None:
                start = min([node.lineno] + [d.lineno for d in node.decorator_list])
                replaced.append((start, node.end_lineno, _stub_source(node, item, exercise)))
        for start, end, stub in sorted(replaced, reverse=True):
            lines[start - 1:end] = [stub]
        source = "".join(lines) + (_HELPER if replaced else "")
        compile(source, f"course/{module}.py", "exec")  # a stub that breaks the module is the grader's bug
        view[module] = source
    return view


def stage_course(target: Path) -> Path:
    """A copy of ``course/`` for the sandbox without the modules that hold working versions
    (each job brings its own :func:`course_view` of those)."""
    import shutil

    shutil.copytree(COURSE_DIR, target, ignore=lambda folder, names: [
        n for n in names if n == "__pycache__" or (Path(folder) == COURSE_DIR and n in {f"{m}.py" for m in MODULES})])
    return target


def install_view(folder: Path) -> None:
    """In the worker's child, before any cell runs: ``course.<module>`` comes from ``folder``."""
    import course

    for module in MODULES:
        sys.modules.pop(f"course.{module}", None)
    course.__path__.insert(0, str(folder))


# ------------------------------------------------------------------------------ the student's kernel


def named_in(source: str, exercise: str) -> list[str]:
    return list(_named_in(source, exercise))


@functools.lru_cache(maxsize=4096)
def _named_in(source: str, exercise: str) -> tuple[str, ...]:
    """Withheld pieces the answer's source names: ``given.attention`` (``given`` is what the
    notebooks' imports cell binds), ``from course.given import attention``, an alias of the module."""
    try:
        tree = ast.parse(textwrap.dedent(source))
    except SyntaxError:
        return ()
    hidden = withheld(exercise)
    aliases = {m: m for m in MODULES} | _module_aliases(tree)
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            chain = _dotted(node)
            if len(chain) >= 2 and chain[0] in aliases:
                found.add(f"{aliases[chain[0]]}.{chain[1]}")
            elif len(chain) >= 3 and chain[0] == "course" and chain[1] in MODULES:
                found.add(f"{chain[1]}.{chain[2]}")
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("course."):
            module = node.module.split(".", 1)[1]
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return tuple(sorted(name for name in found if name in hidden))


def _dotted(node: ast.AST) -> list[str]:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return [node.id, *reversed(parts)] if isinstance(node, ast.Name) else []


@contextlib.contextmanager
def withheld_in_process(exercise: str):
    """While the checks run in this process: every withheld function and class of the loaded course
    modules raises a RuntimeError whose message is :meth:`Withheld.message` (the functions' code and
    the classes' methods are swapped, so an alias taken earlier raises too); restored after."""
    restore = []
    for item in withheld(exercise).values():
        module_name, name = item.name.split(".", 1)
        module = sys.modules.get(f"course.{module_name}")
        target = getattr(module, name, None) if module is not None else None
        if target is None:
            continue
        message = item.message(exercise)
        if isinstance(target, type):
            for attr in ("__init__", "forward", "__call__"):
                if attr in target.__dict__:
                    restore.append((target, attr, target.__dict__[attr]))
                    setattr(target, attr, _raiser(message))
            continue
        inner = getattr(target, "__wrapped__", target)  # a decorated function: its own code
        if isinstance(inner, types.FunctionType) and not inner.__code__.co_freevars:
            restore.append((inner, "__code__", inner.__code__))
            inner.__code__ = _raising_code(inner.__code__, message)
        restore.append((module, name, target))
        setattr(module, name, _raiser(message))
    try:
        yield
    finally:
        for owner, attr, original in reversed(restore):
            setattr(owner, attr, original)


def reached(messages: list[str], exercise: str) -> list[str]:
    """The withheld pieces whose message appears among ``messages`` (what the checks reported)."""
    text = "\n".join(messages)
    return [item.name for item in withheld(exercise).values() if item.message(exercise) in text]


def _raiser(message: str):
    def withheld_piece(*args, **kwargs):
        raise RuntimeError(message)

    return withheld_piece


def _raising_code(code: types.CodeType, message: str) -> types.CodeType:
    """A code object, named as ``code``, whose body raises RuntimeError(message); it needs nothing
    from the globals of the function it goes into but the built-in RuntimeError."""
    namespace: dict = {}
    exec(compile(f"def {code.co_name}(*args, **kwargs):\n    raise RuntimeError({message!r})\n",
                 code.co_filename, "exec"), namespace)
    return namespace[code.co_name].__code__
