"""A small class of 03_softmax submissions, as answer files (``<student>/03_softmax.py``), and a way
to run ``python -m grader`` as an instructor would. Shared by the batch, export and feedback tests."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECRET = "batch-test-secret"
REFERENCE = (ROOT / "solutions" / "softmax.py").read_text()  # softmax, masked_softmax, causal_mask

WRONG_AXIS = '''

def softmax(scores, axis=-1):
    """normalised over the columns: the zoo's softmax_wrong_axis"""
    exp = np.exp(scores - np.max(scores, axis=0, keepdims=True))
    return exp / np.sum(exp, axis=0, keepdims=True)
'''

# A correct softmax that tries to smuggle its (hidden) inputs out through stderr and warnings, and a
# masked_softmax whose error message quotes its inputs: none of it may reach the feedback.
LEAKY = '''
import sys
import warnings


def softmax(scores, axis=-1):
    print("STDERR-LEAK", scores.ravel()[:4].tolist(), file=sys.stderr)
    warnings.warn("WARN-LEAK " + repr(scores.ravel()[:4].tolist()))
    shifted = scores - np.max(scores, axis=axis, keepdims=True)
    exp = np.exp(shifted)
    return exp / np.sum(exp, axis=axis, keepdims=True)


def masked_softmax(scores, mask, axis=-1):
    raise ValueError("RAISE-LEAK " + repr(scores.ravel()[:4].tolist()))
'''


def sleepy(source: str, seconds: float, tag: str) -> str:
    """``source`` whose every top-level function sleeps ``seconds`` when defined (a slow student), and
    whose answers differ from every other student's by ``tag``: each definition is decorated with a
    helper that sleeps, and a .py answer file's extraction keeps that helper with each exercise that
    uses it (a module-level statement nobody uses is left out, and the cache would see equal answers)."""
    helper = (f"import time\n\n\ndef _slowly(function):\n    time.sleep({seconds})  # {tag}\n    return function\n\n\n")
    return helper + re.sub(r"^def ", "@_slowly\ndef ", source, flags=re.M)


def write_class(folder: Path, students: dict[str, str]) -> Path:
    """``folder/<student>/03_softmax.py`` for each student's source; returns ``folder``."""
    for student, source in students.items():
        (folder / student).mkdir(parents=True, exist_ok=True)
        (folder / student / "03_softmax.py").write_text(source)
    return folder


def grader_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRADER_")}
    env.update(PYTHONPATH=str(ROOT), GRADER_SECRET=SECRET, **extra)
    return env


def run_grader(*args, cwd, timeout=600, **extra) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader", *map(str, args)], cwd=cwd, env=grader_env(**extra),
                          capture_output=True, text=True, timeout=timeout)


def grade_and_export(folder: Path, students: dict[str, str]) -> Path:
    """Write ``students`` into ``folder/class``, grade them with -j 2 into ``folder/grades`` and
    export there (both commands must succeed); returns the results folder."""
    write_class(folder / "class", students)
    for command in (("grade", "class", "--out", "grades", "-j", "2"), ("export", "--out", "grades")):
        proc = run_grader(*command, cwd=folder)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return folder / "grades"
