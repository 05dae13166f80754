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


import importlib  # noqa: E402

from grader.exercises import MODULE_NAMES  # noqa: E402

for _name in MODULE_NAMES:  # registration happens on import
    importlib.import_module(f".{_name}", __name__)
