"""The course notebooks: built from one source, solved versions run clean, released versions fail
only where the student has work to do.

- ``notebooks/`` (committed) is exactly what ``python tools/build_notebooks.py`` releases today;
- every notebook has exactly the exercises of COURSE.md (the grader's registry), with the nbgrader
  cells the grading relies on;
- each solved answer cell runs on its own after the setup cell and passes its hidden checks;
- the solved notebooks run top to bottom under ``pytest --nbval-lax`` (cells tagged
  ``nbval-check-output`` must print exactly their stored text);
- the released notebooks run top to bottom, and every error is a one-line ``CheckFailed:
  ... not attempted`` from a check cell (tests/test_notebooks_released.py, a module of its own
  so that pytest-xdist runs it beside this one).
"""
from __future__ import annotations

import ast
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from grader import exercises

REPO = Path(__file__).resolve().parent.parent
if "build_notebooks" not in sys.modules:  # tools/ is not a package: load the build script by path
    _spec = importlib.util.spec_from_file_location("build_notebooks", REPO / "tools" / "build_notebooks.py")
    sys.modules["build_notebooks"] = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(sys.modules["build_notebooks"])
build = sys.modules["build_notebooks"]

NOTEBOOKS = build.NOTEBOOKS
REBUILD = "rebuild them with `python tools/build_notebooks.py` and commit notebooks/"


