"""The course's check library: one set of checks for students, nbgrader and instructors.

- In a notebook: ``from grader import check`` then ``check(softmax)``.
- From a shell: ``python -m grader check NOTEBOOK`` (public checks) and
  ``python -m grader grade SUBMISSION...`` (public + hidden, isolated; instructors).
"""
from .notebook import CheckFailed, check

__all__ = ["check", "CheckFailed"]
