"""End to end with the real nbgrader CLI: generate, autograde, feedback and export a small class.

One temporary course directory (the repo's ``nbgrader_config.py`` pointed at it with
``NBGRADER_COURSE_ROOT``) holds these submissions, built from the released notebooks:

- ``ref``: every answer cell holds the reference (``solutions/``): full marks everywhere (from
  notebook 05 on without the demo cells, as the zoo students below).
- ``zoo0``, ``zoo1``: student k puts a bug from the bug zoo (its bug number k, renamed to the
  exercise's name) into the answer cells of every other exercise (the 1st, 3rd... for zoo0, the
  2nd, 4th... for zoo1) and the reference into the rest. A bug must cost exactly its exercise's
  points: the bugged exercises score 0, the others full marks, in the same notebook. They deleted
  the demo cells (only setup, answer and check cells are graded), which keeps the run short.
- ``blank``: a released notebook untouched: 0 points, no crash.
- ``quirks`` (03_softmax): correct answers, but ``softmax`` warns, ``causal_mask`` prints to
  stderr, and the test cell of ``masked_softmax`` was deleted.

Scores are read from nbgrader's gradebook and from ``nbgrader export``'s CSV; the feedback
HTML must not show the hidden tests. When the project's own grader CLI exists
(``python -m grader grade``), its score per exercise (the default policy, all or nothing) must equal
nbgrader's; tests/test_grader_scoring.py runs both policies through every route.

The whole class is graded once per module (a few kernels per notebook): about a minute or two.
"""
from __future__ import annotations

import ast
import csv
import html
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from grader import exercises, reference

REPO = Path(__file__).resolve().parent.parent
if "build_notebooks" not in sys.modules:  # tools/ is not a package: load the build script by path
    _spec = importlib.util.spec_from_file_location("build_notebooks", REPO / "tools" / "build_notebooks.py")
    sys.modules["build_notebooks"] = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(sys.modules["build_notebooks"])
build = sys.modules["build_notebooks"]

pytestmark = pytest.mark.slow

ALL_GRADED = [nb for nb in build.NOTEBOOKS if exercises.for_notebook(nb)]  # 01..11 (00 has nothing to grade)
# This module grades the numpy notebooks; test_nbgrader_e2e_torch.py (05-08) and
# test_nbgrader_e2e_capstone.py (09-11) run the same tests on the rest, so that pytest-xdist grades
# the three parts at once (each is a minute or more of nbgrader).
GRADED = [nb for nb in ALL_GRADED if nb < "05"]
ZOO_STUDENTS = 2  # every exercise is bugged in one of them (tests/test_grader_zoo.py runs every bug, in-process)
BLANK_NOTEBOOK = "04_context_vectors"
SECRET = "e2e-test-secret"
QUIRKS_NOTEBOOK = "03_softmax"
DELETED_CHECK = "check_masked_softmax"
WARNS, PRINTS_TO_STDERR = "softmax", "causal_mask"


# ---------------------------------------------------------------------------- submissions

def _answer_cells(nb):
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells
            if c.metadata.get("nbgrader", {}).get("solution")}


def _strip_markers(source: str) -> str:
    return "\n".join(line for line in source.splitlines() if "### BEGIN SOLUTION" not in line
                     and "### END SOLUTION" not in line) + "\n"


def reference_answers(course: Path, notebook: str) -> dict[str, str]:
    """The solved answer cells of the instructor's source notebook, without nbgrader's markers."""
    source = nbformat.read(course / "source" / notebook / f"{notebook}.ipynb", as_version=4)
    return {name: _strip_markers(cell.source) for name, cell in _answer_cells(source).items()}


def setup_source(nb) -> str:
    return next(c.source for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "setup")


