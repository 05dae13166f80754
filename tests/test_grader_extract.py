"""Extraction: answers come from the graded cells only; every damaged submission gets a clear,
per-exercise message and costs nothing else."""
import json

import numpy as np

import nbformat
import pytest

from grader.config import Config
from grader.extract import dependencies, extract
from grader.grade import grade_submission
from grader.isolation.sandbox import Sandbox

SETUP = "import numpy as np\n"
SOFTMAX = "def softmax(scores, axis=-1):\n    e = np.exp(scores - scores.max(axis=axis, keepdims=True))\n    return e / e.sum(axis=axis, keepdims=True)\n"
MASKED = ("def masked_softmax(scores, mask, axis=-1):\n"
          "    scores, mask = np.broadcast_arrays(scores, np.asarray(mask, dtype=bool))\n"
          "    masked = np.where(mask, scores, -np.inf)\n"
          "    top = np.max(masked, axis=axis, keepdims=True)\n"
          "    top = np.where(np.isfinite(top), top, 0.0)\n"
          "    e = np.where(mask, np.exp(masked - top), 0.0)\n"
          "    total = e.sum(axis=axis, keepdims=True)\n"
          "    return e / np.where(total > 0, total, 1.0)\n")
CAUSAL = "def causal_mask(T):\n    return np.tril(np.ones((T, T), dtype=bool))\n"


def _cell(source, grade_id=None, kind="code", solution=True):
    cell = nbformat.v4.new_code_cell(source) if kind == "code" else nbformat.v4.new_markdown_cell(source)
    if grade_id:
        cell.metadata["nbgrader"] = {"grade_id": grade_id, "solution": solution, "grade": False, "locked": not solution,
                                     "schema_version": 3}
    return cell


def _notebook(tmp_path, cells, name="03_softmax.ipynb"):
    nb = nbformat.v4.new_notebook()
    nb.cells = cells
    path = tmp_path / name
    nbformat.write(nb, path)
    return path


def _standard(**override):
    cells = {"setup": _cell(SETUP, "setup", solution=False), "softmax": _cell(SOFTMAX, "softmax"),
             "masked_softmax": _cell(MASKED, "masked_softmax"), "causal_mask": _cell(CAUSAL, "causal_mask")}
    cells.update(override)
    return [c for c in cells.values() if c is not None]


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(isolate=True, memory_mb=1024) as box:
        yield box


@pytest.fixture(scope="module")
def config():
    return Config(secret="extract", time_limit=10)


def _grade(path, sandbox, config):
    result = grade_submission(path, config, sandbox)
    return result, {e.exercise: e for e in result.exercises}


def test_complete_notebook_gets_full_marks(tmp_path, sandbox, config):
    result, _ = _grade(_notebook(tmp_path, _standard()), sandbox, config)
    assert result.error is None and result.earned == result.points > 0


def test_corrupt_json_is_reported_not_raised(tmp_path, sandbox, config):
    path = tmp_path / "03_softmax.ipynb"
    path.write_text('{"cells": [ {"cell_type": "code", "source": "def softmax(')
    result, by_name = _grade(path, sandbox, config)
    assert result.earned == 0 and "not a readable notebook" in result.error
    assert "resubmit" in result.error


def test_missing_cell_costs_only_that_exercise(tmp_path, sandbox, config):
    result, by_name = _grade(_notebook(tmp_path, _standard(masked_softmax=None)), sandbox, config)
    assert by_name["masked_softmax"].earned == 0
    assert all(c.status == "missing" for c in by_name["masked_softmax"].checks)
    assert "is missing" in by_name["masked_softmax"].message and "fresh copy" in by_name["masked_softmax"].message
    assert by_name["softmax"].earned == by_name["softmax"].points
    assert by_name["causal_mask"].earned == by_name["causal_mask"].points


def test_duplicated_cell_is_reported(tmp_path, sandbox, config):
    cells = _standard() + [_cell(CAUSAL, "causal_mask")]
    result, by_name = _grade(_notebook(tmp_path, cells), sandbox, config)
    assert by_name["causal_mask"].earned == 0 and "appears 2 times" in by_name["causal_mask"].message
    assert by_name["softmax"].earned == by_name["softmax"].points


