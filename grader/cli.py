"""``python -m grader``: the students' local check and the instructors' batch grading."""
from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from . import config as config_module
from .grade import grade_submission, result_name, write_json
from .report import text_report
from .sandbox import Sandbox, bwrap_path


def _table(result) -> str:
    lines = [f"== {result.submission} ({', '.join(result.notebooks) or '?'}): {result.earned:g}/{result.points:g} points"]
    if result.error:
        lines.append(f"   {result.error}")
    for ex in result.exercises:
        failed = [c for c in ex.checks if not c.passed]
        why = ex.message or (failed[0].diagnosis or failed[0].message if failed else "")
        lines.append(f"   {ex.exercise:<32} {ex.earned:>5g}/{ex.points:<5g} {ex.status:<14} {why[:110]}")
    return "\n".join(lines)


def cmd_grade(args) -> int:
    try:
        config = config_module.load(args.config)
    except config_module.ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not config.secret:
        print("error: no secret for the hidden checks. Run `python -m grader init` (writes grader.toml with a "
              "random secret) or set GRADER_SECRET.", file=sys.stderr)
        return 2
    if args.time_limit:
        config.time_limit = args.time_limit
    isolate = config.isolate and not args.no_isolation  # Sandbox warns loudly when it cannot isolate
    out_dir = Path(args.out)
    rows = []
    missing = [p for p in args.submissions if not Path(p).exists()]
    for path in missing:
        print(f"error: {path} does not exist", file=sys.stderr)
    with Sandbox(isolate=isolate, memory_mb=config.memory_mb) as sandbox:
        for path in [Path(p) for p in args.submissions if Path(p).exists()]:
            result = grade_submission(path, config, sandbox, include_hidden=True)
            write_json(result, out_dir)
            print(_table(result), flush=True)
            for ex in result.exercises:
                for c in ex.checks:
                    rows.append([result_name(path), ex.exercise, c.name, "hidden" if c.hidden else "public",
                                 c.status, c.earned, c.points])
    with open(out_dir / "checks.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["submission", "exercise", "check", "visibility", "status", "earned", "points"])
        writer.writerows(rows)
    print(f"results: {out_dir}/ (one JSON per submission, checks.csv)")
    return 1 if missing else 0


def cmd_check(args) -> int:
    """A student's local run of the public checks of a whole notebook (isolated when possible)."""
    config = config_module.Config()
    status = 0
    with Sandbox(isolate=bwrap_path() is not None and not args.no_isolation) as sandbox:
        for path in args.notebooks:
            if not Path(path).exists():
                print(f"error: {path} does not exist", file=sys.stderr)
                status = 1
                continue
            result = grade_submission(Path(path), config, sandbox, include_hidden=False)
            if result.error:
                print(result.error)
                status = 1
            for ex in result.exercises:
                from .exercises import get

                print(text_report(ex, len(get(ex.exercise).hidden_checks)))
                status = status or int(any(not c.passed for c in ex.checks))
    return status


def cmd_init(args) -> int:
    try:
        path = config_module.write_new(args.config)
    except config_module.ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path} with a new random secret; keep it private and out of version control")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("check", help="run the public checks of your notebook(s), as check(...) does in the notebook")
    p.add_argument("notebooks", nargs="+")
    p.add_argument("--no-isolation", action="store_true", help="run in a plain subprocess (no bubblewrap)")
    p.set_defaults(func=cmd_check)
    p = sub.add_parser("grade", help="instructors: public + hidden checks, isolated, JSON and CSV results")
    p.add_argument("submissions", nargs="+", help="student notebooks (.ipynb) or answer files (.py)")
    p.add_argument("--config", help="grader config (default: $GRADER_CONFIG or ./grader.toml)")
    p.add_argument("--out", default="grades", help="folder for the results (default: grades/)")
    p.add_argument("--time-limit", type=float, help="seconds per exercise (default from the config: 20)")
    p.add_argument("--no-isolation", action="store_true", help="run without bubblewrap (NOT safe for real submissions)")
    p.set_defaults(func=cmd_grade)
    p = sub.add_parser("init", help="write a grader config with a fresh random secret")
    p.add_argument("--config", default=config_module.DEFAULT_FILE)
    p.set_defaults(func=cmd_init)
    args = parser.parse_args(argv)
    return args.func(args)
