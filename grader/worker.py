"""The student side of grading: a long-lived process (inside the sandbox) that forks
one child per exercise.

The parent imports numpy and torch once, then for each job forks a child that runs
the instructor's setup code, the student's answer cell, and the check calls, and writes
plain outputs to the job folder. A crash, ``os._exit``, timeout or memory bomb ends
only that child; the parent reports what happened and takes the next job.

Protocol: one JSON object per line on stdin (a job), one per line on stdout (its fate).
"""
from __future__ import annotations

import builtins
import json
import os
import resource
import signal
import sys
import time
import traceback
import warnings
from pathlib import Path

import numpy as np
import torch

from . import core, fixtures, wire  # noqa: F401  (imported before forking: children start warm)

SANDBOXED = os.environ.get("GRADER_SANDBOXED") == "1"


def _vm_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _child(job: Path, exercise: str, memory_mb: int, cpu_seconds: int, nproc: int | None) -> None:
    """Runs in the forked child; never returns."""
    try:
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        for fd, name in ((1, "stdout.txt"), (2, "stderr.txt")):
            out = os.open(job / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(out, fd)
        os.closerange(3, 1024)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a huge print fails with an error, not a kill
        resource.setrlimit(resource.RLIMIT_FSIZE, (32 * 2**20, 32 * 2**20))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
        limit = _vm_bytes() + memory_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        if nproc:  # fork bombs, when no pids cgroup holds the sandbox (non-root)
            hard = resource.getrlimit(resource.RLIMIT_NPROC)[1]
            cap = nproc if hard == resource.RLIM_INFINITY else min(nproc, hard)
            resource.setrlimit(resource.RLIMIT_NPROC, (cap, cap))
        torch.set_num_threads(1)
        sys.stdout = open(1, "w", buffering=1, closefd=False)
        sys.stderr = open(2, "w", buffering=1, closefd=False)
        spec = wire.load(job / "job", trusted=True)
        result = _run(exercise, spec)
    except BaseException as exc:  # noqa: BLE001  (anything at all: report it, never hang)
        result = {"fatal": f"{type(exc).__name__}: {exc}"[:500], "calls": [], "notes": []}
    try:
        wire.save(job / "result", result)
    finally:
        os._exit(0)


def _run(exercise: str, spec: dict) -> dict:
    notes: list[str] = []
    namespace = {"__name__": "__answer__", "__builtins__": builtins}
    result = {"calls": [], "notes": notes}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            exec(compile(spec["setup"], "<setup cell>", "exec"), namespace)
        except BaseException as exc:  # noqa: BLE001
            result["fatal"] = f"the notebook's setup cell failed: {type(exc).__name__}: {exc}"[:500]
            return result
        for dep_name, dep_source in spec.get("deps", []):
            try:  # earlier answers this one calls; their failure is theirs, not this exercise's
                exec(compile(dep_source, f"<answer cell {dep_name}>", "exec"), namespace)
            except BaseException:  # noqa: BLE001
                pass
        try:
            exec(compile(spec["answer"], f"<answer cell {exercise}>", "exec"), namespace)
        except BaseException as exc:  # noqa: BLE001
            result["definition_error"] = _error(exc)
            return result
        answer = namespace.get(exercise)
        if answer is None:
            result["definition_error"] = {"type": "NameError", "message": f"the answer cell does not define {exercise!r}", "trace": ""}
            return result
        for call in spec["calls"]:
            try:
                result["calls"].append({"ok": True, "value": core.run_call(answer, call)})
            except BaseException as exc:  # noqa: BLE001  (SystemExit, KeyboardInterrupt too)
                result["calls"].append({"ok": False, **_error(exc)})
    for w in caught:
        note = f"{w.category.__name__}: {w.message}"[:300]
        if note not in notes:
            notes.append(note)
    return result


def _error(exc: BaseException) -> dict:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith("<answer")]
    return {"type": type(exc).__name__, "message": str(exc)[:500], "trace": "".join(traceback.format_list(frames[-3:]))}


def _kill_strays() -> None:
    """Inside the sandbox's PID namespace: kill everything but init and this process."""
    if not SANDBOXED:
        return
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) not in (1, me):
            try:
                os.kill(int(entry), signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
    while True:  # reap
        try:
            if os.waitpid(-1, os.WNOHANG) == (0, 0):
                break
        except ChildProcessError:
            break


def _serve_one(request: dict) -> dict:
    job = Path(request["job"])
    time_limit = float(request["time_limit"])
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        _child(job, request["exercise"], int(request["memory_mb"]), int(time_limit) + 1, request.get("nproc"))
    status, code = "finished", None
    while True:
        done, wait_status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() - started > time_limit:
            for kill in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
                try:
                    kill()
                except (ProcessLookupError, PermissionError):
                    pass
            os.waitpid(pid, 0)
            status, wait_status = "timeout", None
            break
        time.sleep(0.002)
    if wait_status is not None:
        if os.WIFSIGNALED(wait_status):
            status, code = "crashed", -os.WTERMSIG(wait_status)
        else:
            code = os.WEXITSTATUS(wait_status)
    _kill_strays()
    return {"status": status, "code": code, "elapsed": time.monotonic() - started}


def _warm_up() -> None:
    """Pay torch's one-off lazy work (its first optimizer step alone takes ~2 s) once, here,
    instead of in every forked child. One thread: no OpenMP pool exists when we fork."""
    torch.set_num_threads(1)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Dropout(0.1), torch.nn.LayerNorm(4))
    for optimizer in (torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9), torch.optim.Adam(model.parameters())):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(torch.ones(2, 3)), torch.tensor([0, 1])).backward()
        optimizer.step()
    # What the notebooks' setup cells import: pay for it once, not in every child (~0.4 s each).
    os.environ.setdefault("MPLBACKEND", "Agg")
    import matplotlib.pyplot  # noqa: F401
    import course.data  # noqa: F401
    with torch.no_grad():
        q = torch.ones(1, 2, 3, 4)
        torch.nn.functional.scaled_dot_product_attention(q, q, q)
        torch.nn.MultiheadAttention(4, 2, batch_first=True)(q[0], q[0], q[0])


def main() -> None:
    _warm_up()
    # stdout carries the protocol only: keep a private handle, send everything else to stderr.
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    mps = getattr(torch.backends, "mps", None)
    hardware = {"cuda": torch.cuda.is_available(), "mps": bool(mps is not None and mps.is_available())}
    # Said before any student code runs: the trusted side believes these, not what a child reports.
    protocol.write(json.dumps({"ready": True, "torch": torch.__version__, "numpy": np.__version__, **hardware}) + "\n")
    for line in sys.stdin:
        request = json.loads(line)
        protocol.write(json.dumps(_serve_one(request)) + "\n")


if __name__ == "__main__":
    main()
