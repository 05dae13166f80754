#!/usr/bin/env python
"""Build the course notebooks: text sources + the hidden reference -> nbgrader -> ``notebooks/``.

    python tools/build_notebooks.py              # build every notebook and release it into notebooks/
    python tools/build_notebooks.py 03_softmax   # only some notebooks
    python tools/build_notebooks.py --sources-only --course-dir /tmp/course

Three steps:

1. Each ``tools/notebook_src/<notebook>.txt`` (text, code, figures) becomes the instructor's
   *solved* notebook ``<course-dir>/source/<notebook>/<notebook>.ipynb`` (nbgrader's layout,
   one assignment per notebook). The answers are not written there by hand: each answer cell
   is the signature and docstring of the reference function in ``solutions/``, then its body
   (``inspect.getsource``) between ``### BEGIN SOLUTION`` / ``### END SOLUTION``. The reference
   code exists once.
2. ``nbgrader generate_assignment`` turns each solved notebook into the student version
   (solutions replaced by ``raise NotImplementedError()``, hidden tests removed, cells locked).
3. The release is copied into ``notebooks/`` (committed: what students open).

Source format: cells are separated by lines ``%% <kind> [name]``:

``%% markdown``    a markdown cell.
``%% setup``       the imports cell: first code cell, locked, grade_id "setup". The grader runs
                   it before each answer cell, so everything an answer may use comes from here.
``%% code``        an ordinary code cell (demos, figures).
``%% output``      the exact stdout expected from the code cell above: that cell gets the
                   ``nbval-check-output`` tag and this text as its stored output (checked by nbval).
``%% answer NAME`` the exercise's answer cell, generated from ``solutions.NAME`` (a function,
                   or a class whose ``forward`` is the student's and ``__init__`` the given
                   skeleton; see ``STUDENT_METHODS``).
``%% check NAME``  the locked test cell: ``check(NAME)`` + hidden ``check(NAME, hidden=True)``.

Every answer cell must run on its own after the setup cell (that is how it is graded). When
a reference calls another exercise that ``course.given`` has a working version of, and the
setup cell imports ``given``, the call becomes ``given.<name>`` (so a bug in the student's
earlier answer never breaks this one). Other helpers the setup cell does not provide (another
exercise of the numpy track, a module-level function or constant) are copied into the cell:
nested inside the solution region for the student's code, at the top for a given skeleton.
"""
from __future__ import annotations

import argparse
import ast
import builtins
import inspect
import os
import shutil
import subprocess
import sys
import io
import textwrap
import tokenize
import types
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

REPO = Path(__file__).resolve().parent.parent
SRC_DIR = Path(__file__).resolve().parent / "notebook_src"
RELEASE_DIR = REPO / "notebooks"
DEFAULT_COURSE_DIR = REPO / "nbgrader"
SANITIZE_FILE = SRC_DIR / "nbval_sanitize.cfg"

NOTEBOOKS = sorted(path.stem for path in SRC_DIR.glob("[0-9][0-9]_*.txt"))  # one source file per notebook

SCHEMA_VERSION = 3  # nbgrader 0.9 cell metadata
SELF_CONTAINED_NOTE = (
    "# Graded on its own: this cell may use only what the imports cell (the first code cell)\n"
    "# defines, so define in this cell everything your answer needs.\n"
)
NBVAL_CHECK_TAG = "nbval-check-output"  # nbval compares this cell's output (--nbval-lax compares only these)
# Students' check cells only: JupyterLab's Run All (and nbclient) go on past such a cell when it raises
# (CheckFailed for an exercise not done yet), so a notebook of stubs runs to its end. The solved
# notebooks keep check cells untagged: there nbval must fail on a check that raises.
RUN_ON_TAG = "raises-exception"

# Class exercises: the methods whose bodies are the student's (the rest is the given skeleton).
STUDENT_METHODS = {"PositionalEncoding": ("__init__", "forward")}
DEFAULT_STUDENT_METHODS = ("forward",)
# Exercise -> its working version in course.given, when the names differ.
GIVEN_NAMES = {"scaled_dot_product_attention": "attention"}