def test_retyped_cell_is_reported(tmp_path, sandbox, config):
    result, by_name = _grade(_notebook(tmp_path, _standard(softmax=_cell(SOFTMAX, "softmax", kind="markdown"))), sandbox, config)
    assert by_name["softmax"].earned == 0 and "markdown cell" in by_name["softmax"].message
    assert by_name["masked_softmax"].earned == by_name["masked_softmax"].points


def test_student_added_cells_never_run(tmp_path, sandbox, config):
    """An extra cell that patches numpy (or redefines the answer correctly) changes nothing."""
    wrong = "def softmax(scores, axis=-1):\n    return np.zeros_like(scores)\n"
    cells = _standard(softmax=_cell(wrong, "softmax"))
    cells.append(_cell("np.allclose = lambda *a, **k: True\n" + SOFTMAX))
    result, by_name = _grade(_notebook(tmp_path, cells), sandbox, config)
    assert by_name["softmax"].earned == 0


def test_students_copy_of_the_setup_cell_is_ignored(tmp_path, sandbox, config):
    """The student's setup cell sabotages np.exp; the instructor's setup runs instead."""
    sabotage = _cell("import numpy as np\nnp.exp = lambda x: x\n", "setup", solution=False)
    result, by_name = _grade(_notebook(tmp_path, _standard(setup=sabotage)), sandbox, config)
    assert result.earned == result.points


def test_cell_without_metadata_is_found_by_name(tmp_path, sandbox, config):
    result, by_name = _grade(_notebook(tmp_path, _standard(causal_mask=_cell(CAUSAL))), sandbox, config)
    assert by_name["causal_mask"].earned == by_name["causal_mask"].points
    assert any("metadata is gone" in note for note in by_name["causal_mask"].notes)


def test_wrong_signature_is_explained(tmp_path, sandbox, config):
    renamed = "def softmax(x, dim=-1):\n    e = np.exp(x - x.max(axis=dim, keepdims=True))\n    return e / e.sum(axis=dim, keepdims=True)\n"
    result, by_name = _grade(_notebook(tmp_path, _standard(softmax=_cell(renamed, "softmax"))), sandbox, config)
    failed = [c for c in by_name["softmax"].checks if not c.passed]
    assert failed and all("expects (scores, axis)" in c.message for c in failed)
    assert by_name["causal_mask"].earned == by_name["causal_mask"].points


def test_unattempted_notebook_scores_zero_cleanly(tmp_path, sandbox, config):
    stub = lambda name, params: _cell(f"def {name}({params}):\n    raise NotImplementedError\n", name)
    cells = _standard(softmax=stub("softmax", "scores, axis=-1"), masked_softmax=stub("masked_softmax", "scores, mask, axis=-1"),
                      causal_mask=stub("causal_mask", "T"))
    result, by_name = _grade(_notebook(tmp_path, cells), sandbox, config)
    assert result.earned == 0
    assert all(e.status == "not_attempted" for e in result.exercises)


def test_python_answers_file(tmp_path):
    """Each exercise gets its definition and the imports, helpers and constants it uses (through each
    other too), not the ones only another exercise uses: one exercise's code never becomes another's."""
    path = tmp_path / "answers.py"
    path.write_text("import numpy as np\nimport gc\nHELPER = 2\nUNUSED = 3\n\ndef helper(x):\n    return x * HELPER\n\n"
                    + SOFTMAX.replace("return e / ", "return helper(1) * e / ")
                    + "\ndef causal_mask(T):\n    gc.collect()\n    return np.tril(np.ones((T, T), dtype=bool))\n"
                    + "\nprint('top-level noise')\n")
    extracted = extract(path)
    assert extracted.notebooks == ["03_softmax"]
    softmax, causal = extracted.answers["softmax"], extracted.answers["causal_mask"]
    assert "def helper" in softmax and "HELPER = 2" in softmax and "import numpy" in softmax
    assert "UNUSED" not in softmax and "import gc" not in softmax and "print(" not in softmax
    assert "import gc" in causal and "def helper" not in causal
    assert "does not define masked_softmax" in extracted.problems["masked_softmax"]


def test_python_file_with_syntax_error(tmp_path):
    path = tmp_path / "answers.py"
    path.write_text("def softmax(scores, axis=-1)\n    return scores\n")
    assert "syntax error at line 1" in extract(path).error


def test_dependencies_are_transitive_and_ordered():
    answers = {"a": "def a(): return 1", "b": "def b(): return a()", "c": "def c(): return b()", "d": "def d(): return 4"}
    assert [name for name, _ in dependencies("c", answers)] == ["a", "b"]
    assert dependencies("d", answers) == []


