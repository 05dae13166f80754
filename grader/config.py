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


@dataclass
class Config:
    secret: str | None = None
    time_limit: float = 20.0  # seconds of CPU time per exercise (the wall clock allows twice that, plus 5 s)
    memory_mb: int = 2048  # address space a student's exercise may add
    isolate: bool = True  # run student code in the bubblewrap sandbox
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
        unknown = set(section) - {"secret", "time_limit", "memory_mb", "isolate"}
        if unknown:
            raise ConfigError(f"grader config {file}: unknown keys {sorted(unknown)}")
        config = Config(
            secret=section.get("secret"),
            time_limit=float(section.get("time_limit", config.time_limit)),
            memory_mb=int(section.get("memory_mb", config.memory_mb)),
            isolate=bool(section.get("isolate", config.isolate)),
            source=str(file),
        )
    if os.environ.get("GRADER_SECRET"):
        config.secret = os.environ["GRADER_SECRET"]
    return config


def write_new(path: str | os.PathLike = DEFAULT_FILE) -> Path:
    """Write a config with a fresh random secret; refuses to overwrite (that would change every hidden input)."""
    file = Path(path)
    if file.exists():
        raise ConfigError(f"{file} exists already; delete it first if you really want a new secret "
                          "(hidden inputs, and so regrades, would change)")
    file.write_text(
        "[grader]\n"
        "# Secret seed of the hidden checks' inputs. Keep it private; keep it fixed for reproducible regrades.\n"
        f'secret = "{secrets.token_hex(16)}"\n'
        "time_limit = 20.0   # seconds of CPU time per exercise (the wall clock allows twice that, plus 5 s)\n"
        "memory_mb = 2048    # memory a student's exercise may use\n"
        "isolate = true      # run student code in the bubblewrap sandbox\n"
    )
    return file