def bug_answer(bug, setup: str, reference_cell: str) -> str:
    """A student's answer cell made of a bug-zoo implementation, named as the exercise.

    A function bug is renamed; the helpers it uses from its zoo module (a regex, a shared function)
    are copied in front of it, as a student would have them in the same cell, unless the setup
    cell provides them. A class bug (usually a subclass of the reference that overrides
    ``forward``) comes after the solved answer cell, which defines the exercise's class, and then
    takes its name: ``EncoderBlock = EncoderBlockSwapped``.
    """
    import inspect

    provided = build.names_bound_by(setup)
    if inspect.isfunction(bug.impl):
        helpers = build.helper_sources(bug.impl, provided)
        body = build.rename_function(inspect.getsource(bug.impl), bug.exercise)
        return "\n\n".join([*helpers, body])
    import builtins
    import sys
    import textwrap
    import types

    parts = [reference_cell]
    notebook = exercises.get(bug.exercise).notebook
    own = {ex.name for ex in exercises.for_notebook(notebook)}
    given = build.given_names(setup)
    seen = set(provided) | set(exercises.EXERCISES)
    for cls in reversed(bug.impl.__mro__[:-1]):  # bases first: a zoo base such as _EncoderBlock
        if not (cls.__module__.startswith("solutions.zoo") or cls is bug.impl):
            continue
        source = textwrap.dedent(inspect.getsource(cls))
        tree = ast.parse(source)
        module = vars(sys.modules[cls.__module__])
        node = tree.body[0]  # the class, without its @bug decorator
        used = sorted({n.id for part in [*node.bases, *node.body] for n in ast.walk(part)
                       if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)})
        for name in used:
            value = module.get(name)
            target = getattr(value, "__name__", name)
            exercise_alias = (inspect.isfunction(value) or isinstance(value, type)) and target in exercises.EXERCISES
            if name in provided or name in seen - set(exercises.EXERCISES) or hasattr(builtins, name) \
                    or value is None or isinstance(value, types.ModuleType) or (isinstance(value, type) and not exercise_alias):
                continue  # the setup cell's, already copied, a local variable, a class of the MRO or the cell
            seen.add(name)
            if exercise_alias:
                # another exercise (a zoo alias such as _correct_pe): this notebook's answer, or given's version
                reference = target if target in own else given.get(target, target)
                if reference != name:
                    parts.append(f"{name} = {reference}")
            elif inspect.isfunction(value):
                parts += build.helper_sources(value, provided | seen, seen)
                helper = build.strip_decorators(textwrap.dedent(inspect.getsource(value)))
                parts.append(helper if target == name else build.rename_function(helper, name))
            else:
                parts.append(build._module_assignment(sys.modules[cls.__module__], name))
        start = tree.body[0].lineno - 1  # the `class` line: no @bug decorator
        parts.append("\n".join(source.splitlines()[start:]) + "\n")
    parts.append(f"{bug.exercise} = {bug.impl.__name__}\n")
    return "\n\n".join(dict.fromkeys(parts))


def with_line_in_body(source: str, line: str, imports: str) -> str:
    """``imports``, then the cell's comment lines, then its function with ``line`` as the first
    statement of the body (after the docstring)."""
    comments = [ln for ln in source.splitlines() if ln.startswith("#")]
    code = "\n".join(ln for ln in source.splitlines() if not ln.startswith("#"))
    signature, doc, body = build.split_function(code)
    return "\n".join([imports.rstrip("\n"), *comments, *signature, *doc, "    " + line, *body]) + "\n"


def submission(release_nb, answers: dict[str, str], drop: tuple[str, ...] = (), lean: bool = False):
    """The released notebook with these answers. ``drop``: grade_ids of cells the student deleted.
    ``lean``: the student also deleted the demo cells (allowed: only the setup, answer and check
    cells are graded), which spares the round trip minutes of plots and training runs."""
    nb = nbformat.from_dict(json.loads(json.dumps(release_nb)))  # deep copy
    cells = _answer_cells(nb)
    for name, source in answers.items():
        cells[name].source = source
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") not in drop
                and not (lean and c.cell_type == "code" and "nbgrader" not in c.metadata)]
    return nb