if str(REPO) not in sys.path:  # `python tools/build_notebooks.py` from anywhere
    sys.path.insert(0, str(REPO))


# ------------------------------------------------------------------------ source files

@dataclass
class CellSpec:
    kind: str  # markdown | setup | code | output | answer | check
    name: str = ""
    text: str = ""
    expected: str | None = None  # for code cells followed by an `%% output` block


def parse_source(path: Path) -> list[CellSpec]:
    """Split a ``notebook_src`` file into cell specs (``%% output`` attached to its code cell)."""
    cells: list[CellSpec] = []
    current: CellSpec | None = None
    lines: list[str] = []

    def close():
        if current is None:
            if "".join(lines).strip():
                raise ValueError(f"{path}: text before the first `%%` line")
            return
        text = "\n".join(lines).strip("\n")
        if current.kind == "output":
            if not cells or cells[-1].kind != "code":
                raise ValueError(f"{path}: `%% output` must follow a `%% code` cell")
            cells[-1].expected = text + "\n"
        else:
            current.text = text
            cells.append(current)

    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("%% "):
            close()
            kind, _, name = line[3:].strip().partition(" ")
            if kind not in {"markdown", "setup", "code", "output", "answer", "check"}:
                raise ValueError(f"{path}: unknown cell kind {kind!r} in {line!r}")
            if kind in {"answer", "check"} and not name.strip():
                raise ValueError(f"{path}: {line!r} needs an exercise name")
            current, lines = CellSpec(kind, name.strip()), []
        else:
            lines.append(line)
    close()
    kinds = [c.kind for c in cells]
    code_kinds = [k for k in kinds if k in {"setup", "code", "answer", "check"}]
    if code_kinds[:1] != ["setup"] or kinds.count("setup") != 1:
        raise ValueError(f"{path}: the first code cell must be the one `%% setup` cell")
    return cells


# ------------------------------------------------------------------------ answer cells

def names_bound_by(source: str) -> set[str]:
    """Top-level names a cell defines (imports, assignments, defs, classes)."""
    bound: set[str] = set()
    for node in ast.parse(source).body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                bound.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    return bound


