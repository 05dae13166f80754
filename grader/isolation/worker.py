"""The student side of grading: a long-lived process (inside the sandbox) that forks one child per
exercise.

The parent imports numpy and torch once, then for each job forks a child that runs the
instructor's setup code, the student's answer cell and the check calls, and writes plain outputs
to the job folder. A crash, ``os._exit``, timeout or memory bomb ends only that child; the parent
reports what happened, kills whatever the child left behind (its own descendants only) and takes
the next job.

Each child starts in a fresh, private world: its working directory, ``HOME`` and ``TMPDIR`` are an
empty folder on the sandbox's size-limited scratch tmpfs (all of it wiped after the job), it may
write only its own output files in its job folder, nothing it can write is on ``sys.path`` (the
worker runs with ``python -I``), and the rest of the file system is read-only. Before student code
runs it installs its guards (:mod:`grader.isolation.guard`: a seccomp filter, an audit hook), the
course's given modules without the exercise's twins (:mod:`grader.isolation.twins`) and the
tripwire (:mod:`grader.isolation.tripwire`). What they catch is reported through a pipe.

Protocol: one JSON object per line on stdin (a job), one per line on stdout (its fate).
Started as ``python -I -B -c <bootstrap> --jobs DIR [--sandboxed] [--drop-uid UID]``.
"""
from __future__ import annotations

import argparse
import builtins
import ctypes
import errno
import json
import os
import resource
import select
import shutil
import signal
import sys
import tempfile
import time
import traceback
import types
import warnings
from pathlib import Path

from . import guard, twins, wire

PR_SET_NO_NEW_PRIVS, PR_SET_CHILD_SUBREAPER, PR_SET_PDEATHSIG = 38, 36, 1
REPORT_FD = 3  # the child's end of the report pipe (forbidden calls, withheld pieces, the guard)
FILE_LIMIT = 32 * 2**20  # bytes per file the answer's process may write (RLIMIT_FSIZE)