def zoo_plan(notebook: str, k: int) -> dict[str, object]:
    """{exercise: Bug} for zoo student k: bug number k in every other exercise, starting at the k-th."""
    plan = {}
    for index, exercise in enumerate(exercises.for_notebook(notebook)):
        bugs = reference.bugs(exercise.name)
        if index % ZOO_STUDENTS == k and bugs:
            plan[exercise.name] = bugs[k % len(bugs)]
    return plan


def exercise_points(name: str) -> float:
    return float(sum(c.points for c in exercises.get(name).checks))


def expected_scores(student: str, notebook: str) -> dict[str, float]:
    """What nbgrader must give, per exercise (grade_id check_<name>)."""
    names = [e.name for e in exercises.for_notebook(notebook)]
    if student == "ref":
        return {n: exercise_points(n) for n in names}
    if student == "blank":
        return {n: 0.0 for n in names}
    if student.startswith("zoo"):
        bugged = zoo_plan(notebook, int(student[3:]))
        return {n: 0.0 if n in bugged else exercise_points(n) for n in names}
    if student == "quirks":
        return {n: exercise_points(n) for n in names if f"check_{n}" != DELETED_CHECK}
    raise KeyError(student)


# ---------------------------------------------------------------------------- the class

def nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    return build.nbgrader(*args, course_dir=course, env={"GRADER_SECRET": SECRET})


def pytest_generate_tests(metafunc):
    """``notebook`` runs over the notebooks of the module the test is collected in."""
    if "notebook" in metafunc.fixturenames:
        metafunc.parametrize("notebook", metafunc.module.GRADED)


def _needs(graded, student: str, notebook: str) -> None:
    if (student, notebook) not in graded["plan"]:
        pytest.skip(f"{notebook} is graded in another part of the round trip")


@pytest.fixture(scope="module")
def graded(tmp_path_factory, request):
    """Build the course, submit the class, autograde, generate feedback, export. Returns a dict."""
    course = tmp_path_factory.mktemp("course")
    build.write_sources(course, request.module.GRADED)  # only this part's notebooks: generating is slow
    nbgrader(course, "generate_assignment", "*", "--force")

    plan: dict[tuple[str, str], nbformat.NotebookNode] = {}
    for notebook in request.module.GRADED:
        release = nbformat.read(course / "release" / notebook / f"{notebook}.ipynb", as_version=4)
        answers = reference_answers(course, notebook)
        # The numpy notebooks' reference students submit every cell (a complete notebook through
        # autograde); from 05 on they drop the demo cells too: those run under nbval and in the
        # released-notebook test already, and their training runs would double this test's time.
        plan["ref", notebook] = submission(release, answers, lean=notebook >= "05")
        if notebook == BLANK_NOTEBOOK:
            plan["blank", notebook] = submission(release, {})
        setup = setup_source(release)
        for k in range(ZOO_STUDENTS):
            bugs = zoo_plan(notebook, k)
            if bugs:
                plan[f"zoo{k}", notebook] = submission(
                    release, {**answers, **{name: bug_answer(bug, setup, answers[name]) for name, bug in bugs.items()}},
                    lean=True)
        if notebook == QUIRKS_NOTEBOOK:
            quirky = dict(answers)
            quirky[WARNS] = with_line_in_body(
                answers[WARNS], 'warnings.warn("this correct answer warns", UserWarning)', "import warnings\n")
            quirky[PRINTS_TO_STDERR] = with_line_in_body(
                answers[PRINTS_TO_STDERR], 'print("debugging output", file=sys.stderr)', "import sys\n")
            plan["quirks", notebook] = submission(release, quirky, drop=(DELETED_CHECK,))
    for (student, notebook), nb in plan.items():
        path = course / "submitted" / student / notebook / f"{notebook}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, path)

    students = sorted({student for student, _ in plan})
    nbgrader(course, "db", "student", "add", "ref", "--first-name=Reference", "--last-name=Solution")
    roster = course / "students.csv"
    roster.write_text("id,first_name,last_name\n" + "".join(f"{s},{s},Student\n" for s in students if s != "ref"))
    nbgrader(course, "db", "student", "import", str(roster))
    autograde = nbgrader(course, "autograde", "*")
    feedback = nbgrader(course, "generate_feedback", "*")
    export_csv = course / "grades.csv"
    nbgrader(course, "export", f"--to={export_csv}")

    from nbgrader.api import Gradebook, MissingEntry

    scores: dict[tuple[str, str], dict[str, float | None]] = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for student, notebook in plan:
            try:
                sub = gb.find_submission(notebook, student)
            except MissingEntry:
                continue
            scores[student, notebook] = {g.name: g.score for nb in sub.notebooks for g in nb.grades}
    return {"course": course, "plan": plan, "scores": scores, "students": students,
            "export": export_csv, "log": autograde.stdout + autograde.stderr + feedback.stdout + feedback.stderr}