def free_names(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    """Names a function reads but never binds itself (globals it needs), in order of use."""
    scope = ast.Module(body=[*fn.body, *fn.args.defaults, *fn.args.kw_defaults], type_ignores=[])
    scope.body = [n for n in scope.body if n is not None]  # decorators and annotations are not needed to run it
    bound = {a.arg for a in ast.walk(fn) if isinstance(a, ast.arg)}  # its own and nested functions' arguments
    for node in ast.walk(scope):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            bound.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node is not fn:
            bound.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
    used: list[str] = []
    for node in ast.walk(scope):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id not in bound:
            if node.id not in used and not hasattr(builtins, node.id):
                used.append(node.id)
    return used


def _function_node(source: str) -> ast.FunctionDef:
    node = ast.parse(source).body[0]
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        raise TypeError("expected a function definition")
    return node


def _module_assignment(module: types.ModuleType, name: str) -> str:
    """Source of the module-level statement that assigns ``name`` (e.g. a compiled regex)."""
    source = inspect.getsource(module)
    for node in ast.parse(source).body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            return ast.get_source_segment(source, node)
    raise LookupError(f"cannot find the assignment of {name} in {module.__name__}")


def given_names(setup_source: str) -> dict[str, str]:
    """{exercise name: ``given.<its working version>``} when the setup cell imports ``given``."""
    if "given" not in names_bound_by(setup_source):
        return {}
    from course import given
    from grader import exercises

    mapping = {name: f"given.{GIVEN_NAMES.get(name, name)}" for name in exercises.EXERCISES}
    return {name: ref for name, ref in mapping.items() if hasattr(given, ref.split(".", 1)[1])}


def use_given(source: str, renames: dict[str, str]) -> str:
    """Rewrite bare references to other exercises (``split_heads(x, H)``) as ``given.split_heads(x, H)``.

    Only names read as variables change: attributes (``self.split_heads``), keyword names and the
    names a ``def``/``class`` defines stay as they are."""
    if not renames:
        return source
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    lines = source.splitlines(keepends=True)
    edits = []
    for i, tok in enumerate(tokens):
        if tok.type != tokenize.NAME or tok.string not in renames:
            continue
        before = next((t for t in reversed(tokens[:i]) if t.type not in (tokenize.NL, tokenize.COMMENT)), None)
        after = tokens[i + 1] if i + 1 < len(tokens) else None
        if before is not None and (before.string in (".", "def", "class") or (before.string in ("(", ",") and after is not None and after.string == "=")):
            continue
        edits.append(tok)
    for tok in reversed(edits):  # right to left: earlier positions stay valid
        row, col = tok.start
        line = lines[row - 1]
        lines[row - 1] = line[:col] + renames[tok.string] + line[col + len(tok.string):]
    return "".join(lines)


def helper_sources(func, provided: set[str], seen: set[str] | None = None) -> list[str]:
    """Sources of the globals ``func`` needs that ``provided`` lacks, dependencies first.

    Functions are copied with ``inspect.getsource`` (decorators dropped), constants as their
    module-level assignment. A module the setup cell does not import is an error: setup
    cells must import every library the answers use.
    """
    seen = set() if seen is None else seen
    func = inspect.unwrap(func)  # a decorated reference (@torch.no_grad()): the globals of its own module
    node = _function_node(textwrap.dedent(inspect.getsource(func)))
    out: list[str] = []
    for name in free_names(node):
        if name in provided or name in seen:
            continue
        seen.add(name)
        if name not in func.__globals__:
            raise NameError(f"{func.__qualname__} uses {name!r}, which is neither in its module nor provided by the setup cell")
        value = func.__globals__[name]
        if isinstance(value, types.ModuleType):
            raise NameError(f"{func.__qualname__} uses the module {name!r}: import it in the notebook's setup cell")
        if inspect.isfunction(value):
            out += helper_sources(value, provided, seen)
            out.append(strip_decorators(textwrap.dedent(inspect.getsource(value))))
        else:
            out.append(_module_assignment(inspect.getmodule(func), name))
    return out


def strip_decorators(source: str) -> str:
    node = _function_node(source)
    return "\n".join(source.splitlines()[node.lineno - 1:]) + "\n"


def rename_function(source: str, new_name: str) -> str:
    """``def anything(`` -> ``def new_name(`` (decorators dropped)."""
    source = strip_decorators(textwrap.dedent(source))
    node = _function_node(source)
    lines = source.splitlines()
    first = lines[0]
    prefix = "async def " if isinstance(node, ast.AsyncFunctionDef) else "def "
    start = first.index(prefix) + len(prefix)
    end = start + len(node.name)
    lines[0] = first[:start] + new_name + first[end:]
    return "\n".join(lines) + "\n"


def split_function(source: str) -> tuple[list[str], list[str], list[str]]:
    """(signature lines, docstring lines, body lines) of a function's source."""
    source = textwrap.dedent(source)
    node = _function_node(source)
    lines = source.splitlines()
    start = node.lineno - 1  # skips decorators
    first = node.body[0]
    has_doc = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str)
    signature = lines[start:first.lineno - 1]
    doc = lines[first.lineno - 1:first.end_lineno] if has_doc else []
    body = lines[(first.end_lineno if has_doc else first.lineno - 1):node.end_lineno]
    while body and not body[0].strip():
        body.pop(0)
    return signature, doc, body


def _solution_region(body: list[str], helpers: list[str], indent: str) -> list[str]:
    """``### BEGIN SOLUTION``, the helpers nested so that the cell runs on its own, the body, ``### END``."""
    inner: list[str] = []
    if helpers:
        inner.append("# helpers from the reference, nested so that this cell runs on its own")
        for helper in helpers:
            inner += helper.rstrip("\n").splitlines()
            inner.append("")
    inner = [(indent + line) if line else "" for line in inner] + body
    return [f"{indent}### BEGIN SOLUTION", *inner, f"{indent}### END SOLUTION"]


