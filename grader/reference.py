"""Trusted-side access to the instructor's hidden material in ``solutions/``:
the reference answers, the bug zoo (known mistakes) and the correct variants.

``solutions/`` is not part of the installed package: it is found next to ``grader/``
(a course checkout) or at ``GRADER_SOLUTIONS``. Students' released material has no
``solutions/``; then hidden checks cannot run and diagnosis uses the public hints only.
"""
from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable


@dataclass(frozen=True)
class Bug:
    """A known student mistake, as an implementation the grader can run."""

    exercise: str
    id: str
    title: str  # "softmax normalises over the wrong axis"
    hint: str  # where to look and what to change
    impl: Callable
    mistake: str = ""  # a key of solutions.zoo.LISTED_MISTAKES when this is one of GRADING.md's listed mistakes


@dataclass(frozen=True)
class Variant:
    """A correct implementation in another style; it must get full marks."""

    exercise: str
    id: str
    impl: Callable


def solutions_dir() -> Path | None:
    path = _looked_at()
    return path if (path / "__init__.py").is_file() else None


def _looked_at() -> Path:
    configured = os.environ.get("GRADER_SOLUTIONS")
    return Path(configured) if configured else Path(__file__).resolve().parent.parent / "solutions"


class ReferenceUnavailable(RuntimeError):
    """Hidden checks were asked for where the reference is not: nothing may be graded (a hidden check
    that cannot run must never become a silent 0)."""


def require() -> None:
    """Raise :class:`ReferenceUnavailable`, saying where it looked and what to do, when the hidden
    reference cannot be loaded."""
    if solutions_dir() is None:
        raise ReferenceUnavailable(
            f"the hidden checks need the instructor's reference, solutions/, and it is not here (looked at "
            f"{_looked_at()}). Set GRADER_SOLUTIONS to the course's solutions/ folder (or `solutions = \"...\"` "
            "in grader.toml), or grade from the course's repository. Nothing was graded: a hidden check that "
            "cannot run would have given every student 0 for it.")


@lru_cache(maxsize=None)
def solutions_module():
    """Import ``solutions`` from :func:`solutions_dir` (None when it is not there)."""
    path = solutions_dir()
    if path is None:
        return None
    loaded = sys.modules.get("solutions")
    if loaded is not None and Path(loaded.__file__).resolve().parent == path.resolve():
        return loaded
    spec = importlib.util.spec_from_file_location("solutions", path / "__init__.py", submodule_search_locations=[str(path)])
    module = importlib.util.module_from_spec(spec)
    sys.modules["solutions"] = module
    from .core import install_simulation

    install_simulation()  # the zoo and the variants are answers too: probes they bind on import are the simulated ones
    spec.loader.exec_module(module)
    return module


def reference(exercise: str) -> Any | None:
    module = solutions_module()
    return getattr(module, exercise, None) if module is not None else None


def bugs(exercise: str) -> list[Bug]:
    if solutions_module() is None:
        return []
    from solutions.zoo import BUGS

    return BUGS.get(exercise, [])


def variants(exercise: str) -> list[Variant]:
    if solutions_module() is None:
        return []
    from solutions.variants import VARIANTS

    return VARIANTS.get(exercise, [])
