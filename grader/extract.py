"""Take the student's answers out of a submission, one exercise at a time.

From a notebook: the answer cell of each exercise is the code cell whose nbgrader
``grade_id`` is the exercise name; cells the student added never run. The setup code
is the instructor's own (the ``setup`` cell of the released notebook: ``GRADER_NOTEBOOKS``'s
folder, else ``notebooks/`` next to the package in the repository, else the copy a wheel built by
``make hub-setup`` ships in ``setup_cells.json``), never the student's copy of it; where none of
them has the notebook, grading stops with :class:`SetupUnavailable` (never a guessed setup). From a ``.py`` file: each exercise's ``def``/``class``
plus the imports and helper definitions around it. Every problem is reported per
exercise with what to do about it; nothing here raises on a bad submission.
"""
from __future__ import annotations

import ast
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from . import exercises as registry

NOTEBOOKS_DIR = Path(__file__).resolve().parent.parent / "notebooks"
SETUP_CELLS = Path(__file__).resolve().parent / "setup_cells.json"  # package data of a wheel built for a hub
DEFAULT_SETUP = "import math\nimport numpy as np\nimport torch\nimport torch.nn.functional as F\nfrom torch import nn\n"


@dataclass
class Extracted:
    notebooks: list[str]  # notebook stems, e.g. ["03_softmax"]; a .py file may answer several
    setups: dict[str, str] = field(default_factory=dict)  # notebook -> the instructor's setup code
    answers: dict[str, str] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)  # exercise -> what is wrong
    error: str | None = None  # the whole file is unusable (corrupt JSON, syntax error)
    notes: list[str] = field(default_factory=list)


class SetupUnavailable(RuntimeError):
    """The instructor's setup cell of a notebook is nowhere to be found: nothing may be graded (answers
    would run after a guessed setup, and fail for names it lacks)."""


def _python_only(source: str) -> str:
    """Drop IPython magics and shell escapes (``%matplotlib``, ``!pip``): not Python."""
    return "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))


def _setup_of(path: Path) -> str | None:
    """The setup cell of a notebook file (DEFAULT_SETUP when it has none); None when it cannot be read."""
    try:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError):
        return None
    for cell in cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "setup":
            source = cell["source"]
            return _python_only("".join(source) if isinstance(source, list) else source)
    return DEFAULT_SETUP


def setup_cells(notebooks_dir: Path = NOTEBOOKS_DIR) -> dict[str, str]:
    """Every exercise notebook's setup cell, read from ``notebooks_dir``: what ``setup_cells.json`` holds."""
    notebooks = sorted({ex.notebook for ex in registry.EXERCISES.values()})
    found = {nb: _setup_of(Path(notebooks_dir) / f"{nb}.ipynb") for nb in notebooks}
    missing = [nb for nb, setup in found.items() if setup is None]
    if missing:
        raise SetupUnavailable(f"{notebooks_dir} lacks {', '.join(missing)} (build the notebooks first)")
    return found


