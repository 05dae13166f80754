"""Grading a whole class: in parallel, resumable, and split over machines.

``python -m grader grade SUBMISSIONS`` finds the submissions (:func:`discover`), keeps those of
its shard (``--shard i/n``: :func:`shard_of`), and hands them to ``-j`` job slots. A slot is a
process of its own (the trusted side's judging is Python, so threads would share one core) that
owns one :class:`~grader.isolation.sandbox.Sandbox`, started at its first job and reused for every
submission it grades, one job at a time.

Nothing is lost and nothing is done twice:

- every graded exercise goes into the verdict cache (:mod:`grader.cache`) the moment it is
  judged, and every submission's result into ``<out>/<id>.json`` once all its exercises are
  judged; both are written atomically (a temporary file, fsync, rename);
- a result carries the fingerprint of what it was graded from (the file, the checks, the
  secret, the limits): a rerun skips a submission whose result has the same fingerprint, and
  takes the exercises that a killed run had finished from the cache;
- the slots die with the parent (``PR_SET_PDEATHSIG``), and the sandbox with its slot (its worker,
  PID 1 of the sandbox, sees its requests' pipe close and exits, which ends every process of the
  sandbox), so a killed run leaves no grader and no answer behind, at once; a slot that dies under
  a submission gets it graded by a fresh slot, once.

Each run writes a manifest, ``<out>/shard-<i>-of-<n>.json`` (``shard-1-of-1.json`` unsharded),
listing its submissions and whether it finished; :func:`merge` joins the shards' folders into
one (``merge.json`` says which shards) and refuses an incomplete or overlapping set.
"""
from __future__ import annotations

import contextlib
import fcntl
import dataclasses
import json
import os
import secrets
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

from .cache import remove_stale_temporaries, sha256, write_json_atomic
from .config import Config

RESULT_SCHEMA = "transformer-course/result-1"
SUFFIXES = (".ipynb", ".py")
ROOT = Path(__file__).resolve().parent.parent
SLOT_BOOT = "import sys; sys.path.insert(0, {root!r}); from grader.batch import slot_main; slot_main()"
RETRIES = 1  # a submission whose slot died is graded once more, by a fresh slot


@dataclass(frozen=True)
class Submission:
    id: str  # unique in the class: names the result file, <out>/<id>.json
    student: str
    assignment: str
    path: str


# ------------------------------------------------------------------------------ discovery


def _visible(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if not p.name.startswith(".") and p.name != "__pycache__")


def _from_file(path: Path) -> Submission:
    """A file named on the command line: ``<student>/<notebook>`` or nbgrader's
    ``<student>/<assignment>/<assignment>.ipynb``, else the file on its own."""
    path = path.resolve()
    if path.parent.name == path.stem and path.parent.parent != path.parent:  # nbgrader's assignment folder
        student = path.parent.parent.name
        return Submission(f"{student}__{path.stem}", student, path.stem, str(path))
    if path.parent == Path.cwd().resolve():
        return Submission(path.stem, path.stem, path.stem, str(path))
    return Submission(f"{path.parent.name}__{path.stem}", path.parent.name, path.stem, str(path))


def _course_notebooks() -> set[str]:
    """The names of the course's graded notebooks (``03_softmax``, ...)."""
    from . import exercises  # late: discovery of a class folder never needs the checks
    return {exercise.notebook for exercise in exercises.EXERCISES.values()}


class LayoutError(ValueError):
    """A folder that is neither a class (one entry per student) nor one student's work."""


def _answer_entries(folder: Path) -> list[Path]:
    return [e for e in _visible(folder) if e.is_dir() or (e.is_file() and e.suffix in SUFFIXES)]


def _one_students_folder(root: Path) -> bool:
    """Is ``root`` one student's folder (``alice/03_softmax.ipynb``, or nbgrader's
    ``alice/03_softmax/03_softmax.ipynb``) rather than a class? Yes when every entry is named after
    a course notebook; a mix of both is refused with the two layouts the grader reads."""
    entries = _answer_entries(root)
    course = _course_notebooks()
    named = [e for e in entries if (e.name if e.is_dir() else e.stem) in course]
    if not named:
        return False
    if len(named) < len(entries):
        others = [e.name for e in entries if e not in named]
        raise LayoutError(
            f"{root} mixes work named after the course's notebooks ({', '.join(e.name for e in named[:3])}) with "
            f"other entries ({', '.join(others[:3])}): give a class folder (one file or folder per student: "
            f"class/alice/03_softmax.ipynb) or one student's folder (class/alice, holding only their notebooks)")
    return True


