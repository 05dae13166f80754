"""``pytest --grade SUBMISSION``: a submission's checks as pytest tests, one test per check.

    pytest --grade notebooks/03_softmax.ipynb                          # public checks, as check(...) runs them
    pytest --grade notebooks/03_softmax.ipynb --grade-exercise softmax # one exercise (a GitHub Classroom step)
    pytest --grade alice/03_softmax.ipynb --grade-hidden               # instructors: hidden checks too

The submission is graded the way ``python -m grader`` grades it (answers extracted, run in the
sandbox, verdicts on this side), once per file; each test reports one check's verdict. Hidden
checks need the instructor's secret (``GRADER_SECRET`` or ``grader.toml``) and ``solutions/``;
their failures say the name and status only. With ``--grade``, pytest collects nothing else.
Registered as a pytest plugin by the package (entry point ``pytest11``), inert without ``--grade``.
"""
from __future__ import annotations

from pathlib import Path

import pytest


def pytest_addoption(parser) -> None:
    group = parser.getgroup("grade", "grading a submission of the Transformer course")
    group.addoption("--grade", action="append", default=[], metavar="SUBMISSION",
                    help="grade this notebook (.ipynb) or answer file (.py): one test per check")
    group.addoption("--grade-exercise", action="append", default=[], metavar="NAME",
                    help="only this exercise (repeatable)")
    group.addoption("--grade-hidden", action="store_true",
                    help="also the hidden checks (needs the secret and solutions/: instructors)")
    group.addoption("--grade-no-isolation", action="store_true",
                    help="run the answers in a plain subprocess instead of the bubblewrap sandbox")


class GradingFailed(Exception):
    """A check that did not pass; its message is what the student may see."""


def _options(config):
    return (config.getoption("grade"), set(config.getoption("grade_exercise")), config.getoption("grade_hidden"),
            config.getoption("grade_no_isolation"))


@pytest.hookimpl(tryfirst=True)
def pytest_collection(session) -> bool | None:
    """With ``--grade``, the tests are the submissions' checks, and nothing else is collected."""
    paths, only, hidden, _ = _options(session.config)
    if not paths:
        return None
    items = []
    for path in paths:
        if not Path(path).is_file():
            raise pytest.UsageError(f"--grade {path}: no such file")
        collector = Submission.from_parent(session, path=Path(path).resolve())
        items += collector.collect()
    session.items = items
    session.testscollected = len(items)
    session.config.hook.pytest_collection_modifyitems(session=session, config=session.config, items=session.items)
    session.config.hook.pytest_collection_finish(session=session)
    return True


class Submission(pytest.File):
    """One submission: its exercises' checks, graded once, at the first test that needs them."""

    def collect(self):
        from . import exercises as registry
        from .extract import extract

        _, only, hidden, _ = _options(self.config)
        if hidden:
            from . import reference

            try:
                reference.require()
            except reference.ReferenceUnavailable as exc:
                raise pytest.UsageError(f"--grade-hidden: {exc}") from None
        notebooks = extract(self.path).notebooks
        unknown = only - set(registry.EXERCISES)
        if unknown:
            raise pytest.UsageError(f"--grade-exercise: no exercise called {', '.join(sorted(unknown))}")
        items = []
        for notebook in notebooks or [self.path.stem]:
            for exercise in registry.for_notebook(notebook):
                if only and exercise.name not in only:
                    continue
                for check in exercise.checks if hidden else exercise.public_checks:
                    items.append(CheckItem.from_parent(self, name=f"{exercise.name}::{check.name}",
                                                       exercise=exercise.name, check=check.name))
        if not items:
            items.append(CheckItem.from_parent(self, name="submission", exercise=None, check=None))
        return items

    def graded(self):
        """The SubmissionResult, graded at the first call."""
        if not hasattr(self, "_result"):
            from .grade import grade_submission

            _, only, hidden, _ = _options(self.config)
            self._result = grade_submission(self.path, _config(self.config), _sandbox(self.config),
                                            include_hidden=hidden, only=only or None)
        return self._result


class CheckItem(pytest.Item):
    def __init__(self, *, exercise: str | None, check: str | None, **kwargs):
        super().__init__(**kwargs)
        self.exercise, self.check = exercise, check

    def runtest(self) -> None:
        result = self.parent.graded()
        if self.exercise is None:
            raise GradingFailed(result.error or "no exercise of this course found in this file")
        graded = next((e for e in result.exercises if e.exercise == self.exercise), None)
        verdict = next((c for c in graded.checks if c.name == self.check), None) if graded else None
        if verdict is None:
            why = graded.message if graded else (result.error or "this exercise was not graded")
            raise GradingFailed(why)
        if verdict.status == "passed":
            return
        if verdict.status == "skipped":
            pytest.skip(verdict.message)
        if verdict.hidden:
            raise GradingFailed(f"hidden check {verdict.name}: {verdict.status}")
        detail = " ".join(part for part in (verdict.message, verdict.diagnosis) if part)
        raise GradingFailed(f"{verdict.status.upper()}: {verdict.description}\n{detail}".strip())

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, GradingFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.path, None, f"{self.exercise}: {self.check}"


def _config(config):
    from . import config as config_module

    key = "_grade_config"
    if not hasattr(config, key):
        _, _, hidden, _ = _options(config)
        loaded = config_module.load() if hidden else config_module.Config()
        if hidden and not loaded.secret:
            raise pytest.UsageError("--grade-hidden needs the secret: set GRADER_SECRET or run `python -m grader init`")
        setattr(config, key, loaded)
    return getattr(config, key)


def _sandbox(config):
    from .isolation.sandbox import Sandbox, bwrap_path

    key = "_grade_sandbox"
    if not hasattr(config, key):
        _, _, _, no_isolation = _options(config)
        setattr(config, key, Sandbox(isolate=bwrap_path() is not None and not no_isolation))  # starts at its first job
    return getattr(config, key)


def pytest_unconfigure(config) -> None:
    sandbox = getattr(config, "_grade_sandbox", None)
    if sandbox is not None:
        sandbox.close()
