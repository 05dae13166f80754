"""``python -m grader``: the students' local check and the instructors' batch grading."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import config as config_module
from .grade import grade_submission
from .report import text_report
from .isolation.sandbox import Sandbox, bwrap_path


def table(result) -> str:
    lines = [f"== {result.submission} ({', '.join(result.notebooks) or '?'}): {result.earned:g}/{result.points:g} points"]
    if result.error:
        lines.append(f"   {result.error}")
    for ex in result.exercises:
        failed = [c for c in ex.checks if not c.passed]
        why = ex.message or (failed[0].diagnosis or failed[0].message if failed else "")
        lines.append(f"   {ex.exercise:<32} {ex.earned:>5g}/{ex.points:<5g} {ex.status:<14} {why[:110]}")
    return "\n".join(lines)


def _load_config(path) -> config_module.Config | None:
    try:
        config = config_module.load(path)
    except config_module.ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None
    if not config.secret:
        print("error: no secret for the hidden checks. Run `python -m grader init` (writes grader.toml with a "
              "random secret) or set GRADER_SECRET.", file=sys.stderr)
        return None
    return config


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def cmd_grade(args) -> int:
    from . import batch, export

    config = _load_config(args.config)
    if config is None:
        return 2
    if args.time_limit:
        config.time_limit = args.time_limit
    from . import reference

    try:
        reference.require()  # grading always runs the hidden checks: never without their reference
    except reference.ReferenceUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from .extract import SetupUnavailable, require_setups

    try:
        require_setups()  # answers run after the notebook's own setup cell: never after a guessed one
    except SetupUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        shard = batch.parse_shard(args.shard) if args.shard else (1, 1)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.require_isolation:
        from .isolation.sandbox import isolation_problem

        problem = None if config.isolate and not args.no_isolation else "isolation is turned off (isolate, --no-isolation)"
        problem = problem or isolation_problem()
        if problem:
            print(f"error: --require-isolation: {problem}. Nothing was graded.", file=sys.stderr)
            return 2
    submissions, problems = batch.discover(args.submissions)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    mine = [s for s in submissions if batch.shard_of(s.id, shard[1]) == shard[0]]
    out = Path(args.out)
    options = batch.Options(out=out, jobs=max(1, args.jobs or _cores()), config=config,
                            isolate=config.isolate and not args.no_isolation,  # Sandbox warns loudly when it cannot
                            regrade=args.regrade, shard=shard, progress=args.progress, verbose=args.verbose)
    where = f" (shard {shard[0]}/{shard[1]}: {len(mine)} of {len(submissions)})" if shard[1] > 1 else ""
    print(f"grading {len(mine)} submission(s){where} with -j {options.jobs} into {out}/", flush=True)
    try:
        summary = batch.run(mine, options)
    except KeyboardInterrupt:
        print(f"\ninterrupted: what was graded is kept in {out}/; run the same command again to finish", file=sys.stderr)
        return 130
    results = [r for r in batch.load_results(out) if r["id"] in {s.id for s in mine}]
    export.export(results, out, formats=("csv-long",))
    print(f"{summary.total} submission(s) in {summary.seconds:.1f} s: {summary.graded} graded, {summary.from_cache} "
          f"from the cache alone, {summary.up_to_date} up to date, {len(summary.failed)} failed; exercises: "
          f"{summary.exercises_judged} judged now, {summary.exercises_cached} from the cache")
    for failure in summary.failed:
        print(f"FAILED {failure}", file=sys.stderr)
    print(f"results: {out}/ (one JSON per submission, checks.csv); grades, feedback and Gradescope files: "
          f"python -m grader export --out {out}")
    return 1 if problems or summary.failed else 0


def cmd_export(args) -> int:
    from . import batch, export

    out = Path(args.out)
    results = batch.load_results(out)
    if not results:
        print(f"error: no grading results in {out}/ (run `python -m grader grade ... --out {out}` first)", file=sys.stderr)
        return 1
    formats = tuple(args.format.split(",")) if args.format else export.FORMATS
    unknown = set(formats) - set(export.FORMATS)
    if unknown:
        print(f"error: unknown format(s) {sorted(unknown)}; choose from {', '.join(export.FORMATS)}", file=sys.stderr)
        return 2
    to = Path(args.to) if args.to else out
    written = export.export(results, to, formats)
    print(f"{len(results)} result(s) -> {len(written)} file(s) in {to}/ ({', '.join(formats)})")
    status = 0
    if args.gradebook:
        url = args.gradebook if "://" in args.gradebook else f"sqlite:///{Path(args.gradebook).resolve()}"
        count, problems = export.to_gradebook(results, url)
        for problem in problems:
            print(f"warning: {problem}", file=sys.stderr)
        print(f"{count} grade(s) written into the nbgrader gradebook {args.gradebook}")
        status = 1 if problems else 0
    return status


def cmd_merge(args) -> int:
    from . import batch, export

    out = Path(args.out)
    try:
        results = batch.merge([Path(p) for p in args.shards], out)
    except batch.MergeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    export.export(results, out, formats=("csv-long",))
    print(f"merged {len(args.shards)} folder(s): {len(results)} result(s) in {out}/; "
          f"next: python -m grader export --out {out}")
    return 0


def cmd_bundle(args) -> int:
    from . import bundle

    if args.workflow:
        Path(args.workflow).parent.mkdir(parents=True, exist_ok=True)
        Path(args.workflow).write_text(bundle.classroom_workflow())
        print(f"wrote {args.workflow}: one GitHub Classroom autograding step per exercise")
        return 0
    try:
        path = bundle.build(Path(args.out), force=args.force)
    except bundle.BundleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"student bundle: {path} (notebooks, the grader's public checks, course/, set-up files; "
          "no solutions/, bug zoo or secret)")
    return 0


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
    print(f"wrote {path} with a new random secret (readable by you alone); keep it out of version control")
    for exposed in config_module.readable_by_others(Path(path).resolve().parent):
        print(f"warning: other users of this machine can read {exposed}: on a shared machine (a JupyterHub) "
              f"students are other users; `chmod go-rwx {exposed}`", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("check", help="run the public checks of your notebook(s), as check(...) does in the notebook")
    p.add_argument("notebooks", nargs="+")
    p.add_argument("--no-isolation", action="store_true", help="run in a plain subprocess (no bubblewrap)")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("grade", help="instructors: grade a class (public + hidden checks, isolated, parallel, resumable)")
    p.add_argument("submissions", nargs="+",
                   help="a folder of student folders, nbgrader's submitted/ (or its course folder), or files (.ipynb, .py)")
    p.add_argument("--config", help="grader config (default: $GRADER_CONFIG or ./grader.toml)")
    p.add_argument("--out", default="grades", help="folder for the results (default: grades/)")
    p.add_argument("-j", "--jobs", type=int, help="submissions graded at once, one sandbox each (default: the cores)")
    p.add_argument("--shard", metavar="I/N", help="grade only shard I of N (1 <= I <= N), e.g. one job of a Slurm array")
    p.add_argument("--regrade", action="store_true", help="grade everything again, ignoring earlier results and the cache")
    p.add_argument("--progress", choices=("auto", "bar", "lines", "quiet"), default="auto",
                   help="a progress bar on a terminal, one line per submission otherwise (default: auto)")
    p.add_argument("-v", "--verbose", action="store_true", help="print each submission's table of exercises")
    p.add_argument("--time-limit", type=float, help="seconds of CPU time per exercise (default from the config: 20)")
    p.add_argument("--no-isolation", action="store_true", help="run without bubblewrap (NOT safe for real submissions)")
    p.add_argument("--require-isolation", action="store_true",
                   help="refuse to grade unless the bubblewrap sandbox works here (clusters: a node without it fails at once)")
    p.set_defaults(func=cmd_grade)

    p = sub.add_parser("export", help="grades (wide and long CSV, JSON Lines), Gradescope results, feedback, nbgrader")
    p.add_argument("--out", default="grades", help="the results folder (default: grades/)")
    p.add_argument("--to", help="where to write (default: the results folder)")
    p.add_argument("--format", help="comma-separated, from: csv-wide,csv-long,jsonl,gradescope,feedback (default: all)")
    p.add_argument("--gradebook", help="also write the scores into this nbgrader gradebook (e.g. nbgrader/gradebook.db)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("merge", help="join the results folders of the shards of one class (grade --shard i/n)")
    p.add_argument("shards", nargs="+", help="the shards' results folders")
    p.add_argument("--out", default="grades", help="the merged results folder (default: grades/)")
    p.set_defaults(func=cmd_merge)

    p = sub.add_parser("bundle", help="what students get: notebooks, public checks, course/, set-up; no solutions")
    p.add_argument("--out", default="dist/student", help="the bundle's folder (default: dist/student/)")
    p.add_argument("--force", action="store_true", help="replace an existing bundle folder")
    p.add_argument("--workflow", metavar="PATH", help="only (re)write the GitHub Classroom workflow to PATH "
                   "(.github/workflows/classroom.yml), e.g. after adding an exercise")
    p.set_defaults(func=cmd_bundle)

    p = sub.add_parser("init", help="write a grader config with a fresh random secret")
    p.add_argument("--config", default=config_module.DEFAULT_FILE)
    p.set_defaults(func=cmd_init)
    args = parser.parse_args(argv)
    return args.func(args)
