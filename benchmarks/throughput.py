"""How fast does a whole class grade? Two measurements, each in one run:

1. ``--compare`` (default): the same N submissions (nbgrader's ``submitted/<student>/<nb>/`` layout,
   one notebook each, correct answers and bug-zoo mistakes) graded by ``nbgrader autograde`` and by
   ``python -m grader grade`` (isolated, ``-j`` = the cores, a fresh results folder: no cache), side
   by side; prints both times and the ratio.
2. ``--class-size 300``: a synthetic class of complete submissions (every graded notebook of the
   course per student), mixed: correct, buggy (bug-zoo mistakes), crashing (``os._exit``, an
   exception, a damaged notebook), slow (a cell that sleeps) and a few endless loops (stopped at the
   time limit). Every answer cell carries its student's name, so no verdict comes from the cache.
   Prints the wall time and students per minute; ``--scaling K`` also grades
   the first K students with -j 1 and -j 2 to show the scaling with cores.

    .venv/bin/python benchmarks/throughput.py                       # nbgrader vs grader, 20 submissions
    .venv/bin/python benchmarks/throughput.py --class-size 300      # the class of 300 (minutes)
    .venv/bin/python benchmarks/throughput.py --class-size 40 --scaling 20

Shards scale across machines by construction (each shard is an independent run on its own
submissions); on one machine they share its cores, so they are not measured here.
"""
from __future__ import annotations

import argparse
import importlib.util
import inspect
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
_spec = importlib.util.spec_from_file_location("build_notebooks", ROOT / "tools" / "build_notebooks.py")
build = importlib.util.module_from_spec(_spec)
sys.modules["build_notebooks"] = build
_spec.loader.exec_module(build)

from grader import exercises, reference  # noqa: E402

SECRET = "throughput-benchmark"
COMPARED_NOTEBOOKS = ["01_word_embeddings", "02_relevance", "03_softmax", "04_context_vectors", "05_attention_in_pytorch",
                      "06_multi_head_attention", "07_positional_encoding", "08_transformer_block", "09_stacking_encoder"]


def graded_notebooks() -> list[str]:
    return sorted({ex.notebook for ex in exercises.EXERCISES.values()})


def solved_answers(course: Path, notebooks: list[str]) -> dict[str, dict[str, str]]:
    """{notebook: {exercise: the reference answer cell}} from the instructor's solved sources."""
    build.write_sources(course, notebooks)
    answers = {}
    for notebook in notebooks:
        cells = json.loads((course / "source" / notebook / f"{notebook}.ipynb").read_text())["cells"]
        answers[notebook] = {}
        for cell in cells:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if meta.get("solution") and meta.get("grade_id") in exercises.EXERCISES:
                source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
                answers[notebook][meta["grade_id"]] = "\n".join(
                    line for line in source.splitlines() if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line) + "\n"
    return answers


def bug_cell(exercise: str, setup: str) -> str | None:
    """A function bug of the zoo as the student's answer cell (renamed), or None (class exercises)."""
    bugs = [b for b in reference.bugs(exercise) if inspect.isfunction(b.impl)]
    if not bugs:
        return None
    bug = bugs[0]
    provided = build.names_bound_by(setup)
    helpers = build.helper_sources(bug.impl, provided)
    return "\n\n".join([*helpers, build.rename_function(inspect.getsource(bug.impl), exercise)])


def setup_of(release: dict) -> str:
    return next("".join(c["source"]) for c in release["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "setup")


def notebook_with(release: dict, answers: dict[str, str]) -> dict:
    document = json.loads(json.dumps(release))
    for cell in document["cells"]:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell["source"] = answers[grade_id]
    return document


KINDS = ["correct"] * 10 + ["buggy"] * 5 + ["crashing"] * 3 + ["slow"] * 2  # 50 / 25 / 15 / 10 %


def student_answers(k: int, notebook: str, position: int, solved: dict[str, str], setup: str,
                    kind: str) -> dict[str, str] | None:
    """Student k's answer cells for the notebook at ``position`` in the course (None: a damaged file).
    Buggy students have a bug-zoo mistake in every other exercise of every other notebook; a
    crashing, slow or endless student has one such exercise, in one notebook. Each cell names the
    student, so that no verdict comes from another student's identical answer."""
    answers = {name: f"# student {k:03d}\n{source}" for name, source in solved.items()}
    names = list(answers)
    target = names[k % len(names)]
    special = position == k % 11  # the one notebook where a crashing, slow or endless student goes wrong
    if kind == "buggy" and position % 2 == k % 2:
        for name in names[k % 2::2]:
            cell = bug_cell(name, setup)
            if cell is not None:
                answers[name] = f"# student {k:03d}\n{cell}"
    elif kind == "crashing" and special:
        if k % 3 == 0:
            answers[target] = f"import os\nos._exit(3)\n{answers[target]}"
        elif k % 3 == 1:
            answers[target] += f"\nraise RuntimeError('student {k} left a debugging raise here')\n"
        else:
            return None
    elif kind == "slow" and special:
        answers[target] = f"import time\ntime.sleep(2)\n{answers[target]}"
    elif kind == "endless" and special:
        answers[target] = f"while True:\n    pass\n{answers[target]}"
    return answers


def write_class(folder: Path, students: int, notebooks: list[str], solved, releases, one_notebook: bool = False,
                endless: int = 0) -> list[str]:
    """nbgrader's submitted/<student>/<notebook>/<notebook>.ipynb; returns the students' kinds."""
    kinds = []
    for k in range(students):
        kind = "endless" if k < endless else KINDS[k % len(KINDS)]
        kinds.append(kind)
        chosen = [notebooks[k % len(notebooks)]] if one_notebook else notebooks
        for notebook in chosen:
            target = folder / f"s{k:03d}" / notebook / f"{notebook}.ipynb"
            target.parent.mkdir(parents=True, exist_ok=True)
            position = k % 11 if one_notebook else notebooks.index(notebook)
            answers = student_answers(k, notebook, position, solved[notebook], setup_of(releases[notebook]), kind)
            target.write_text("{ this notebook was damaged" if answers is None else
                              json.dumps(notebook_with(releases[notebook], answers)))
    return kinds


def grade(submissions: Path, out: Path, jobs: int) -> float:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("GRADER_")}, "GRADER_SECRET": SECRET,
           "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "grader", "grade", str(submissions), "--out", str(out), "-j", str(jobs),
                           "--progress", "lines"], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"grading failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    print("   " + proc.stdout.strip().splitlines()[-2])
    return seconds


