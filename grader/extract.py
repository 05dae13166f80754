"""Take the student's answers out of a submission, one exercise at a time.

From a notebook: the answer cell of each exercise is the code cell whose nbgrader
``grade_id`` is the exercise name; cells the student added never run. The setup code
is the instructor's own (the ``setup`` cell of the released notebook in ``notebooks/``),
never the student's copy of it. From a ``.py`` file: each exercise's ``def``/``class``
plus the imports and helper definitions around it. Every problem is reported per
exercise with what to do about it; nothing here raises on a bad submission.
"""
from __future__ import annotations

import ast
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from . import exercises as registry

NOTEBOOKS_DIR = Path(__file__).resolve().parent.parent / "notebooks"
DEFAULT_SETUP = "import math\nimport numpy as np\nimport torch\nimport torch.nn.functional as F\nfrom torch import nn\n"


@dataclass
class Extracted:
    notebook: str | None  # notebook stem, e.g. "03_softmax"
    setup: str = DEFAULT_SETUP
    answers: dict[str, str] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)  # exercise -> what is wrong
    error: str | None = None  # the whole file is unusable (corrupt JSON, syntax error)
    notes: list[str] = field(default_factory=list)


def _python_only(source: str) -> str:
    """Drop IPython magics and shell escapes (``%matplotlib``, ``!pip``): not Python."""
    return "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))


def instructor_setup(notebook: str) -> str:
    path = NOTEBOOKS_DIR / f"{notebook}.ipynb"
    try:
        cells = json.loads(path.read_text())["cells"]
    except (OSError, ValueError, KeyError):
        return DEFAULT_SETUP
    for cell in cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "setup":
            source = cell["source"]
            return _python_only("".join(source) if isinstance(source, list) else source)
    return DEFAULT_SETUP


def _guess_notebook(path: Path, names: set[str]) -> str | None:
    votes = Counter(ex.notebook for name, ex in registry.EXERCISES.items() if name in names)
    if votes:
        return votes.most_common(1)[0][0]
    stem = path.stem
    notebooks = {ex.notebook for ex in registry.EXERCISES.values()}
    return next((nb for nb in notebooks if stem.startswith(nb) or nb in stem), None)


def _defines(source: str, name: str) -> bool:
    try:
        tree = ast.parse(_python_only(source))
    except SyntaxError:
        return f"def {name}(" in source or f"class {name}" in source
    return any(isinstance(n, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)) and n.name == name for n in tree.body)


def from_notebook(path: Path) -> Extracted:
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
        cells = document["cells"]
        if not isinstance(cells, list):
            raise ValueError("'cells' is not a list")
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        return Extracted(None, error=f"{Path(path).name} is not a readable notebook ({type(exc).__name__}: {exc}). "
                                     "Open it in JupyterLab to see whether it is damaged; resubmit a saved copy.")
    by_id: dict[str, list[dict]] = {}
    for cell in cells:
        grade_id = (cell.get("metadata") or {}).get("nbgrader", {}).get("grade_id") if isinstance(cell, dict) else None
        if grade_id:
            by_id.setdefault(grade_id, []).append(cell)
    notebook = _guess_notebook(Path(path), set(by_id))
    result = Extracted(notebook)
    if notebook is None:
        result.error = (f"{Path(path).name}: no exercise of this course found (no answer cell has a known grade_id). "
                        "Is this the right file?")
        return result
    result.setup = instructor_setup(notebook)
    for exercise in registry.for_notebook(notebook):
        found = by_id.get(exercise.name, [])
        source = lambda cell: "".join(cell["source"]) if isinstance(cell.get("source"), list) else str(cell.get("source", ""))
        if len(found) > 1:
            result.problems[exercise.name] = (
                f"the answer cell of {exercise.name} appears {len(found)} times (copied cells keep their grade_id); "
                "delete the extra copies so that exactly one remains")
        elif len(found) == 1 and found[0].get("cell_type") != "code":
            result.problems[exercise.name] = (
                f"the answer cell of {exercise.name} was turned into a {found[0].get('cell_type')} cell; "
                "change it back to a code cell (Esc, then Y)")
        elif len(found) == 1:
            result.answers[exercise.name] = _python_only(source(found[0]))
        else:
            by_name = [c for c in cells if isinstance(c, dict) and c.get("cell_type") == "code" and _defines(source(c), exercise.name)]
            if by_name:
                result.answers[exercise.name] = _python_only(source(by_name[-1]))
                result.notes.append(f"{exercise.name}: the answer cell's nbgrader metadata is gone; "
                                    "graded the last code cell that defines it")
            else:
                result.problems[exercise.name] = (
                    f"the answer cell of {exercise.name} is missing (deleted, or its metadata was changed): "
                    f"copy the `{exercise.name}` cell from a fresh copy of {notebook}.ipynb into your notebook")
    return result


def from_python(path: Path) -> Extracted:
    """A plain ``.py`` file of answers: each exercise's definition plus shared imports and helpers."""
    try:
        text = Path(path).read_text(encoding="utf-8")
        tree = ast.parse(text)
    except (OSError, UnicodeDecodeError) as exc:
        return Extracted(None, error=f"{Path(path).name} cannot be read ({exc})")
    except SyntaxError as exc:
        return Extracted(None, error=f"{Path(path).name} has a syntax error at line {exc.lineno}: {exc.msg}; "
                                     "fix it and resubmit (nothing in the file can run until it parses)")
    defined = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    notebook = _guess_notebook(Path(path), defined)
    result = Extracted(notebook)
    if notebook is None:
        result.error = f"{Path(path).name} defines no exercise of this course"
        return result
    result.setup = instructor_setup(notebook)
    names = set(registry.EXERCISES)
    shared = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))
              or (isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n.name not in names)
              or (isinstance(n, (ast.Assign, ast.AnnAssign)) and isinstance(getattr(n, "value", None), ast.Constant))]
    for exercise in registry.for_notebook(notebook):
        own = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n.name == exercise.name]
        if not own:
            result.problems[exercise.name] = f"{Path(path).name} does not define {exercise.name}"
            continue
        nodes = sorted(shared + own[-1:], key=lambda n: n.lineno)
        result.answers[exercise.name] = "\n\n".join(ast.get_source_segment(text, n, padded=False) or "" for n in nodes)
    return result


def extract(path: Path) -> Extracted:
    path = Path(path)
    return from_python(path) if path.suffix == ".py" else from_notebook(path)


def dependencies(exercise: str, answers: dict[str, str]) -> list[tuple[str, str]]:
    """Other answers of the same submission that this answer calls by name (in notebook order)."""
    try:
        tree = ast.parse(answers[exercise])
    except SyntaxError:
        return []
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    return [(name, answers[name]) for name in answers if name != exercise and name in used]