def test_python_answers_keep_decorators_and_split_shared_lines(tmp_path):
    """Each exercise gets the file's imports and helpers: statements that share a line are split
    apart, a decorated definition keeps its decorator."""
    path = tmp_path / "03_softmax.py"
    path.write_text("import numpy as np\nSCALE = 1.0; OFFSET = 0.0\n\n@np.errstate(over='ignore')\n"
                    "def softmax(scores, axis=-1):\n    e = np.exp(SCALE * scores - scores.max(axis=axis, keepdims=True))\n"
                    "    return e / e.sum(axis=axis, keepdims=True) + OFFSET\n")
    answer = extract(path).answers["softmax"]
    assert "SCALE = 1.0\n\nOFFSET = 0.0" in answer
    assert "@np.errstate(over='ignore')\ndef softmax" in answer
    namespace: dict = {}
    exec(answer, namespace)
    assert abs(namespace["softmax"](np.array([0.0, 0.0])).sum() - 1.0) < 1e-12


def _hub_setup():
    """deploy/jupyterhub/hub_setup.py (not a package: loaded by path)."""
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "deploy" / "jupyterhub" / "hub_setup.py"
    spec = importlib.util.spec_from_file_location("hub_setup", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_a_wheel_installed_outside_the_repository_grades_with_the_notebooks_setup_cells(tmp_path):
    """The wheel `make hub-setup` builds ships the released notebooks' setup cells: installed in a fresh
    environment outside the repository, `grade` runs each answer after the notebook's own setup (full
    marks for the reference). The same environment without them (a plain wheel) refuses to grade and
    names the fix, instead of guessing a setup; GRADER_NOTEBOOKS is that fix."""
    import os
    import subprocess
    import sys
    import sysconfig
    from pathlib import Path

    from grader.extract import instructor_setup

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _grading_class import REFERENCE, ROOT, SECRET, write_class

    hub_setup = _hub_setup()
    wheel = hub_setup.build_wheel(ROOT, tmp_path / "wheels")
    env = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    py = env / "bin" / "python"
    purelib = Path(subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  check=True, capture_output=True, text=True).stdout.strip())
    (purelib / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")  # numpy, torch: this environment's
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(purelib), str(wheel)],
                   check=True, capture_output=True)
    work = tmp_path / "work"  # nowhere near the repository
    write_class(work / "class", {"alice": REFERENCE})
    env_vars = {k: v for k, v in os.environ.items() if not k.startswith("GRADER_") and k != "PYTHONPATH"}
    env_vars.update(GRADER_SECRET=SECRET, GRADER_SOLUTIONS=str(ROOT / "solutions"))

    def run(*args, **extra):
        return subprocess.run([py, *args], cwd=work, env={**env_vars, **extra}, capture_output=True, text=True, timeout=600)

    where = run("-c", "import grader, json, sys; from grader.extract import instructor_setup as s; "
                      "print(json.dumps([grader.__file__, s('03_softmax'), s('09_stacking_encoder')]))")
    assert where.returncode == 0, where.stderr
    package, setup_03, setup_09 = json.loads(where.stdout)
    assert str(purelib) in package and str(ROOT) not in package
    assert (setup_03, setup_09) == (instructor_setup("03_softmax"), instructor_setup("09_stacking_encoder"))

    graded = run("-m", "grader", "grade", "class", "--out", "grades", "--no-isolation", "-j", "1")
    assert graded.returncode == 0, graded.stdout + graded.stderr
    (result,) = [json.loads(p.read_text()) for p in (work / "grades").glob("*.json") if "alice" in p.name]
    assert result["points"] > 0 and result["earned"] == result["points"], result

    (purelib / "grader" / "setup_cells.json").unlink()  # what a wheel built without them installs
    refused = run("-m", "grader", "grade", "class", "--out", "grades2", "--no-isolation", "-j", "1")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "setup cell of 01_word_embeddings is not here" in refused.stderr and "GRADER_NOTEBOOKS" in refused.stderr
    assert not (work / "grades2").exists() or not list((work / "grades2").glob("*.json"))
    configured = run("-m", "grader", "grade", "class", "--out", "grades3", "--no-isolation", "-j", "1",
                     GRADER_NOTEBOOKS=str(ROOT / "notebooks"))
    assert configured.returncode == 0, configured.stdout + configured.stderr