def compare(count: int, jobs: int, keep: Path | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        course = Path(keep or tmp) / "course"
        notebooks = COMPARED_NOTEBOOKS
        solved = solved_answers(course, notebooks)
        env = {"GRADER_SECRET": SECRET}
        build.generate_release(course, notebooks)  # nbgrader generate_assignment: the gradebook knows the assignments
        releases = {nb: json.loads((course / "release" / nb / f"{nb}.ipynb").read_text()) for nb in notebooks}
        kinds = write_class(course / "submitted", count, notebooks, solved, releases, one_notebook=True)
        roster = course / "students.csv"
        roster.write_text("id,first_name,last_name\n" + "".join(f"s{k:03d},s{k:03d},Student\n" for k in range(count)))
        build.nbgrader("db", "student", "import", str(roster), course_dir=course, env=env)
        print(f"{count} submissions (one notebook each, over {notebooks[0]}..{notebooks[-1]}; "
              f"{kinds.count('correct')} correct, {kinds.count('buggy')} buggy, {kinds.count('crashing')} crashing, "
              f"{kinds.count('slow')} slow)")
        started = time.perf_counter()
        proc = build.nbgrader("autograde", "*", course_dir=course, env=env, check=False)
        theirs = time.perf_counter() - started
        graded = len(list((course / "autograded").glob("*/*/*.ipynb")))
        print(f"nbgrader autograde: {theirs:.1f} s ({graded} notebooks autograded, exit {proc.returncode})")
        ours = grade(course / "submitted", course / "grades", jobs)
        print(f"python -m grader grade -j {jobs}: {ours:.1f} s (isolated, every exercise in its own sandboxed process)")
        print(f"ratio nbgrader / grader: {theirs / ours:.1f}x")


def whole_class(size: int, jobs: int, scaling: int, endless: int, keep: Path | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(keep or tmp)
        notebooks = graded_notebooks()
        solved = solved_answers(base / "course", notebooks)
        releases = {nb: json.loads((ROOT / "notebooks" / f"{nb}.ipynb").read_text()) for nb in notebooks}
        kinds = write_class(base / "class", size, notebooks, solved, releases, endless=endless)
        files = len(list((base / "class").glob("*/*/*.ipynb")))
        print(f"a class of {size} complete submissions ({len(notebooks)} notebooks, {len(exercises.EXERCISES)} exercises "
              f"each: {files} notebooks): {kinds.count('correct')} correct, {kinds.count('buggy')} buggy, "
              f"{kinds.count('crashing')} crashing, {kinds.count('slow')} slow, {kinds.count('endless')} endless loops")
        seconds = grade(base / "class", base / "grades", jobs)
        print(f"python -m grader grade -j {jobs}: {seconds:.1f} s = {seconds / 60:.1f} min; "
              f"{size / seconds * 60:.1f} students/min, {files / seconds:.2f} notebooks/s, "
              f"{seconds * jobs / size:.2f} slot-seconds per student")
        if scaling:
            subset = base / "subset"
            for k in range(endless, endless + scaling):  # without the endless loops: their time limit is wall time
                shutil.copytree(base / "class" / f"s{k:03d}", subset / f"s{k:03d}")
            times = {j: grade(subset, base / f"subset-j{j}", j) for j in (1, 2)}
            print(f"scaling with cores ({scaling} students, s{endless:03d}..): -j 1 {times[1]:.1f} s, -j 2 {times[2]:.1f} s, "
                  f"speed-up {times[1] / times[2]:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--compare", type=int, default=20, metavar="N", help="nbgrader vs grader on N submissions (default 20)")
    parser.add_argument("--class-size", type=int, default=0, metavar="N", help="grade a synthetic class of N complete submissions")
    parser.add_argument("--endless", type=int, default=3, help="students with an endless loop in the class (default 3)")
    parser.add_argument("--scaling", type=int, default=0, metavar="K", help="also grade K students with -j 1 and -j 2")
    parser.add_argument("-j", "--jobs", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--keep", type=Path, help="keep the generated class and results in this folder")
    args = parser.parse_args()
    if args.class_size:
        whole_class(args.class_size, args.jobs, args.scaling, args.endless, args.keep)
    else:
        compare(args.compare, args.jobs, args.keep)


if __name__ == "__main__":
    main()