def _from_folder(root: Path) -> list[Submission]:
    """Loose files (``<name>.ipynb``: student ``name``), student folders (``<student>/<nb>.ipynb``)
    and nbgrader's ``<student>/<assignment>/<notebook>.ipynb`` (a course root: its ``submitted/``).
    A folder whose entries are all named after course notebooks is one student's work: ``grade
    class/alice`` grades alice (the same ids as when the whole class is graded)."""
    if (root / "submitted").is_dir():
        root = root / "submitted"
    if _one_students_folder(root):
        return _student_work(root.resolve().name, root)
    found = []
    for entry in _visible(root):
        if entry.is_file() and entry.suffix in SUFFIXES:
            found.append(Submission(entry.stem, entry.stem, entry.stem, str(entry.resolve())))
        elif entry.is_dir():
            found += _student_work(entry.name, entry)
    return found


def _student_work(student: str, folder: Path) -> list[Submission]:
    """One student's files (``<nb>.ipynb``, ``<nb>.py``) and nbgrader assignment folders."""
    found = []
    for item in _visible(folder):
        if item.is_file() and item.suffix in SUFFIXES:
            found.append(Submission(f"{student}__{item.stem}", student, item.stem, str(item.resolve())))
        elif item.is_dir():  # an nbgrader assignment folder: its notebooks (helper .py files are not answers)
            for notebook in [p for p in _visible(item) if p.is_file() and p.suffix == ".ipynb"]:
                name = f"{student}__{item.name}" + ("" if notebook.stem == item.name else f"__{notebook.stem}")
                found.append(Submission(name, student, item.name, str(notebook.resolve())))
    return found


def discover(arguments: list[str]) -> tuple[list[Submission], list[str]]:
    """The submissions named by files and folders; and what is wrong (missing paths, two
    submissions that would write the same result)."""
    submissions: list[Submission] = []
    problems: list[str] = []
    for argument in arguments:
        path = Path(argument)
        if not path.exists():
            problems.append(f"{argument} does not exist")
        elif path.is_dir():
            try:
                found = _from_folder(path)
            except LayoutError as err:
                problems.append(str(err))
                continue
            if not found:
                problems.append(f"{argument} holds no submission (.ipynb or .py files, or folders of them)")
            submissions += found
        else:
            submissions.append(_from_file(path))
    seen: dict[str, Submission] = {}
    unique = []
    for sub in submissions:
        if sub.id in seen and seen[sub.id].path != sub.path:
            problems.append(f"{sub.path} and {seen[sub.id].path} would both be {sub.id}: rename one")
        elif sub.id not in seen:
            seen[sub.id] = sub
            unique.append(sub)
    return unique, problems


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/4"`` -> (2, 4): shard 2 of 4 (shards count from 1)."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard wants i/n, e.g. 2/4 (shard 2 of 4), not {text!r}") from None
    if not 1 <= index <= count:
        raise ValueError(f"--shard {text}: i must be between 1 and n")
    return index, count


def shard_of(submission_id: str, count: int) -> int:
    """The shard (1..count) of a submission: from its id alone, so every machine agrees without
    talking to the others, whatever order it lists the folder in."""
    return int(sha256(submission_id)[:15], 16) % count + 1


# ------------------------------------------------------------------------------ the run


@dataclass
class Options:
    out: Path
    jobs: int
    config: Config
    isolate: bool = True
    regrade: bool = False
    shard: tuple[int, int] = (1, 1)
    progress: str = "auto"  # auto | bar | lines | quiet
    verbose: bool = False


@dataclass
class Summary:
    total: int = 0
    graded: int = 0  # submissions: at least one exercise judged in this run
    from_cache: int = 0  # submissions assembled from verdicts already in the cache alone
    up_to_date: int = 0  # submissions whose result was already there, for the same fingerprint
    exercises_judged: int = 0  # exercises judged in this run (the per-line "graded N")
    exercises_cached: int = 0  # exercises taken from the cache (the per-line "cached N")
    failed: list[str] = field(default_factory=list)
    seconds: float = 0.0
    lines: list[str] = field(default_factory=list)