def _function_answer(func, provided: set[str], renames: dict[str, str]) -> list[str]:
    source = use_given(textwrap.dedent(inspect.getsource(func)), renames)
    signature, doc, body = split_function(source)
    helpers = [use_given(h, renames) for h in helper_sources(func, provided | set(renames))]
    return [*signature, *doc, *_solution_region(body, helpers, "    ")]


def _class_answer(cls, provided: set[str], renames: dict[str, str]) -> tuple[list[str], list[str]]:
    """(top-level helpers, the class): given methods as they are, the student's bodies as solution regions."""
    student = STUDENT_METHODS.get(cls.__name__, DEFAULT_STUDENT_METHODS)
    source = use_given(textwrap.dedent(inspect.getsource(cls)), renames)
    node = ast.parse(source).body[0]
    lines = source.splitlines()
    out = lines[: node.body[0].lineno - 1]  # decorators and the `class` line
    top_helpers: list[str] = []
    seen: set[str] = set()
    previous_end = node.body[0].lineno - 1
    for item in node.body:
        start = (item.decorator_list[0].lineno if getattr(item, "decorator_list", None) else item.lineno) - 1
        out += lines[previous_end:start]  # blank lines and comments between members
        previous_end = item.end_lineno
        method = cls.__dict__.get(item.name) if isinstance(item, ast.FunctionDef) else None
        if method is None or item.name not in student:
            out += lines[start:item.end_lineno]
            if method is not None:
                top_helpers += helper_sources(method, provided | set(renames), seen)
            continue
        member = textwrap.dedent("\n".join(lines[start:item.end_lineno]))
        signature, doc, body = split_function(member)
        kept = []
        if item.name == "__init__" and body and body[0].strip().startswith("super().__init__("):
            kept = [body.pop(0)]
        helpers = [use_given(h, renames) for h in helper_sources(method, provided | set(renames), seen)]
        member_lines = [*signature, *doc, *kept, *_solution_region(body, helpers, "    ")]
        out += [("    " + line) if line else "" for line in member_lines]
    return [use_given(h, renames) for h in top_helpers], out


def answer_cell_source(name: str, setup_source: str) -> str:
    """The solved answer cell of exercise ``name``: the reference's signature and docstring (a class:
    its given skeleton) with the student's part between solution markers."""
    from grader import reference

    answer = reference.reference(name)
    provided = names_bound_by(setup_source)
    renames = {k: v for k, v in given_names(setup_source).items() if k != name}
    if inspect.isfunction(answer):
        return SELF_CONTAINED_NOTE + "\n".join(_function_answer(answer, provided, renames))
    if inspect.isclass(answer):
        top, body = _class_answer(answer, provided, renames)
        parts = [*(h.rstrip("\n") for h in top), "\n".join(body)]
        return SELF_CONTAINED_NOTE + "\n\n\n".join(parts)
    raise LookupError(f"solutions has no function or class {name!r} (needed for the answer cell)")


def forbidden_note(exercise) -> str:
    """The exercise text's last paragraph: what it may not call, from the grader's own lists (the
    forbidden built-ins, and the course's own working versions of it: grader.isolation.twins)."""
    from grader.isolation.forbidden import describe
    from grader.isolation.twins import TWINS

    parts = [describe(exercise.forbidden)] if exercise.forbidden else []
    twins = [f"`{name}`" for name in TWINS.get(exercise.name, ())]
    if twins:
        parts.append(f"the course's own working version, {' or '.join(twins)}: while `{exercise.name}` is graded, "
                     "it and everything built on it raise an error instead")
    return (f"**Not allowed in `{exercise.name}`:** {'; '.join(parts)}. Grading watches what your code calls while "
            "it runs, under any name, so write this part yourself.")