def _prctl(option: int, value: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(option, value, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({option}) failed")


def requests_closed() -> bool:
    """The other end of our requests (stdin: the job slot's pipe) is closed: the slot, and so the
    grader, is gone. As PID 1 of the sandbox's namespace the worker gets no parent-death signal
    (seen: bwrap died, the worker and a looping answer ran on until the answer's CPU limit), so it
    looks for itself while a job runs; when it exits, the kernel ends the namespace's every process."""
    poller = select.poll()
    poller.register(0, select.POLLHUP)
    return any(events & (select.POLLHUP | select.POLLERR | select.POLLNVAL) for _, events in poller.poll(0))


def die_with_parent() -> None:
    """SIGKILL when our parent dies. bwrap's --die-with-parent arms this for the worker, but a change
    of credentials (drop_privileges) clears it, and a fork never inherits it: a grader killed with
    kill -9 must take its workers and the answers they run with it at once, not after their CPU
    limit. Armed again after every such change, in the worker and in each answer's process."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def drop_privileges(uid: int) -> None:
    """Become ``uid`` for good (no groups, no capabilities, no setuid programs): the student's code
    must never run as root, even inside the sandbox's namespaces."""
    _prctl(PR_SET_NO_NEW_PRIVS, 1)
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    if os.getuid() != uid or os.geteuid() != uid:
        raise OSError("could not drop privileges")


def _vm_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _child(job: Path, request: dict, report_fd: int, scratch: Path, worker: int) -> None:
    """Runs in the forked child; never returns."""
    import torch

    from . import wire

    try:
        die_with_parent()  # the worker: in the sandbox, PID 1, whose end ends the namespace anyway
        if os.getppid() != worker:
            os._exit(1)  # it died before that was armed
        os.setsid()
        os.dup2(report_fd, REPORT_FD)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        for fd, name in ((1, "stdout.txt"), (2, "stderr.txt")):
            out = os.open(job / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
            os.dup2(out, fd)
        os.closerange(REPORT_FD + 1, 1024)
        os.chdir(scratch)  # the answer's private world: cwd, HOME, TMPDIR (size-limited in the sandbox)
        os.environ.update(HOME=str(scratch), TMPDIR=str(scratch))
        tempfile.tempdir = None
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a huge print fails with an error, not a kill
        resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_LIMIT, FILE_LIMIT))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        cpu_seconds = int(request["time_limit"]) + 1
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
        limit = _vm_bytes() + int(request["memory_mb"]) * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        nproc = request.get("nproc")
        if nproc:  # fork bombs, when no pids cgroup holds the sandbox
            hard = resource.getrlimit(resource.RLIMIT_NPROC)[1]
            cap = nproc if hard == resource.RLIM_INFINITY else min(nproc, hard)
            resource.setrlimit(resource.RLIMIT_NPROC, (cap, cap))
        torch.set_num_threads(1)
        sys.stdout = open(1, "w", buffering=1, closefd=False)
        sys.stderr = open(2, "w", buffering=1, closefd=False)
        guards = set(request.get("guards", ("seccomp", "audit")))
        if "seccomp" in guards:
            guard.deny_syscalls()
        spec = wire.load(job / "job", trusted=True)
        result = _run(request["exercise"], spec, tuple(request.get("families", ())), job, "audit" in guards)
    except BaseException as exc:  # noqa: BLE001  (anything at all: report it, never hang)
        result = {"fatal": f"{type(exc).__name__}: {exc}"[:500], "calls": [], "notes": []}
    try:
        wire.save(job / "result", result, in_place=True)
    finally:
        os._exit(0)


def _run(exercise: str, spec: dict, families: tuple[str, ...], job: Path, audit: bool) -> dict:
    from .. import core
    from .tripwire import Tripwire

    notes: list[str] = []
    module = types.ModuleType("__answer__")  # a module of its own: dataclasses and pickle look classes up there
    sys.modules["__answer__"] = module
    namespace = module.__dict__
    namespace["__builtins__"] = builtins
    result = {"calls": [], "notes": notes}
    if (job / "course").is_dir():
        twins.install_view(job / "course")  # the course's given modules without this exercise's twins
    if any(call.hardware is not None for call in spec["calls"]):
        core.install_simulation()  # before any cell: the probes the answer holds never change identity
    tripwire = Tripwire(families, REPORT_FD)
    tripwire.install()  # before any cell runs: an alias taken at definition time is a recorder too
    watching = tripwire.watcher()  # captured now, kept here: nothing the answer changes later reaches it
    run_call = core.run_call  # the same: an answer that rebinds grader.core.run_call changes no call
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            exec(compile(spec["setup"], "<setup cell>", "exec"), namespace)
        except BaseException as exc:  # noqa: BLE001
            result["fatal"] = f"the notebook's setup cell failed: {type(exc).__name__}: {exc}"[:500]
            return result
        if audit:  # from here on, student code runs: the hook stays until this process ends
            guard.install_audit_hook(REPORT_FD)
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
        result["calls"] = _run_calls(run_call, answer, spec["calls"], watching)
    for w in caught:
        note = f"{w.category.__name__}: {w.message}"[:300]
        if note not in notes:
            notes.append(note)
    return result


def _call(run_call, answer, call, watching) -> dict:
    try:
        return {"ok": True, "value": run_call(answer, call, watching)}
    except BaseException as exc:  # noqa: BLE001  (SystemExit, KeyboardInterrupt too)
        return {"ok": False, **_error(exc)}


def _run_calls(run_call, answer, calls: list, watching) -> list:
    """Every call's outcome, in order. The calls of each :attr:`Call.process` after the first run in a
    fork of this process taken now, before any call ran: a property pair's second call starts from
    the answer as it was defined, so no memo of the first call can reach it. A fork that dies
    part-way leaves the list short (reported as such)."""
    from .. import core

    first, *others = core.processes(calls)
    forks = []
    for indices in others:
        read_end, write_end = os.pipe()
        pid = os.fork()  # the audit hook lets the worker's own code fork (its forks keep every guard)
        if pid == 0:
            os.close(read_end)
            try:
                data = wire.dumps([_call(run_call, answer, calls[i], watching) for i in indices])
                with os.fdopen(write_end, "wb") as out:
                    out.write(data)
            finally:
                os._exit(0)
        os.close(write_end)
        forks.append((pid, read_end, indices))
    outcomes: list = [None] * len(calls)
    for i in first:
        outcomes[i] = _call(run_call, answer, calls[i], watching)
    for pid, read_end, indices in forks:
        with os.fdopen(read_end, "rb") as pipe:
            data = pipe.read(wire.MAX_NPZ_BYTES + wire.MAX_JSON_BYTES)
        os.waitpid(pid, 0)
        try:
            got = wire.loads(data, trusted=False)
        except Exception:  # noqa: BLE001  (it died before it could say anything)
            got = []
        for i, outcome in zip(indices, got if isinstance(got, list) else []):
            outcomes[i] = outcome
    done = next((i for i, outcome in enumerate(outcomes) if outcome is None), len(outcomes))
    return outcomes[:done]


def _error(exc: BaseException) -> dict:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith("<answer")]
    return {"type": type(exc).__name__, "message": str(exc)[:500], "trace": "".join(traceback.format_list(frames[-3:]))}