def manifest_path(out: Path, shard: tuple[int, int]) -> Path:
    return out / f"shard-{shard[0]}-of-{shard[1]}.json"


def result_path(out: Path, submission_id: str) -> Path:
    return out / f"{submission_id}.json"


def run(submissions: list[Submission], options: Options) -> Summary:
    """Grade ``submissions`` into ``options.out`` with ``options.jobs`` slots."""
    out = options.out
    out.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(out)
    run_id = f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{secrets.token_hex(3)}"
    manifest = {"shard": options.shard[0], "of": options.shard[1], "run_id": run_id, "complete": False,
                "submissions": sorted(s.id for s in submissions)}
    write_json_atomic(manifest_path(out, options.shard), manifest)
    summary = Summary(total=len(submissions))
    started = time.monotonic()
    progress = Progress(len(submissions), options.progress, options.jobs)
    scheduler = Scheduler(submissions, options, run_id, summary, progress)
    try:
        scheduler.run()
    except BaseException:  # Ctrl-C or a crash: stop at once, the next run resumes
        scheduler.stop(kill=True)
        raise
    finally:
        scheduler.stop()
        progress.close()
        SlotTurns.remove(run_id)
    summary.seconds = time.monotonic() - started
    manifest["complete"] = not summary.failed
    write_json_atomic(manifest_path(out, options.shard), manifest)
    return summary


class Scheduler:
    """Hands submissions to slots one at a time (a free slot takes the next), watches them die."""

    def __init__(self, submissions, options: Options, run_id: str, summary: Summary, progress: "Progress"):
        self.pending = list(submissions)
        self.options, self.run_id, self.summary, self.progress = options, run_id, summary, progress
        self.selector = selectors.DefaultSelector()
        self.slots: dict[int, Slot] = {}
        self.attempts: dict[str, int] = {}
        self.next_slot = 0
        self.unready = 0  # slots that died before saying ready: the grader itself cannot start

    def run(self) -> None:
        for _ in range(min(self.options.jobs, len(self.pending))):
            self._start_slot()
        while self.pending or any(slot.task for slot in self.slots.values()):
            for key, _ in self.selector.select(timeout=1.0):
                self._read(key.data)
            for slot in [s for s in self.slots.values() if s.process.poll() is not None]:
                self._lost(slot)

    def _start_slot(self) -> None:
        slot = Slot.start(self.next_slot, self.options, self.run_id)
        self.next_slot += 1
        self.slots[slot.number] = slot
        self.selector.register(slot.process.stdout, selectors.EVENT_READ, slot)

    def _read(self, slot: "Slot") -> None:
        line = slot.process.stdout.readline()
        if not line:  # the slot is gone; _lost() takes care of its task
            self.selector.unregister(slot.process.stdout)
            slot.process.wait()
            self._lost(slot)
            return
        try:
            event = json.loads(line)
        except ValueError:
            return
        if "done" in event or "failed" in event:
            task, slot.task = slot.task, None
            if "failed" in event:
                self.summary.failed.append(f"{event['failed']}: {event.get('error', '')}")
                self.progress.failed(event["failed"], event.get("error", ""))
            else:
                self._record(event)
        if "ready" in event:
            slot.ready = True
        if "ready" in event or "done" in event or "failed" in event:
            self._dispatch(slot)

    def _record(self, event: dict) -> None:
        state = event["state"]
        if state == "up to date":
            self.summary.up_to_date += 1
        elif state == "from cache":
            self.summary.from_cache += 1
        else:
            self.summary.graded += 1
        self.summary.exercises_judged += int(event.get("graded") or 0)
        self.summary.exercises_cached += int(event.get("cached") or 0)
        self.progress.done(event)

    def _dispatch(self, slot: "Slot") -> None:
        if self.pending:
            slot.task = self.pending.pop(0)
            slot.send({"task": asdict(slot.task)})
        else:
            slot.send({"stop": True})

    def _lost(self, slot: "Slot") -> None:
        """A slot died (a crash of the trusted side, the OOM killer): its submission is graded
        again by a fresh slot, or after the retry, reported as failed."""
        if slot.number not in self.slots:
            return
        del self.slots[slot.number]
        try:
            self.selector.unregister(slot.process.stdout)
        except (KeyError, ValueError):
            pass
        if not slot.ready:
            self.unready += 1
            if self.unready > self.options.jobs + 2:
                raise RuntimeError("the grading processes die as they start (see the error above): "
                                   "is the environment complete (torch, numpy)?")
        task = slot.task
        if task is not None:
            self.attempts[task.id] = self.attempts.get(task.id, 0) + 1
            if self.attempts[task.id] <= RETRIES:
                self.pending.insert(0, task)
            else:
                why = f"the grading process died twice on it (exit {slot.process.returncode})"
                self.summary.failed.append(f"{task.id}: {why}")
                self.progress.failed(task.id, why)
        if self.pending and len(self.slots) < self.options.jobs:
            self._start_slot()

    def stop(self, kill: bool = False) -> None:
        for slot in list(self.slots.values()):
            slot.stop(kill)
        self.slots.clear()