def write_setup_cells(target: Path, notebooks_dir: Path = NOTEBOOKS_DIR) -> Path:
    """Write ``setup_cells.json`` (into a copy of the package, before its wheel is built)."""
    Path(target).write_text(json.dumps(setup_cells(notebooks_dir), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return Path(target)


def instructor_setup(notebook: str) -> str:
    """The instructor's setup cell of ``notebook``; :class:`SetupUnavailable`, naming the fix, where it is not found."""
    configured = os.environ.get("GRADER_NOTEBOOKS")
    places = [Path(configured)] if configured else [NOTEBOOKS_DIR]
    for folder in places:
        setup = _setup_of(folder / f"{notebook}.ipynb")
        if setup is not None:
            return setup
    if not configured:
        try:
            shipped = json.loads(SETUP_CELLS.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            shipped = {}
        if isinstance(shipped, dict) and isinstance(shipped.get(notebook), str):
            return shipped[notebook]
    looked = f"{places[0] / (notebook + '.ipynb')}" + ("" if configured else f" and {SETUP_CELLS}")
    raise SetupUnavailable(
        f"the instructor's setup cell of {notebook} is not here (looked at {looked}). Set GRADER_NOTEBOOKS to the "
        "course's released notebooks/ folder, or install the grader from a wheel built by `make hub-setup` (it ships "
        "the setup cells). Nothing was graded: answers run after the notebook's own setup, never a guessed one.")


def require_setups() -> None:
    """Raise :class:`SetupUnavailable` unless every exercise notebook's setup cell is found."""
    for notebook in sorted({ex.notebook for ex in registry.EXERCISES.values()}):
        instructor_setup(notebook)


def _guess_notebooks(path: Path, names: set[str], many: bool = False) -> list[str]:
    """The notebook(s) a submission answers: from the exercise names it contains, else its file name."""
    votes = Counter(ex.notebook for name, ex in registry.EXERCISES.items() if name in names)
    if votes:
        ranked = [nb for nb, _ in votes.most_common()]
        return sorted(ranked) if many else ranked[:1]
    notebooks = sorted({ex.notebook for ex in registry.EXERCISES.values()})
    return [nb for nb in notebooks if path.stem.startswith(nb) or nb in path.stem][:1]


def _defines(source: str, name: str) -> bool:
    try:
        tree = ast.parse(_python_only(source))
    except SyntaxError:
        return f"def {name}(" in source or f"class {name}" in source
    return any(isinstance(n, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)) and n.name == name for n in tree.body)


def _defined_names(cells: list) -> set[str]:
    """Top-level def/class names of all code cells (to recognise a notebook without metadata)."""
    names: set[str] = set()
    for cell in cells:
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            try:
                tree = ast.parse(_python_only(_source(cell)))
            except SyntaxError:
                continue
            names.update(n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)))
    return names


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def from_notebook(path: Path) -> Extracted:
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
        cells = document["cells"]
        if not isinstance(cells, list):
            raise ValueError("'cells' is not a list")
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        return Extracted([], error=f"{Path(path).name} is not a readable notebook ({type(exc).__name__}: {exc}). "
                                     "Open it in JupyterLab to see whether it is damaged; resubmit a saved copy.")
    by_id: dict[str, list[dict]] = {}
    for cell in cells:
        grade_id = (cell.get("metadata") or {}).get("nbgrader", {}).get("grade_id") if isinstance(cell, dict) else None
        if grade_id:
            by_id.setdefault(grade_id, []).append(cell)
    notebooks = _guess_notebooks(Path(path), set(by_id) & set(registry.EXERCISES) or _defined_names(cells))
    result = Extracted(notebooks)
    if not notebooks:
        result.error = (f"{Path(path).name}: no exercise of this course found (no answer cell has a known grade_id). "
                        "Is this the right file?")
        return result
    notebook = notebooks[0]
    result.setups[notebook] = instructor_setup(notebook)
    source = _source
    for exercise in registry.for_notebook(notebook):
        found = by_id.get(exercise.name, [])
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
        return Extracted([], error=f"{Path(path).name} cannot be read ({exc})")
    except SyntaxError as exc:
        return Extracted([], error=f"{Path(path).name} has a syntax error at line {exc.lineno}: {exc.msg}; "
                                     "fix it and resubmit (nothing in the file can run until it parses)")
    lines = text.splitlines(keepends=True)
    defined = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    notebooks = _guess_notebooks(Path(path), defined, many=True)
    result = Extracted(notebooks)
    if not notebooks:
        result.error = f"{Path(path).name} defines no exercise of this course"
        return result
    result.setups = {notebook: instructor_setup(notebook) for notebook in notebooks}
    names = set(registry.EXERCISES)
    shared = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))
              or (isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n.name not in names)
              or isinstance(n, (ast.Assign, ast.AnnAssign))]
    for exercise in [ex for notebook in notebooks for ex in registry.for_notebook(notebook)]:
        own = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n.name == exercise.name]
        if not own:
            result.problems[exercise.name] = f"{Path(path).name} does not define {exercise.name}"
            continue
        nodes = sorted(_needed(shared, own[-1]) + own[-1:], key=lambda n: n.lineno)
        result.answers[exercise.name] = "\n\n".join(_segment(lines, n) for n in nodes)
    return result


def _bound(node: ast.stmt) -> set[str]:
    """The names a shared statement binds (``*`` for a star import: it may bind anything)."""
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {"*" if a.name == "*" else (a.asname or a.name.split(".")[0]) for a in node.names}
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}


def _used(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _needed(shared: list[ast.stmt], own: ast.stmt) -> list[ast.stmt]:
    """The shared imports, helpers and constants an exercise's definition uses, directly or through
    each other: one exercise's import of something else never becomes another exercise's code."""
    used, needed, changed = _used(own), [], True
    while changed:
        changed = False
        for node in shared:
            if node not in needed and (_bound(node) & used or "*" in _bound(node)):
                needed.append(node)
                used |= _used(node)
                changed = True
    return needed


def _segment(lines: list[str], node: ast.stmt) -> str:
    """The source of a top-level statement, decorators included (``ast.get_source_segment`` splits the
    whole file again for every statement: quadratic in the length of a long answers file)."""
    first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
    chunk = lines[first - 1:node.end_lineno]
    chunk[-1] = chunk[-1][:node.end_col_offset]
    if first == node.lineno:  # no decorator: the statement may follow another on its line (a = 1; b = 2)
        chunk[0] = chunk[0][node.col_offset:]
    return "".join(chunk)


def extract(path: Path) -> Extracted:
    path = Path(path)
    return from_python(path) if path.suffix == ".py" else from_notebook(path)


def dependencies(exercise: str, answers: dict[str, str]) -> list[tuple[str, str]]:
    """Other answers of the same submission that this answer uses by name, directly or through
    each other (an EncoderBlock built on the student's MultiHeadAttention), in run order."""
    def used_names(source: str) -> set[str]:
        try:
            return {n.id for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Name)}
        except SyntaxError:
            return set()

    needed: list[str] = []
    frontier = [exercise]
    while frontier:
        for name in used_names(answers[frontier.pop()]):
            if name in answers and name != exercise and name not in needed:
                needed.append(name)
                frontier.append(name)
    order = list(answers)
    return [(name, answers[name]) for name in sorted(needed, key=order.index)]