def check_cell_source(name: str) -> str:
    # The hidden line is the cell's last expression, without `;`: under the per-check scoring policy
    # it returns the points earned, which nbgrader reads as the cell's partial credit (all or nothing,
    # it returns None, so nothing is echoed; it raises on a failure).
    return f"check({name});\n### BEGIN HIDDEN TESTS\ncheck({name}, hidden=True)\n### END HIDDEN TESTS"


def exercise_points(name: str) -> float:
    from grader import exercises

    total = sum(c.points for c in exercises.get(name).checks)
    return int(total) if float(total).is_integer() else total


# ------------------------------------------------------------------------ notebooks

def _nbgrader_meta(grade_id: str, *, solution=False, grade=False, locked=False, points=None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": SCHEMA_VERSION,
            "solution": solution, "task": False}
    if points is not None:
        meta["points"] = points
    return meta


def build_source_notebook(notebook: str) -> nbformat.NotebookNode:
    """The instructor's solved notebook for ``notebook`` (no nbgrader run needed)."""
    from grader import exercises
    from grader.isolation.twins import TWINS

    specs = parse_source(SRC_DIR / f"{notebook}.txt")
    setup_source = next(c.text for c in specs if c.kind == "setup")
    cells = []
    answered: list[str] = []
    for index, spec in enumerate(specs):
        cell_id = f"c{index:02d}"
        if spec.kind == "markdown":
            cell = new_markdown_cell(spec.text)
        elif spec.kind == "setup":
            cell = new_code_cell(spec.text)
            cell.metadata["nbgrader"] = _nbgrader_meta("setup", locked=True)
            cell_id = "setup"
        elif spec.kind == "code":
            source = spec.text
            if spec.expected is not None:
                cell = new_code_cell(source, execution_count=1 + sum(c.cell_type == "code" for c in cells))
                cell.outputs = [new_output("stream", name="stdout", text=spec.expected)]
                cell.metadata["tags"] = [NBVAL_CHECK_TAG]
            else:
                cell = new_code_cell(source)
        elif spec.kind == "answer":
            exercise = exercises.get(spec.name)
            if exercise.notebook != notebook:
                raise ValueError(f"{notebook}: exercise {spec.name!r} belongs to {exercise.notebook}")
            if exercise.forbidden or TWINS.get(exercise.name):
                if not cells or cells[-1].cell_type != "markdown":
                    raise ValueError(f"{notebook}: the answer cell of {spec.name} needs a markdown cell before it")
                cells[-1].source += "\n\n" + forbidden_note(exercise)
            cell = new_code_cell(answer_cell_source(spec.name, setup_source))
            cell.metadata["nbgrader"] = _nbgrader_meta(spec.name, solution=True)
            cell_id = spec.name.replace("_", "-")
            answered.append(spec.name)
        elif spec.kind == "check":
            if spec.name not in answered:
                raise ValueError(f"{notebook}: `%% check {spec.name}` comes before its answer cell")
            cell = new_code_cell(check_cell_source(spec.name))
            cell.metadata["nbgrader"] = _nbgrader_meta(f"check_{spec.name}", grade=True, locked=True,
                                                       points=exercise_points(spec.name))
            cell_id = f"check-{spec.name.replace('_', '-')}"
        else:  # pragma: no cover (parse_source rejects it)
            raise ValueError(spec.kind)
        cell["id"] = cell_id
        cells.append(cell)
    expected = [ex.name for ex in exercises.for_notebook(notebook)]
    if answered != expected:
        raise ValueError(f"{notebook}: answer cells {answered} differ from the registered exercises {expected}")
    checked = [c.name for c in specs if c.kind == "check"]
    if checked != answered:
        raise ValueError(f"{notebook}: check cells {checked} differ from the answer cells {answered}")
    nb = new_notebook(cells=cells, metadata={
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        "language_info": {"name": "python", "pygments_lexer": "ipython3"},
    })
    nbformat.validate(nb)
    return nb


