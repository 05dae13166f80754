"""The instructor's grading configuration: the secret behind hidden inputs, and limits.

Looked up in this order: ``--config FILE``, ``$GRADER_CONFIG``, ``./grader.toml``.
``GRADER_SECRET`` in the environment overrides the file's secret. Create one with
``python -m grader init`` (a random secret; keep the file out of students' hands and
out of version control: the same secret gives the same hidden inputs at every regrade).
"""
from __future__ import annotations

import os
import secrets
import tomllib
from dataclasses import dataclass
from pathlib import Path

DEFAULT_FILE = "grader.toml"

# How an exercise's checks become points, on every route (check(), grade and every export, nbgrader's
# test cells and gradebook): "all-or-nothing" gives the exercise's points only when every check, public
# and hidden, passes (what notebook 00 teaches); "per-check" gives each passed check its own points.
SCORING = ("all-or-nothing", "per-check")
DEFAULT_SCORING = "all-or-nothing"


@dataclass
class Config:
    secret: str | None = None
    time_limit: float = 20.0  # seconds of CPU time per exercise (the wall clock allows twice that, plus 5 s)
    memory_mb: int = 2048  # address space a student's exercise may add
    isolate: bool = True  # run student code in the bubblewrap sandbox
    solutions: str | None = None  # the hidden reference's folder, when not next to grader/ (GRADER_SOLUTIONS wins)
    scoring: str = DEFAULT_SCORING  # one of SCORING (GRADER_SCORING wins)
    source: str = "defaults"


class ConfigError(Exception):
    pass


def load(path: str | os.PathLike | None = None) -> Config:
    candidate = path or os.environ.get("GRADER_CONFIG") or (DEFAULT_FILE if Path(DEFAULT_FILE).is_file() else None)
    config = Config()
    if candidate:
        file = Path(candidate)
        try:
            data = tomllib.loads(file.read_text())
        except FileNotFoundError:
            raise ConfigError(f"grader config {file} does not exist; create one with `python -m grader init`") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"grader config {file} is not valid TOML: {exc}") from None
        section = data.get("grader", data)
        unknown = set(section) - {"secret", "time_limit", "memory_mb", "isolate", "solutions", "scoring"}
        if unknown:
            raise ConfigError(f"grader config {file}: unknown keys {sorted(unknown)}")
        config = Config(
            secret=section.get("secret"),
            time_limit=float(section.get("time_limit", config.time_limit)),
            memory_mb=int(section.get("memory_mb", config.memory_mb)),
            isolate=bool(section.get("isolate", config.isolate)),
            solutions=str((file.parent / section["solutions"]).resolve()) if section.get("solutions") else None,
            scoring=str(section.get("scoring", config.scoring)),
            source=str(file),
        )
        if config.scoring not in SCORING:
            raise ConfigError(f"grader config {file}: scoring = {config.scoring!r}; choose one of {', '.join(SCORING)}")
    if os.environ.get("GRADER_SCORING"):
        if os.environ["GRADER_SCORING"] not in SCORING:
            raise ConfigError(f"GRADER_SCORING={os.environ['GRADER_SCORING']!r}; choose one of {', '.join(SCORING)}")
        config.scoring = os.environ["GRADER_SCORING"]
    if os.environ.get("GRADER_SECRET"):
        config.secret = os.environ["GRADER_SECRET"]
    if config.solutions and not os.environ.get("GRADER_SOLUTIONS"):
        os.environ["GRADER_SOLUTIONS"] = config.solutions  # what grader.reference reads, here and in child processes
    return config


def write_new(path: str | os.PathLike = DEFAULT_FILE) -> Path:
    """Write a config with a fresh random secret; refuses to overwrite (that would change every hidden input)."""
    file = Path(path)
    if file.exists():
        raise ConfigError(f"{file} exists already; delete it first if you really want a new secret "
                          "(hidden inputs, and so regrades, would change)")
    fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # the secret: the instructor's alone
    with os.fdopen(fd, "w") as out:
        out.write(
        "[grader]\n"
        "# Secret seed of the hidden checks' inputs. Keep it private; keep it fixed for reproducible regrades.\n"
        f'secret = "{secrets.token_hex(16)}"\n'
        "time_limit = 20.0   # seconds of CPU time per exercise (the wall clock allows twice that, plus 5 s)\n"
        "memory_mb = 2048    # memory a student's exercise may use\n"
        "isolate = true      # run student code in the bubblewrap sandbox\n"
        "# How checks become points, on every route (check(), grade, exports, nbgrader):\n"
        "# \"all-or-nothing\" (an exercise's points only when all its checks pass) or \"per-check\".\n"
        f'scoring = "{DEFAULT_SCORING}"\n'
        "# solutions = \"solutions\"   # the hidden reference, when it is not next to grader/ (relative to this file)\n"
        )
    return file


def readable_by_others(folder: Path) -> list[Path]:
    """Which of ``folder`` (the course), its solutions/ and its grader.toml other users of this machine
    may read: on a shared machine (a JupyterHub) students are other users.
    A path counts only where others can also reach it: every folder above it must let them through
    (o+x), so a private course folder (0700, as the hub set-up makes it) hides its solutions/ too."""
    import stat

    def reachable(path: Path) -> bool:
        try:
            return all(parent.stat().st_mode & stat.S_IXOTH for parent in path.resolve().parents)
        except OSError:
            return False

    found = []
    for path in (folder, folder / "solutions", folder / DEFAULT_FILE):
        try:
            mode = path.stat().st_mode
        except OSError:
            continue
        if mode & (stat.S_IROTH | stat.S_IXOTH if path.is_dir() else stat.S_IROTH) and reachable(path):
            found.append(path)
    return found
