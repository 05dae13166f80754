"""No silent zeros: where the hidden reference (solutions/) is not available, nothing is graded with
the hidden checks, on every route, and the message says why and what to do. And the instructor's
secret is written for the instructor alone.

(A hidden check that could not run used to be `skipped` with 0 points: on a shared environment
without solutions/, nbgrader's formgrader said "Successfully autograded" and a perfect 16/16 became
0/16.)"""
from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORRECT = (ROOT / "solutions" / "softmax.py").read_text()


def _env(tmp_path, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRADER_")}
    env.update(PYTHONPATH=str(ROOT), GRADER_SECRET="s", GRADER_SOLUTIONS=str(tmp_path / "no-solutions-here"), **extra)
    return env


def test_grade_refuses_to_start_without_the_reference(tmp_path):
    (tmp_path / "class" / "ada").mkdir(parents=True)
    (tmp_path / "class" / "ada" / "03_softmax.py").write_text(CORRECT)
    proc = subprocess.run([sys.executable, "-m", "grader", "grade", "class", "--out", "grades"], cwd=tmp_path,
                          env=_env(tmp_path), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "the hidden checks need the instructor's reference" in proc.stderr
    assert str(tmp_path / "no-solutions-here") in proc.stderr and "GRADER_SOLUTIONS" in proc.stderr
    assert not list((tmp_path / "grades").glob("*.json")) if (tmp_path / "grades").exists() else True


def test_grade_submission_raises_rather_than_scoring_zero(tmp_path, monkeypatch):
    from grader import reference
    from grader.config import Config
    from grader.grade import grade_submission

    monkeypatch.setattr(reference, "solutions_dir", lambda: None)
    path = tmp_path / "03_softmax.py"
    path.write_text(CORRECT)
    from grader.isolation.sandbox import Sandbox

    with Sandbox(isolate=False) as box:
        with pytest.raises(reference.ReferenceUnavailable, match="Nothing was graded"):
            grade_submission(path, Config(secret="s"), box, include_hidden=True)
        # the public checks alone need no reference (a student's `python -m grader check`)
        public = grade_submission(path, Config(secret="s"), box, include_hidden=False)
    assert public.earned == public.points > 0


def test_the_notebook_hidden_check_ends_the_kernel_loudly(tmp_path):
    """nbgrader's test cells call check(..., hidden=True): without the reference the kernel ends with
    the reason on stderr (nbgrader reports the notebook failed), instead of one failed cell worth 0."""
    script = "import numpy as np\n" + CORRECT + textwrap.dedent('''
        from grader import check
        check(softmax)
        print("public checks ran")
        check(softmax, hidden=True)
        print("NOT REACHED")
    ''')
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=_env(tmp_path), capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 70 and "public checks ran" in proc.stdout and "NOT REACHED" not in proc.stdout
    assert "the hidden checks need the instructor's reference" in proc.stderr


def test_nbgrader_autograde_stops_before_grading_anything(tmp_path):
    nbgrader = Path(sys.executable).parent / "nbgrader"
    proc = subprocess.run([str(nbgrader), "autograde", "03_softmax"], cwd=ROOT,
                          env=_env(tmp_path, NBGRADER_COURSE_ROOT=str(tmp_path / "course"),
                                   PATH=f"{nbgrader.parent}{os.pathsep}{os.environ.get('PATH', '')}"),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "the hidden checks need the instructor's reference" in proc.stderr


def test_pytest_grade_hidden_refuses_without_the_reference(tmp_path):
    path = tmp_path / "03_softmax.py"
    path.write_text(CORRECT)
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--grade", str(path),
                           "--grade-hidden"], cwd=tmp_path, env=_env(tmp_path), capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode != 0 and "the hidden checks need the instructor's reference" in proc.stdout + proc.stderr


def test_solutions_can_be_named_in_the_config(tmp_path, monkeypatch):
    from grader import config as config_module
    from grader import reference

    monkeypatch.delenv("GRADER_SOLUTIONS", raising=False)
    (tmp_path / "grader.toml").write_text(f'[grader]\nsecret = "s"\nsolutions = "{ROOT / "solutions"}"\n')
    loaded = config_module.load(tmp_path / "grader.toml")
    assert loaded.solutions == str(ROOT / "solutions") and os.environ["GRADER_SOLUTIONS"] == loaded.solutions
    assert reference.solutions_dir() == ROOT / "solutions"


def test_init_writes_the_secret_for_the_instructor_alone_and_warns_about_a_readable_course(tmp_path):
    # a folder other users can reach (pytest's tmp_path is under a 0700 folder: nothing in it is exposed)
    reachable = Path(tempfile.mkdtemp(dir="/var/tmp" if os.path.isdir("/var/tmp") else None, prefix="grader-init-"))
    try:
        _init_warnings(tmp_path, reachable)
    finally:
        shutil.rmtree(reachable)


def _init_warnings(tmp_path, reachable):
    if any(not p.stat().st_mode & stat.S_IXOTH for p in reachable.parents):
        pytest.skip(f"{reachable} sits in a folder other users cannot enter: nothing there can be exposed")
    os.chmod(reachable, 0o755)
    course = reachable / "course"
    (course / "solutions").mkdir(parents=True)
    os.chmod(course, 0o755)  # as a fresh clone in a home folder usually is
    os.chmod(course / "solutions", 0o755)
    proc = subprocess.run([sys.executable, "-m", "grader", "init"], cwd=course, env=_env(tmp_path),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE((course / "grader.toml").stat().st_mode) == 0o600
    assert f"other users of this machine can read {course}" in proc.stderr
    assert f"can read {course / 'solutions'}" in proc.stderr and "grader.toml" not in proc.stderr.split("warning")[-1]
    os.chmod(course, 0o700)
    os.chmod(course / "solutions", 0o700)
    (course / "grader.toml").unlink()
    quiet = subprocess.run([sys.executable, "-m", "grader", "init"], cwd=course, env=_env(tmp_path),
                           capture_output=True, text=True, timeout=120)
    assert quiet.returncode == 0 and "warning" not in quiet.stderr
    # a private course hides what is inside it, whatever those folders' own modes (the hub set-up's 0700)
    os.chmod(course / "solutions", 0o755)
    (course / "grader.toml").unlink()
    private = subprocess.run([sys.executable, "-m", "grader", "init"], cwd=course, env=_env(tmp_path),
                             capture_output=True, text=True, timeout=120)
    assert private.returncode == 0 and "warning" not in private.stderr, private.stderr
    # and an open course folder inside a private one is not exposed either
    os.chmod(course, 0o755)
    os.chmod(reachable, 0o700)
    (course / "grader.toml").unlink()
    inside = subprocess.run([sys.executable, "-m", "grader", "init"], cwd=course, env=_env(tmp_path),
                            capture_output=True, text=True, timeout=120)
    assert inside.returncode == 0 and "warning" not in inside.stderr, inside.stderr