def write_sources(course_dir: Path, notebooks=NOTEBOOKS) -> list[Path]:
    """Write the solved notebooks in nbgrader's layout: ``source/<nb>/<nb>.ipynb``."""
    written = []
    for notebook in notebooks:
        path = Path(course_dir) / "source" / notebook / f"{notebook}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(build_source_notebook(notebook), path)
        written.append(path)
    (Path(course_dir) / "exchange").mkdir(parents=True, exist_ok=True)
    return written


def nbgrader_env(course_dir: Path) -> dict:
    """Environment for nbgrader commands on ``course_dir`` (read by the repo's nbgrader_config.py)."""
    env = dict(os.environ)
    env["NBGRADER_COURSE_ROOT"] = str(Path(course_dir).resolve())
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    # nbgrader runs the `alembic` script of its own environment: put that environment's bin/ first
    env["PATH"] = os.pathsep.join(filter(None, [str(Path(sys.executable).parent), env.get("PATH", "")]))
    return env


def nbgrader(*args: str, course_dir: Path, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``nbgrader ARGS`` from the repo root (so that nbgrader_config.py applies) on ``course_dir``.

    ``env``: extra environment variables (e.g. ``GRADER_SECRET``).
    """
    command = [sys.executable, "-m", "nbgrader", *args]
    proc = subprocess.run(command, cwd=REPO, env={**nbgrader_env(course_dir), **(env or {})},
                          capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise RuntimeError(f"`nbgrader {' '.join(args)}` failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def generate_release(course_dir: Path, notebooks=NOTEBOOKS) -> list[Path]:
    """``nbgrader generate_assignment`` for each notebook; returns the released notebooks."""
    sources = {p.name for p in (Path(course_dir) / "source").iterdir() if p.is_dir()}
    if sources == set(notebooks):  # one nbgrader run for all (each run starts in seconds, not ms)
        nbgrader("generate_assignment", "*", "--force", course_dir=course_dir)
    else:
        for notebook in notebooks:
            nbgrader("generate_assignment", notebook, "--force", course_dir=course_dir)
    released = [Path(course_dir) / "release" / notebook / f"{notebook}.ipynb" for notebook in notebooks]
    for path in released:
        tag_check_cells(path)
    return released


def tag_check_cells(path: Path) -> None:
    """Give the released notebook's check cells the ``raises-exception`` tag (see RUN_ON_TAG)."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id", "").startswith("check_"):
            tags = cell.metadata.setdefault("tags", [])
            if RUN_ON_TAG not in tags:
                tags.append(RUN_ON_TAG)
    nbformat.write(nb, path)


def build(course_dir: Path = DEFAULT_COURSE_DIR, release_dir: Path | None = RELEASE_DIR,
          notebooks=NOTEBOOKS, release: bool = True) -> list[Path]:
    write_sources(course_dir, notebooks)
    if not release:
        return []
    released = generate_release(course_dir, notebooks)
    if release_dir is not None:
        Path(release_dir).mkdir(parents=True, exist_ok=True)
        for path in released:
            shutil.copyfile(path, Path(release_dir) / path.name)
    return released


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", help=f"which notebooks (default: all of {', '.join(NOTEBOOKS)})")
    parser.add_argument("--course-dir", type=Path, default=DEFAULT_COURSE_DIR,
                        help="nbgrader course directory for the solved sources (default: nbgrader/)")
    parser.add_argument("--release-dir", type=Path, default=RELEASE_DIR, help="where students' notebooks go (default: notebooks/)")
    parser.add_argument("--sources-only", action="store_true", help="write the solved notebooks only (no nbgrader run)")
    args = parser.parse_args(argv)
    unknown = set(args.notebooks) - set(NOTEBOOKS)
    if unknown:
        parser.error(f"unknown notebooks {sorted(unknown)}; choose from {NOTEBOOKS}")
    notebooks = args.notebooks or NOTEBOOKS
    course_dir = args.course_dir.resolve()
    build(course_dir, args.release_dir, notebooks, release=not args.sources_only)
    print(f"solved notebooks: {course_dir / 'source'}")
    if not args.sources_only:
        print(f"released notebooks: {args.release_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
