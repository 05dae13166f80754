"""Verdicts by content: a regrade redoes only the exercises that a change can affect.

An exercise's verdict is a function of, and its cache key the SHA-256 of:

- the answer: the answer cell's source and the sources of the other answers it calls
  (:func:`grader.extract.dependencies`), and the instructor's setup cell it runs after;
- the exercise's checks: its module in ``grader/exercises/`` plus the modules that module
  imports there (``nb09`` uses ``nb08``'s helpers);
- the hidden reference and the bug zoo: the ``solutions/`` module that defines the exercise,
  the zoo module of its notebook, and what those import inside ``solutions/`` (the diagnosis
  names a zoo mistake, so a new zoo entry changes a verdict's text);
- the grading engine: every other module of ``grader/`` (the comparison and its tolerance in
  ``core.py``, ``judge.py``, the sandbox and worker, extraction, static checks), except the
  modules that only present results (listed in :data:`PRESENTATION`); ``course/`` (the worker
  imports it); the Python, numpy and torch versions;
- the grading run: the secret, the time and memory limits, whether grading is isolated, and
  whether the machine has CUDA or MPS (``pick_device`` is judged against it).

So editing a check of ``softmax`` regrades the exercises of ``03_softmax.py``'s module and
nothing else; editing ``core.compare`` regrades everything, as it should. Entries are JSON files
under ``<results>/cache/``, written atomically; a cache entry is never trusted for a different
key (the key is the file name, and the entry repeats it).
"""
from __future__ import annotations

import ast
import hashlib
import json
import os
import socket
import sys
import time
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from .config import Config
from .core import CheckResult, Exercise, ExerciseResult
from .isolation.sandbox import process_alive

FORMAT = 1  # bump when the meaning of a cached entry changes
PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent
EXERCISES_DIR = PACKAGE_DIR / "exercises"
COURSE_DIR = REPO_DIR / "course"
# Modules that only present, export or schedule results: editing them changes no verdict.
PRESENTATION = frozenset({
    "__init__.py", "__main__.py", "cli.py", "report.py", "notebook.py", "cache.py", "batch.py",
    "export.py", "feedback.py", "bundle.py", "pytest_plugin.py",
})


def sha256(*parts: bytes | str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "little"))  # unambiguous boundaries
        digest.update(data)
    return digest.hexdigest()


def _files_digest(files: list[Path], root: Path) -> str:
    return sha256(*[item for path in sorted(set(files)) for item in (str(path.relative_to(root)), path.read_bytes())])


# ------------------------------------------------------------------------------ source closures