# -------------------------------------------------------------------------- clean-up


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` in the process tree (read from /proc), nearest first."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])  # the command name may contain spaces and ')'
        children.setdefault(ppid, []).append(int(entry))
    found, frontier = [], [pid]
    while frontier:
        for child in children.get(frontier.pop(), []):
            found.append(child)
            frontier.append(child)
    return found


def kill_descendants() -> int:
    """SIGKILL whatever the student's code left running, and reap it. Only this worker's own
    descendants are touched: orphans come back to it because it is PID 1 of the sandbox's PID
    namespace, or a child subreaper when grading is not isolated. Returns how many were killed."""
    me, killed = os.getpid(), 0
    for _ in range(1000):  # a process may fork while we look: repeat until nothing is left
        pids = descendants(me)
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except (ProcessLookupError, PermissionError):
                pass
        _reap()
        time.sleep(0.001)
    _reap()
    return killed


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _drain(fd: int) -> list[str]:
    """What the child reported through the forbidden-call pipe (non-blocking: a grandchild that
    still held the write end is dead by now)."""
    os.set_blocking(fd, False)
    data = b""
    while len(data) < 65536:
        try:
            chunk = os.read(fd, 4096)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
                break
            raise
        if not chunk:
            break
        data += chunk
    os.close(fd)
    names = [line.strip() for line in data.decode("utf-8", "replace").splitlines() if line.strip()]
    return list(dict.fromkeys(names))[:10]


def _serve_one(request: dict, jobs: Path) -> dict:
    """Run one job in a fresh child and report its fate. The limit is on CPU time (the child's and
    its descendants'), so that a busy neighbour cannot make an answer time out; a wall-clock limit
    (``wall_limit``) stops answers that sleep or wait."""
    job = jobs / Path(request["job"]).name  # a name, never a path the request could point elsewhere
    # the answer's cwd, HOME and TMPDIR: under the sandbox's size-limited tmpfs, else in the job folder
    scratch = Path(request["scratch"]) / job.name if request.get("scratch") else job / "work"
    scratch.mkdir(mode=0o700, exist_ok=True)
    time_limit = float(request["time_limit"])
    wall_limit = float(request.get("wall_limit") or 2 * time_limit + 5)
    started = time.monotonic()
    read_end, write_end = os.pipe()
    worker = os.getpid()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        _child(job, request, write_end, scratch, worker)
    os.close(write_end)
    status, code, cpu, family, looked = "finished", None, 0.0, [], 0.0
    while True:
        done, wait_status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        now = time.monotonic()
        if now - looked > 0.1:  # the process tree changes slowly next to 2 ms polls
            family, looked = descendants(pid), now
            if requests_closed():  # the grader is gone: so are we, and the answer with us, now
                for kill in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
                    try:
                        kill()
                    except (ProcessLookupError, PermissionError):
                        pass
                kill_descendants()
                os._exit(0)
        cpu = cpu_seconds([pid, *family])
        if cpu > time_limit or now - started > wall_limit:
            for kill in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
                try:
                    kill()
                except (ProcessLookupError, PermissionError):
                    pass
            os.waitpid(pid, 0)
            status, wait_status = ("timeout" if cpu > time_limit else "wall_timeout"), None
            break
        time.sleep(0.002)
    if wait_status is not None:
        if os.WIFSIGNALED(wait_status):
            status, code = "crashed", -os.WTERMSIG(wait_status)
        else:
            code = os.WEXITSTATUS(wait_status)
            if code == guard.EXIT_REFUSED:
                status = "refused"
    kill_descendants()
    for entry in list(scratch.parent.iterdir()) if request.get("scratch") else [scratch]:
        # the whole scratch space: whatever this job wrote anywhere in it is gone before the next one
        shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
    return {"status": status, "code": code, "elapsed": time.monotonic() - started, "cpu": round(cpu, 3),
            "reports": _drain(read_end)}


_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """CPU time of these processes: their own, and that of their children they have reaped."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(fields[i]) for i in (11, 12, 13, 14))  # utime, stime, cutime, cstime
    return total / _TICKS


def _warm_up() -> None:
    """Pay torch's one-off lazy work (its first optimizer step alone takes ~2 s) once, here,
    instead of in every forked child. One thread: no OpenMP pool exists when we fork."""
    import torch

    torch.set_num_threads(1)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Dropout(0.1), torch.nn.LayerNorm(4))
    for optimizer in (torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9), torch.optim.Adam(model.parameters())):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(torch.ones(2, 3)), torch.tensor([0, 1])).backward()
        optimizer.step()
    # What the notebooks' setup cells import: pay for it once, not in every child (~0.4 s each).
    os.environ.setdefault("MPLBACKEND", "Agg")
    import matplotlib.pyplot  # noqa: F401

    import course.data  # noqa: F401  (course.given, capstone and bench come per job: see twins)
    from torch.utils._python_dispatch import TorchDispatchMode  # noqa: F401  (the tripwire's kernel watch)

    with torch.no_grad():
        q = torch.ones(1, 2, 3, 4)
        torch.nn.functional.scaled_dot_product_attention(q, q, q)
        torch.nn.MultiheadAttention(4, 2, batch_first=True)(q[0], q[0], q[0])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="grader.isolation.worker")
    parser.add_argument("--jobs", type=Path, required=True, help="the folder where job folders appear")
    parser.add_argument("--sandboxed", action="store_true", help="running as PID 1 of the sandbox")
    parser.add_argument("--drop-uid", type=int, default=None, help="become this uid before anything else")
    args = parser.parse_args(argv)
    parent = os.getppid()  # 0 as PID 1 of the sandbox's namespace: bwrap is outside it
    if args.drop_uid is not None:
        drop_privileges(args.drop_uid)
    die_with_parent()  # after the credentials changed (which clears it): the slot's bwrap, or the slot
    if os.getppid() != parent:
        sys.exit("grader.isolation.worker: the process that started it has gone")
    if args.sandboxed and os.getpid() != 1:
        # The clean-up kills every descendant, and orphans come back to PID 1: outside its own PID
        # namespace that guarantee is gone, so refuse rather than guess.
        sys.exit("grader.isolation.worker: refusing to run sandboxed without being PID 1 of its own PID namespace")
    if not args.sandboxed:
        _prctl(PR_SET_CHILD_SUBREAPER, 1)  # orphans of the student's code come back to us, not to init

    import numpy as np
    import torch

    from .. import core, fixtures
    from . import tripwire, wire  # noqa: F401  (imported before forking: children start warm)

    _warm_up()
    # stdout carries the protocol only: keep a private handle, send everything else to stderr.
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    mps = getattr(torch.backends, "mps", None)
    hardware = {"cuda": torch.cuda.is_available(), "mps": bool(mps is not None and mps.is_available())}
    # Said before any student code runs: the trusted side believes these, not what a child reports.
    protocol.write(json.dumps({"ready": True, "torch": torch.__version__, "numpy": np.__version__,
                               "pid": os.getpid(), "uid": os.getuid(), **hardware}) + "\n")
    for line in sys.stdin:
        request = json.loads(line)
        protocol.write(json.dumps(_serve_one(request, args.jobs)) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