def _nbgrader(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def _released(notebook: str):
    return nbformat.read(REPO / "notebooks" / f"{notebook}.ipynb", as_version=4)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A fresh build: solved sources and nbgrader's release, in a temporary course directory."""
    course = tmp_path_factory.mktemp("course")
    build.build(course, release_dir=None)
    return course


def _source(course: Path, notebook: str):
    return nbformat.read(course / "source" / notebook / f"{notebook}.ipynb", as_version=4)


# ------------------------------------------------------------------------ structure (fast)

def test_notebooks_dir_holds_exactly_the_course_notebooks():
    assert sorted(p.stem for p in (REPO / "notebooks").glob("*.ipynb")) == NOTEBOOKS, REBUILD


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_exercises_and_nbgrader_cells(notebook):
    nb = _released(notebook)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert _nbgrader(code[0]) .get("grade_id") == "setup" and _nbgrader(code[0])["locked"], \
        "the first code cell must be the locked setup cell"
    expected = [ex.name for ex in exercises.for_notebook(notebook)]
    answers = [_nbgrader(c)["grade_id"] for c in code if _nbgrader(c).get("solution")]
    assert answers == expected, f"{notebook}: answer cells {answers}, registered exercises {expected}"
    checks = [c for c in code if _nbgrader(c).get("grade")]
    assert [_nbgrader(c)["grade_id"] for c in checks] == [f"check_{name}" for name in expected]
    for name, cell in zip(expected, checks):
        meta = _nbgrader(cell)
        assert meta["locked"] and not meta["solution"]
        assert meta["points"] == sum(c.points for c in exercises.get(name).checks)
        assert re.fullmatch(rf"check\({name}\);?\s*", cell.source), cell.source  # hidden tests removed
    for cell in code:
        if _nbgrader(cell).get("solution"):
            name = _nbgrader(cell)["grade_id"]
            assert f"def {name}(" in cell.source or f"class {name}(" in cell.source, cell.source[:300]
            assert "raise NotImplementedError()" in cell.source
            assert '"""' in cell.source, "the stub keeps the reference docstring"
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS", "hidden=True"):
            assert marker not in cell.source, f"{notebook}: {marker!r} left in a released cell"
        assert not cell.get("outputs"), "released notebooks carry no outputs"


def _guarded(tree: ast.AST) -> set[int]:
    """ids of the nodes inside a ``try:`` body whose handlers catch every Exception."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(
                h.type is None or (isinstance(h.type, ast.Name) and h.type.id in ("Exception", "BaseException"))
                for h in node.handlers):
            inside.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return inside


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_cells_after_an_exercise_never_call_the_students_function(notebook):
    """Exercises are graded independently and later cells run whatever the student wrote: only
    answer and check cells may call an exercise's function, except inside ``try: ... except
    Exception`` (an optional "now with your own answer" demo that a stub or a crash cannot stop)."""
    names = [ex.name for ex in exercises.for_notebook(notebook)]
    for cell in _released(notebook).cells:
        if cell.cell_type != "code" or _nbgrader(cell).get("solution") or _nbgrader(cell).get("grade"):
            continue
        tree = ast.parse(cell.source)
        guarded = _guarded(tree)
        called = {node.func.id for node in ast.walk(tree)
                  if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in names
                  and id(node) not in guarded}
        defined = {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
        assert called <= defined, f"{notebook}: a demo cell calls {sorted(called)}:\n{cell.source[:400]}"


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_ends_with_questions_and_reading(notebook):
    text = "\n".join(c.source for c in _released(notebook).cells if c.cell_type == "markdown")
    assert "## Questions to think about" in text and "## Further reading" in text


# ------------------------------------------------------------------------ built from one source

def test_released_notebooks_are_what_the_build_makes(course):
    """Cell types, sources and nbgrader metadata of notebooks/ equal a fresh build's release."""
    def summary(nb):
        return [(c.cell_type, c.source, _nbgrader(c), c.metadata.get("tags", [])) for c in nb.cells]

    for notebook in NOTEBOOKS:
        fresh = nbformat.read(course / "release" / notebook / f"{notebook}.ipynb", as_version=4)
        committed = _released(notebook)
        assert summary(committed) == summary(fresh), f"notebooks/{notebook}.ipynb is out of date: {REBUILD}"


@pytest.mark.parametrize("notebook", [nb for nb in NOTEBOOKS if exercises.for_notebook(nb)])
def test_run_all_goes_past_the_students_check_cells_not_the_solved_ones(course, notebook):
    """Released check cells carry `raises-exception` (JupyterLab's Run All goes on past a check that
    says "not attempted yet"); the solved notebooks' do not (nbval must fail on a raising check)."""
    def tagged(nb):
        return {_nbgrader(c)["grade_id"]: build.RUN_ON_TAG in c.metadata.get("tags", [])
                for c in nb.cells if _nbgrader(c).get("grade_id", "").startswith("check_")}

    released, solved = tagged(_released(notebook)), tagged(_source(course, notebook))
    assert released == {f"check_{e.name}": True for e in exercises.for_notebook(notebook)}
    assert set(solved) == set(released) and not any(solved.values())


@pytest.mark.parametrize("notebook", [nb for nb in NOTEBOOKS if exercises.for_notebook(nb)])
def test_each_solved_answer_cell_runs_on_its_own(course, notebook):
    """The grader runs setup + one answer cell in its sandbox: the solved notebook must get full
    marks that way, hidden checks included, and the setup cell must not define any exercise."""
    from grader.config import Config
    from grader.grade import grade_submission
    from grader.isolation.sandbox import Sandbox

    nb = _source(course, notebook)
    setup = next(c.source for c in nb.cells if _nbgrader(c).get("grade_id") == "setup")
    defined = {n.name for n in ast.parse(setup).body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    own = {ex.name for ex in exercises.for_notebook(notebook)}
    assert not defined & own, f"the setup cell of {notebook} defines one of its own exercises"
    with Sandbox(isolate=True) as sandbox:
        result = grade_submission(course / "source" / notebook / f"{notebook}.ipynb", Config(secret="solved"), sandbox)
    assert [e.exercise for e in result.exercises] == [ex.name for ex in exercises.for_notebook(notebook)]
    for graded in result.exercises:
        assert len(graded.checks) == len(exercises.get(graded.exercise).checks)
        assert graded.earned == graded.points > 0, [(c.name, c.status, c.message) for c in graded.checks if not c.passed]


# ------------------------------------------------------------------------ running the notebooks

def _clean_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYTEST_XDIST"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    # One thread per kernel: tiny tensors gain nothing from more, and under pytest-xdist two OpenMP
    # pools fighting over shared cores made a 0.25 s cell take 16 s.
    env["OMP_NUM_THREADS"] = "1"
    return env


@pytest.mark.slow
def test_solved_notebooks_pass_nbval(course):
    notebooks = [str(course / "source" / nb / f"{nb}.ipynb") for nb in NOTEBOOKS]
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist", "-o", "addopts=",
               "--rootdir", str(course), "-q", "--nbval-lax", "--nbval-current-env",
               "--nbval-sanitize-with", str(build.SANITIZE_FILE), *notebooks]
    proc = subprocess.run(command, cwd=course, env=_clean_env(), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"nbval failed on the solved notebooks:\n{proc.stdout[-6000:]}\n{proc.stderr[-2000:]}"
    assert re.search(r"\d+ passed", proc.stdout)