def _imported_files(path: Path, root: Path, package: str) -> list[Path]:
    """The files of package ``root`` (named ``package``) that ``path`` imports, directly."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError):
        return []
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = path.parent
                for _ in range(node.level - 1):
                    base = base.parent
                parts = node.module.split(".") if node.module else []
            elif node.module and node.module.split(".")[0] == package:
                base, parts = root, node.module.split(".")[1:]
            else:
                continue
            candidates = [base.joinpath(*parts)] + [base.joinpath(*parts, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            candidates = [root.joinpath(*alias.name.split(".")[1:]) for alias in node.names
                          if alias.name.split(".")[0] == package]
        else:
            continue
        for candidate in candidates:
            for file in (candidate.with_suffix(".py"), candidate / "__init__.py"):
                if file.is_file() and root in file.resolve().parents:
                    found.append(file.resolve())
    return found


def closure(start: list[Path], root: Path, package: str) -> list[Path]:
    """``start`` plus every file of the package it imports, transitively."""
    seen: list[Path] = []
    frontier = [p.resolve() for p in start if p.is_file()]
    while frontier:
        path = frontier.pop()
        if path in seen:
            continue
        seen.append(path)
        frontier += _imported_files(path, root.resolve(), package)
    return sorted(seen)


@lru_cache(maxsize=None)
def engine_digest() -> str:
    """Every verdict-making module of grader/ (not the exercise modules), course/, and versions."""
    files = [p for p in PACKAGE_DIR.rglob("*.py") if "__pycache__" not in p.parts
             and not (p.parent == PACKAGE_DIR and p.name in PRESENTATION)
             and not (p.parent == EXERCISES_DIR and p.name.startswith("nb"))]
    course = [p for p in COURSE_DIR.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    versions = [f"{name}=={_version(name)}" for name in ("numpy", "torch")]
    return sha256(_files_digest(files, REPO_DIR), _files_digest(course, REPO_DIR), sys.version, *versions)


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "absent"


def _exercise_module_file(name: str) -> Path | None:
    from . import exercises as registry

    for module in registry._MODULES:
        if any(ex.name == name for ex in module.EXERCISES):
            return Path(module.__file__)
    return None


def _solutions_files(name: str, notebook_module: str | None) -> list[Path]:
    """The reference module defining ``name`` (read from solutions/__init__.py's imports), the
    zoo module of its notebook, and what they import inside solutions/."""
    from .reference import solutions_dir

    root = solutions_dir()
    if root is None:
        return []
    start = [root / "__init__.py"]
    try:
        tree = ast.parse((root / "__init__.py").read_text(encoding="utf-8"))
    except (OSError, SyntaxError):
        tree = None
    for node in ast.walk(tree) if tree is not None else []:
        if isinstance(node, ast.ImportFrom) and node.level == 1 and any(a.name == name for a in node.names):
            start.append(root / f"{node.module}.py")
    if notebook_module:
        start += [root / "zoo" / "__init__.py", root / "zoo" / f"{notebook_module}.py"]
    return closure(start, root, "solutions")


@lru_cache(maxsize=None)
def exercise_digest(name: str) -> str:
    """The exercise's checks (its grader/exercises module and what it imports there) and its
    reference and zoo (in solutions/, when present)."""
    module_file = _exercise_module_file(name)
    checks = closure([module_file], EXERCISES_DIR, "grader") if module_file else []
    hidden = _solutions_files(name, module_file.stem if module_file else None)
    from .reference import solutions_dir

    solutions_root = solutions_dir()
    return sha256(name, _files_digest(checks, REPO_DIR),
                  _files_digest(hidden, solutions_root.parent) if hidden else "no solutions/")


def run_digest(config: Config, isolated: bool, include_hidden: bool, hardware: dict) -> str:
    """What the grading run itself contributes to a verdict."""
    return sha256(json.dumps({
        "format": FORMAT, "engine": engine_digest(), "secret": config.secret or "", "time_limit": config.time_limit,
        "memory_mb": config.memory_mb, "isolated": isolated, "include_hidden": include_hidden,
        "hardware": {k: bool(hardware.get(k)) for k in ("cuda", "mps")},
    }, sort_keys=True))


def exercise_key(run: str, exercise: Exercise, answer: str, deps: list[tuple[str, str]], setup: str) -> str:
    return sha256(run, exercise_digest(exercise.name), answer, setup, json.dumps([list(d) for d in deps]))


def machine_hardware() -> dict:
    """What the grading machine has, as the worker will report it (cuda, mps)."""
    import torch

    mps = getattr(torch.backends, "mps", None)
    return {"cuda": torch.cuda.is_available(), "mps": bool(mps is not None and mps.is_available())}


# ------------------------------------------------------------------------------ results as JSON


def exercise_result_from_json(data: dict) -> ExerciseResult:
    result = ExerciseResult(data["exercise"], data["notebook"], data["status"], message=data.get("message", ""),
                            notes=list(data.get("notes", [])))
    fields = CheckResult.__dataclass_fields__
    result.checks = [CheckResult(**{k: v for k, v in c.items() if k in fields}) for c in data.get("checks", [])]
    return result


def write_json_atomic(path: Path, data, indent: int | None = 1) -> None:
    """Write ``path`` so that a reader, or a run killed at any moment, sees the old file or the new
    one, never a part: a temporary file in the same folder, flushed to disk, then renamed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{socket.gethostname()}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=indent)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_text_atomic(path: Path, text: str) -> None:
    """:func:`write_json_atomic` for text (exports)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{socket.gethostname()}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def remove_stale_temporaries(folder: Path) -> int:
    """Temporary files that a killed run of this machine left (their process is gone)."""
    removed = 0
    host = socket.gethostname()
    for tmp in folder.rglob(".*.tmp") if folder.is_dir() else []:
        parts = tmp.name.rsplit(".", 3)  # .<name>.<host>.<pid>.tmp
        if len(parts) == 4 and parts[1] == host and parts[2].isdigit() and not process_alive(int(parts[2])):
            tmp.unlink(missing_ok=True)
            removed += 1
    return removed


@dataclass
class Provenance:
    key: str
    graded_in: str  # the run that computed the verdict
    cached: bool  # taken from the cache in this run


@dataclass
class VerdictCache:
    """``<results>/cache/<key[:2]>/<key>.json``: one graded exercise each."""

    folder: Path
    run: str  # run_digest(...)
    run_id: str  # this grading run, recorded with the verdicts it computes
    regrade: bool = False  # ignore what is stored (but store the new verdicts)
    provenance: dict[str, Provenance] = field(default_factory=dict)  # exercise -> where its verdict came from

    def path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def lookup(self, exercise: Exercise, answer: str, deps, setup: str) -> ExerciseResult | None:
        key = exercise_key(self.run, exercise, answer, deps, setup)
        self.provenance[exercise.name] = Provenance(key, self.run_id, False)
        if self.regrade:
            return None
        try:
            entry = json.loads(self.path(key).read_text(encoding="utf-8"))
            if entry.get("key") != key:
                return None
            result = exercise_result_from_json(entry["result"])
        except (OSError, ValueError, KeyError, TypeError):
            return None  # absent, or damaged: grade again
        self.provenance[exercise.name] = Provenance(key, str(entry.get("graded_in", "")), True)
        return result

    def store(self, exercise: Exercise, answer: str, deps, setup: str, result: ExerciseResult) -> None:
        key = exercise_key(self.run, exercise, answer, deps, setup)
        entry = {"key": key, "exercise": exercise.name, "graded_in": self.run_id,
                 "graded_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "result": result.to_json()}
        write_json_atomic(self.path(key), entry, indent=None)
        self.provenance[exercise.name] = Provenance(key, self.run_id, False)