@dataclass
class Slot:
    number: int
    process: subprocess.Popen
    task: Submission | None = None
    ready: bool = False

    @classmethod
    def start(cls, number: int, options: Options, run_id: str) -> "Slot":
        parent = os.getpid()
        process = subprocess.Popen(
            [sys.executable, "-c", SLOT_BOOT.format(root=str(ROOT))],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
            preexec_fn=lambda: _die_with(parent),
        )
        slot = cls(number, process)
        config = options.config
        slot.send({"config": dataclasses.asdict(config),  # every setting (the scoring policy too), as loaded
                   "out": str(options.out), "isolate": options.isolate, "regrade": options.regrade,
                   "run_id": run_id, "verbose": options.verbose})
        return slot

    def send(self, message: dict) -> None:
        try:
            self.process.stdin.write(json.dumps(message) + "\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # it died; the scheduler notices

    def stop(self, kill: bool = False) -> None:
        if kill:
            self.process.kill()
        self.send({"stop": True})
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _die_with(parent: int) -> None:
    """In a child, before exec: be killed when the parent dies (Linux), whatever killed it."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # it died before prctl
        os._exit(1)


# ------------------------------------------------------------------------------ inside a slot


class SlotTurns:
    """How the job slots of one run share this machine (:class:`grader.grade.Turns`): every job takes a
    shared turn; an answer stopped by the wall clock is run again alone, once, the other slots' jobs
    finished and their next ones waiting. Two flock'd files in the temporary folder (never on a shared
    volume: other machines' load is not ours); the gate keeps slots from starving the one that waits."""

    def __init__(self, run_id: str):
        self.gate = open(self.path(run_id, "gate"), "a+")  # noqa: SIM115 (held for the slot's life)
        self.lock = open(self.path(run_id, "lock"), "a+")  # noqa: SIM115

    @staticmethod
    def path(run_id: str, kind: str) -> Path:
        return Path(tempfile.gettempdir()) / f"grader-turns-{run_id}.{kind}"

    @classmethod
    def remove(cls, run_id: str) -> None:
        for kind in ("gate", "lock"):
            cls.path(run_id, kind).unlink(missing_ok=True)

    @contextlib.contextmanager
    def shared(self):
        fcntl.flock(self.gate, fcntl.LOCK_EX)  # waits while a slot waits to be alone
        fcntl.flock(self.lock, fcntl.LOCK_SH)
        fcntl.flock(self.gate, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(self.lock, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def alone(self):
        fcntl.flock(self.gate, fcntl.LOCK_EX)
        try:
            fcntl.flock(self.lock, fcntl.LOCK_EX)  # once every other slot's job has ended
            try:
                yield
            finally:
                fcntl.flock(self.lock, fcntl.LOCK_UN)
        finally:
            fcntl.flock(self.gate, fcntl.LOCK_UN)


def slot_main() -> None:
    """A job slot: read tasks (JSON lines) on stdin, grade each, answer on stdout."""
    channel = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # nothing else may write on the channel
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle (it kills the slots)
    setup = json.loads(sys.stdin.readline())
    import torch

    torch.set_num_threads(1)  # one core per slot: -j is the number of cores in use
    from .cache import VerdictCache, machine_hardware, run_digest
    from .isolation.sandbox import Sandbox

    config = Config(**setup["config"])
    out = Path(setup["out"])
    sandbox = Sandbox(isolate=setup["isolate"], memory_mb=config.memory_mb)  # starts at its first job
    cache = VerdictCache(out / "cache", run_digest(config, sandbox.isolate, True, machine_hardware()),
                         setup["run_id"], regrade=setup["regrade"])
    turns = SlotTurns(setup["run_id"])
    channel.write(json.dumps({"ready": True}) + "\n")
    try:
        for line in sys.stdin:
            message = json.loads(line)
            if "task" not in message:
                break
            task = Submission(**message["task"])
            try:
                event = grade_one(task, config, sandbox, cache, out, setup["verbose"], turns)
                channel.write(json.dumps({"done": task.id, **event}) + "\n")
            except Exception as exc:  # the grader's own failure: reported, the batch goes on
                error = f"{type(exc).__name__}: {exc}"
                print(traceback.format_exc(), file=sys.stderr)
                channel.write(json.dumps({"failed": task.id, "error": error}) + "\n")
    finally:
        sandbox.close()


def fingerprint(task: Submission, cache, scoring: str) -> str:
    """What a result was graded from: the file's bytes and everything else a verdict depends on,
    and the scoring policy that made its points (a new policy rewrites the result, from the cache)."""
    return sha256(Path(task.path).read_bytes(), cache.run, _checks_digest(), scoring)


@lru_cache(maxsize=None)
def _checks_digest() -> str:
    from . import exercises as registry
    from .cache import exercise_digest
    from .extract import instructor_setup

    notebooks = sorted({ex.notebook for ex in registry.EXERCISES.values()})
    return sha256(*[exercise_digest(name) for name in registry.EXERCISES], *[instructor_setup(nb) for nb in notebooks])


def grade_one(task: Submission, config: Config, sandbox, cache, out: Path, verbose: bool, turns=None) -> dict:
    """Grade one submission (or find it done); write its result; return a summary for the log."""
    from .grade import Turns, grade_submission, is_transient

    target = result_path(out, task.id)
    stamp = fingerprint(task, cache, config.scoring)
    previous = read_result(target)
    if previous is not None and previous.get("fingerprint") == stamp and not cache.regrade:
        return {"state": "up to date", "earned": previous["earned"], "points": previous["points"], "graded": 0,
                "cached": 0, "seconds": 0.0, "error": previous.get("error")}
    cache.provenance.clear()
    result = grade_submission(Path(task.path), config, sandbox, include_hidden=True, cache=cache, turns=turns or Turns)
    data = result.to_json()
    data.update(schema=RESULT_SCHEMA, id=task.id, student=task.student, assignment=task.assignment,
                fingerprint=stamp, run_id=cache.run_id)
    for exercise in data["exercises"]:
        origin = cache.provenance.get(exercise["exercise"])
        exercise.update(key=origin.key if origin else None, graded_in=origin.graded_in if origin else cache.run_id,
                        from_cache=bool(origin and origin.cached))
    if any(is_transient(exercise["message"]) for exercise in data["exercises"]):
        data["fingerprint"] = None  # the machinery failed on an exercise: the next run grades it again
    write_json_atomic(target, data)
    judged = sum(1 for e in data["exercises"] if e["key"] and not e["from_cache"])
    cached = sum(1 for e in data["exercises"] if e["from_cache"])
    event = {"state": "graded" if judged or not cached else "from cache", "earned": data["earned"],
             "points": data["points"], "graded": judged, "cached": cached, "seconds": data["seconds"],
             "error": data["error"], "flagged": [e["exercise"] for e in data["exercises"] if e["status"] == "flagged"]}
    if verbose:
        from .cli import table

        event["table"] = table(result)
    return event


def read_result(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("schema") == RESULT_SCHEMA else None


def load_results(out: Path) -> list[dict]:
    """Every result in a results folder, by id."""
    results = [read_result(p) for p in sorted(out.glob("*.json"))]
    return sorted((r for r in results if r is not None), key=lambda r: r["id"])


# ------------------------------------------------------------------------------ progress


class Progress:
    """A tqdm bar with an ETA on a terminal; one plain line per submission otherwise (logs, CI)."""

    def __init__(self, total: int, mode: str, jobs: int):
        self.total, self.count, self.started = total, 0, time.monotonic()
        interactive = sys.stderr.isatty()
        self.mode = mode if mode != "auto" else ("bar" if interactive else "lines")
        self.bar = None
        if self.mode == "bar":
            try:
                from tqdm import tqdm
            except ImportError:
                self.mode = "lines"
            else:
                self.bar = tqdm(total=total, unit="submission", desc=f"grading (-j {jobs})", dynamic_ncols=True)

    def _say(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(text)
        elif self.mode == "lines":
            print(text, flush=True)

    def done(self, event: dict) -> None:
        self.count += 1
        how = event["state"] if event["state"] != "graded" else f"graded {event['graded']}, cached {event['cached']}"
        line = f"{event['done']}: {event['earned']:g}/{event['points']:g} points ({how})"
        if event.get("flagged"):
            line += f", FLAGGED FOR REVIEW: {', '.join(event['flagged'])}"
        if event.get("error"):
            line += f": {event['error'][:120]}"
        if self.bar is not None:
            self.bar.update(1)
            if event.get("table"):
                self.bar.write(event["table"])
            return
        elapsed = time.monotonic() - self.started
        eta = elapsed / self.count * (self.total - self.count)
        self._say(f"[{self.count}/{self.total} {_clock(elapsed)} elapsed, ETA {_clock(eta)}] {line}")
        if event.get("table"):
            self._say(event["table"])

    def failed(self, submission_id: str, why: str) -> None:
        self.count += 1
        if self.bar is not None:
            self.bar.update(1)
        self._say(f"FAILED {submission_id}: {why}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}"


# ------------------------------------------------------------------------------ merging shards


class MergeError(Exception):
    pass


def merge(sources: list[Path], out: Path) -> list[dict]:
    """Join the results folders of the shards of one class into ``out``; returns the results.

    Every shard 1..n must be there, complete, and no submission may be in two shards (the
    manifests say which submissions each shard had). Results and cache entries are copied
    atomically; a folder may be ``out`` itself (shards that wrote to one shared folder)."""
    manifests: dict[int, tuple[Path, dict]] = {}
    counts = set()
    for source in [s for s in sources if s.is_dir()]:  # shard-* may also match files beside the folders
        found = sorted(source.glob("shard-*-of-*.json"))
        if not found:
            raise MergeError(f"{source} has no shard manifest (shard-<i>-of-<n>.json): is it a results folder "
                             "of `python -m grader grade --shard i/n`?")
        for path in found:
            manifest = json.loads(path.read_text())
            counts.add(manifest["of"])
            if manifest["shard"] in manifests and manifests[manifest["shard"]][0] != source:
                raise MergeError(f"shard {manifest['shard']} appears twice: in {manifests[manifest['shard']][0]} and {source}")
            manifests[manifest["shard"]] = (source, manifest)
    if len(counts) != 1:
        raise MergeError(f"the folders come from different splits (n = {sorted(counts)}): merge the shards of one run")
    count = counts.pop()
    missing = sorted(set(range(1, count + 1)) - set(manifests))
    if missing:
        raise MergeError(f"shards {missing} of {count} are missing: run them (or give their folders) and merge again")
    owner: dict[str, int] = {}
    problems = []
    for index, (source, manifest) in sorted(manifests.items()):
        if not manifest["complete"]:
            problems.append(f"shard {index}/{count} ({source}) did not finish: rerun it, it resumes")
        for submission_id in manifest["submissions"]:
            if submission_id in owner:
                problems.append(f"{submission_id} is in shard {owner[submission_id]} and shard {index}")
            owner[submission_id] = index
            if read_result(result_path(source, submission_id)) is None:
                problems.append(f"{submission_id} (shard {index}) has no result in {source}")
    if problems:
        raise MergeError("; ".join(problems[:20]) + (f" (and {len(problems) - 20} more)" if len(problems) > 20 else ""))
    out.mkdir(parents=True, exist_ok=True)
    for index, (source, manifest) in sorted(manifests.items()):
        if source.resolve() == out.resolve():
            continue
        for submission_id in manifest["submissions"]:
            _copy_atomic(result_path(source, submission_id), result_path(out, submission_id))
        for entry in (source / "cache").rglob("*.json") if (source / "cache").is_dir() else []:
            target = out / "cache" / entry.relative_to(source / "cache")
            if not target.exists():
                _copy_atomic(entry, target)
    write_json_atomic(out / "merge.json", {"shards": count, "sources": [str(manifests[i][0]) for i in sorted(manifests)],
                                           "submissions": sorted(owner)})
    ids = set(owner)
    return [r for r in load_results(out) if r["id"] in ids]


def _copy_atomic(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.{socket.gethostname()}.{os.getpid()}.tmp"
    shutil.copyfile(source, tmp)
    os.replace(tmp, target)