def _cell_scores(graded, student, notebook):
    assert (student, notebook) in graded["scores"], f"{student}/{notebook} was not autograded:\n{graded['log'][-3000:]}"
    return {grade_id.removeprefix("check_"): score for grade_id, score in graded["scores"][student, notebook].items()}


# ---------------------------------------------------------------------------- tests

def test_reference_gets_full_marks(graded, notebook):
    assert _cell_scores(graded, "ref", notebook) == expected_scores("ref", notebook)


@pytest.mark.parametrize("k", range(ZOO_STUDENTS))
def test_each_known_mistake_costs_exactly_its_exercise(graded, notebook, k):
    if (f"zoo{k}", notebook) not in graded["plan"]:
        pytest.skip(f"no exercise of {notebook} has a bug number {k}")
    got = _cell_scores(graded, f"zoo{k}", notebook)
    expected = expected_scores(f"zoo{k}", notebook)
    bugs = {name: bug.id for name, bug in zoo_plan(notebook, k).items()}
    assert got == expected, f"bugs {bugs}: nbgrader gave {got}, expected {expected}"


def test_unattempted_notebook_scores_zero_without_crashing(graded):
    notebook = BLANK_NOTEBOOK
    _needs(graded, "blank", notebook)
    assert _cell_scores(graded, "blank", notebook) == expected_scores("blank", notebook)
    autograded = nbformat.read(graded["course"] / "autograded" / "blank" / notebook / f"{notebook}.ipynb", as_version=4)
    errors = [(c.metadata.get("nbgrader", {}).get("grade_id"), o) for c in autograded.cells if c.cell_type == "code"
              for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors, "the unattempted notebook should fail its checks"
    for grade_id, error in errors:
        assert grade_id and grade_id.startswith("check_"), f"an error outside a check cell: {error.ename}: {error.evalue}"
        assert error.ename == "CheckFailed" and "not attempted" in error.evalue, (grade_id, error.ename, error.evalue)


def test_a_correct_answer_that_warns_gets_full_marks(graded):
    _needs(graded, "quirks", QUIRKS_NOTEBOOK)
    scores = _cell_scores(graded, "quirks", QUIRKS_NOTEBOOK)
    assert scores[WARNS] == exercise_points(WARNS)


def test_a_correct_answer_that_prints_to_stderr_gets_full_marks(graded):
    """nbgrader zeroes a test cell with any stderr output; check() captures it into the notes."""
    _needs(graded, "quirks", QUIRKS_NOTEBOOK)
    scores = _cell_scores(graded, "quirks", QUIRKS_NOTEBOOK)
    assert scores[PRINTS_TO_STDERR] == exercise_points(PRINTS_TO_STDERR)


def test_a_deleted_test_cell_costs_its_points_only(graded):
    """nbgrader restores a deleted locked test cell? No: it has no cell to run, so the exercise must
    not count as passed, and the other exercises keep their points."""
    _needs(graded, "quirks", QUIRKS_NOTEBOOK)
    scores = _cell_scores(graded, "quirks", QUIRKS_NOTEBOOK)
    deleted = DELETED_CHECK.removeprefix("check_")
    assert scores.get(deleted) in (None, 0.0), f"a deleted test cell scored {scores.get(deleted)}"
    assert scores[WARNS] == exercise_points(WARNS)


def _visible_text(html_page: str) -> str:
    """The text a student reads in an HTML page (tags removed: code is split into highlighted spans)."""
    return html.unescape(re.sub(r"<[^>]+>", "", html_page))


def test_feedback_does_not_show_hidden_tests(graded):
    feedback = sorted((graded["course"] / "feedback").glob("*/*/*.html"))
    assert {(p.parent.parent.name, p.parent.name) for p in feedback} == set(graded["scores"])
    for path in feedback:
        text = _visible_text(path.read_text(encoding="utf-8"))
        assert "HIDDEN TESTS" not in text and "hidden=True)" not in text, f"{path} shows the hidden tests"
    if ("quirks", QUIRKS_NOTEBOOK) not in graded["plan"]:
        return  # the quirks student is in the numpy part
    text = _visible_text((graded["course"] / "feedback" / "ref" / QUIRKS_NOTEBOOK / f"{QUIRKS_NOTEBOOK}.html").read_text())
    assert "check(softmax)" in text  # the public check is still there,
    assert "hidden_random" in text  # and so are the hidden checks' names and statuses (not their code)


def test_export_csv_matches_the_gradebook(graded):
    with open(graded["export"], newline="") as fh:
        rows = {(r["student_id"], r["assignment"]): float(r["score"]) for r in csv.DictReader(fh)}
    for (student, notebook), cells in graded["scores"].items():
        assert rows[student, notebook] == pytest.approx(sum(v or 0.0 for v in cells.values()))


# ---------------------------------------------------------------------------- the course's own grader

def test_own_grader_agrees_with_nbgrader(graded, tmp_path):
    """Per submission and exercise: nbgrader's score == the own grader's, under the default policy
    (all or nothing: the exercise's points when every check passed, else 0)."""
    import shutil

    course = graded["course"]
    folder, out = tmp_path / "submissions", tmp_path / "results"
    folder.mkdir()
    compared = {}
    for student, notebook in graded["scores"]:
        if student == "quirks":  # a deleted test cell means nothing to a grader that runs the checks itself
            continue
        name = f"{student}__{notebook}"
        shutil.copyfile(course / "submitted" / student / notebook / f"{notebook}.ipynb", folder / f"{name}.ipynb")
        compared[name] = (student, notebook)
    env = dict(os.environ, GRADER_SECRET=SECRET, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-m", "grader", "grade", "--out", str(out),
                           *sorted(f"{name}.ipynb" for name in compared)],
                          cwd=folder, env=env, capture_output=True, text=True, timeout=900)
    log = f"\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    mismatches = []
    for name, (student, notebook) in sorted(compared.items()):
        report_file = out / f"{name}.json"
        assert report_file.is_file(), f"`python -m grader grade` wrote no {report_file.name}:{log}"
        report = json.loads(report_file.read_text())
        own = {}
        for ex in report["exercises"]:
            passed = bool(ex["checks"]) and all(c["status"] == "passed" for c in ex["checks"])
            assert ex["scoring"] == "all-or-nothing" and ex["earned"] == (float(ex["points"]) if passed else 0.0)
            own[ex["exercise"]] = float(ex["earned"])
        theirs = _cell_scores(graded, student, notebook)
        print(f"{name:<32} nbgrader {sum(theirs.values()):>5g}  own (all or nothing) {report['earned']:>5g}  "
              f"per check {sum(ex['per_check'] for ex in report['exercises']):>5g} / {report['points']:g}")
        if own != theirs:
            mismatches.append(f"{name}: own grader {own} != nbgrader {theirs}")
    assert not mismatches, "\n".join(mismatches) + log
