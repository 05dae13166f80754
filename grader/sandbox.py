"""The trusted side of isolation: start the worker in a bubblewrap sandbox, send it jobs,
read back plain data.

The sandbox sees the Python installation, the ``grader`` and ``course`` packages and
one job folder, and nothing else: no ``solutions/``, no instructor files, no other
submission, no network (``--unshare-all``), uid 65534, its own PID namespace (killed
with the grader), and, when we are root, a pids cgroup against fork bombs. Without
bubblewrap, grading still runs but says loudly that it is not isolated.
"""
from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from . import wire
from .core import Call

PACKAGE_DIR = Path(__file__).resolve().parent
COURSE_DIR = PACKAGE_DIR.parent / "course"
SANDBOX_CODE = "/opt/grader-code"  # where grader/ and course/ appear inside the sandbox
PIDS_MAX = 64
NOT_ISOLATED_WARNING = (
    "WARNING: bubblewrap (bwrap) is not available: student code runs WITHOUT isolation "
    "(it can read files, use the network and see other submissions). Install it "
    "(Debian/Ubuntu: apt-get install bubblewrap) before grading real submissions."
)


@dataclass
class JobResult:
    status: str  # finished | timeout | crashed | worker_lost
    code: int | None = None
    elapsed: float = 0.0
    result: dict | None = None
    stdout: str = ""
    stderr: str = ""
    notes: list[str] = field(default_factory=list)


def _matplotlib_cache() -> list[str]:
    """Bind this side's matplotlib cache (its font list) read-only, built here if needed: else
    every sandbox start rebuilds it (~2 s) for the notebooks' setup cells."""
    try:
        import matplotlib
        from matplotlib import font_manager  # noqa: F401  (writes the font cache when missing)
    except ImportError:
        return []
    return ["--ro-bind-try", matplotlib.get_cachedir(), "/tmp/matplotlib"]


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


def _ro_binds() -> list[str]:
    """The Python installation (base and venv) plus the system libraries, read-only."""
    paths = {"/usr", "/lib", "/lib64", "/bin", "/sbin", "/etc/alternatives", "/etc/ld.so.cache", "/etc/localtime"}
    for prefix in {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.realpath(sys.executable)}:
        real = os.path.realpath(prefix)
        paths.add(real if os.path.isdir(real) else os.path.dirname(real))
        paths.add(prefix if os.path.isdir(prefix) else os.path.dirname(prefix))
    # site-packages outside the prefixes (a user site, PYTHONPATH entries with torch...)
    for entry in sys.path:
        if entry and os.path.isdir(entry) and "site-packages" in entry:
            paths.add(os.path.realpath(entry))
    args: list[str] = []
    for path in sorted(paths):
        args += ["--ro-bind-try", path, path]
    return args


class Sandbox:
    """One worker process for one submission; start it once, run many jobs."""

    def __init__(self, isolate: bool = True, memory_mb: int = 2048):
        self.isolate = isolate and bwrap_path() is not None
        self.wanted_isolation = isolate
        self.memory_mb = memory_mb
        self.root = Path(tempfile.mkdtemp(prefix="grader-job-"))
        os.chmod(self.root, 0o777)  # the sandbox's uid 65534 writes its outputs here
        self.process: subprocess.Popen | None = None
        self.cgroup: Path | None = None
        self.info: dict = {}

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": "/tmp",
            "LANG": "C.UTF-8",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "GRADER_SOLUTIONS": "/nonexistent",
            "MPLBACKEND": "Agg",
            "MPLCONFIGDIR": "/tmp/matplotlib",
        }
        for key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):  # some CPUs need these for correct BLAS results
            if key in os.environ:
                env[key] = os.environ[key]
        if self.isolate:
            env.update({"PYTHONPATH": SANDBOX_CODE, "GRADER_SANDBOXED": "1"})
            command = [
                bwrap_path(), "--unshare-all", "--die-with-parent", "--new-session",
                "--uid", "65534", "--gid", "65534", "--clearenv",
                "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",  # first: later binds may live under /tmp
                *_ro_binds(),
                "--ro-bind", str(PACKAGE_DIR), f"{SANDBOX_CODE}/grader",
                "--ro-bind", str(COURSE_DIR), f"{SANDBOX_CODE}/course",
                *_matplotlib_cache(),
                "--bind", str(self.root), str(self.root),
                "--chdir", "/tmp",
            ]
            for key, value in env.items():
                command += ["--setenv", key, value]
            command += [sys.executable, "-m", "grader.worker"]
            popen_env = None
        else:
            print(NOT_ISOLATED_WARNING, file=sys.stderr)
            # Even unisolated, the worker only sees grader/ and course/ on its path (not solutions/).
            code_root = self.root / "code"
            code_root.mkdir(exist_ok=True)
            for link in (code_root / "grader", code_root / "course"):
                if link.is_symlink():
                    link.unlink()
            (code_root / "grader").symlink_to(PACKAGE_DIR)
            (code_root / "course").symlink_to(COURSE_DIR)
            env["PYTHONPATH"] = str(code_root)
            command = [sys.executable, "-s", "-m", "grader.worker"]
            popen_env = env
        if self.cgroup is None:  # a restarted worker goes back into the same cgroup
            self.cgroup = self._make_cgroup()
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env=popen_env, cwd=str(self.root), preexec_fn=self._enter_cgroup,
        )
        line = self._read_line(timeout=120)
        if line is None:
            stderr = self._drain_stderr()
            self.close()
            raise RuntimeError(f"the grading worker did not start: {stderr[-2000:]}")
        self.info = json.loads(line)

    def _make_cgroup(self) -> Path | None:
        """A pids cgroup caps the number of processes (fork bombs) when we may create one."""
        base = Path("/sys/fs/cgroup/pids")
        if not base.is_dir() or not os.access(base, os.W_OK):
            return None
        group = base / f"transformer-grader-{uuid.uuid4().hex[:12]}"
        try:
            group.mkdir()
            (group / "pids.max").write_text(str(PIDS_MAX))
            return group
        except OSError:
            return None

    def _enter_cgroup(self) -> None:
        if self.cgroup is not None:
            (self.cgroup / "cgroup.procs").write_text(str(os.getpid()))

    def close(self) -> None:
        self.close_process_only()
        if self.cgroup is not None:
            procs = (self.cgroup / "cgroup.procs").read_text().split() if self.cgroup.exists() else []
            for pid in procs:
                try:
                    os.kill(int(pid), 9)
                except OSError:
                    pass
            for _ in range(50):
                try:
                    self.cgroup.rmdir()
                    break
                except OSError:
                    time.sleep(0.02)
            self.cgroup = None
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "Sandbox":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- jobs --------------------------------------------------------------------------
    def run(self, exercise: str, setup: str, answer: str, calls: list[Call], deps: list[tuple[str, str]],
            time_limit: float) -> JobResult:
        """Run one exercise's calls in a fresh child of the worker; return plain data."""
        if self.process is None or self.process.poll() is not None:
            self.close_process_only()
            self.start()
        job = self.root / f"{exercise}-{uuid.uuid4().hex[:8]}"
        job.mkdir()
        os.chmod(job, 0o777)
        wire.save(job / "job", {"setup": setup, "answer": answer, "deps": [list(d) for d in deps], "calls": calls})
        request = {"job": str(job), "exercise": exercise, "time_limit": time_limit, "memory_mb": self.memory_mb,
                   "nproc": _process_limit()}
        try:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            return JobResult("worker_lost", notes=["the grading worker died; it was restarted"])
        line = self._read_line(timeout=time_limit + 30)
        if line is None:
            self.close_process_only()
            return JobResult("worker_lost", notes=["the grading worker stopped answering; it was restarted"])
        fate = json.loads(line)
        out = JobResult(fate["status"], fate.get("code"), fate.get("elapsed", 0.0))
        out.stdout = _read_head(job / "stdout.txt")
        out.stderr = _read_head(job / "stderr.txt")
        if (job / "result.json").exists():
            try:
                out.result = wire.load(job / "result", trusted=False)
            except Exception as exc:  # a malformed result is the answer's problem
                out.notes.append(f"the answer's result could not be read ({type(exc).__name__})")
        shutil.rmtree(job, ignore_errors=True)
        return out

    def close_process_only(self) -> None:
        """Stop the worker (a fresh one starts at the next job); keep the job folder and cgroup."""
        if self.process is not None:
            try:
                self.process.kill()
                self.process.wait(timeout=10)
            except Exception:
                pass
            for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
                try:
                    stream.close()
                except Exception:
                    pass
            self.process = None

    def _read_line(self, timeout: float) -> str | None:
        deadline = time.monotonic() + timeout
        stream = self.process.stdout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([stream], [], [], min(1.0, max(0.0, deadline - time.monotonic())))
            if ready:
                line = stream.readline()
                return line if line else None
            if self.process.poll() is not None:
                return None
        return None

    def _drain_stderr(self) -> str:
        try:
            self.process.kill()
            return self.process.stderr.read() or ""
        except Exception:
            return ""


def _process_limit() -> int | None:
    """RLIMIT_NPROC for a student's child when we are not root (root ignores that limit: the
    pids cgroup covers it): the processes this user runs now plus PIDS_MAX."""
    if os.getuid() == 0:
        return None
    mine = 0
    for entry in os.listdir("/proc"):
        try:
            mine += entry.isdigit() and os.stat(f"/proc/{entry}").st_uid == os.getuid()
        except OSError:
            pass
    return mine + PIDS_MAX


def _read_head(path: Path, limit: int = 4000) -> str:
    try:
        with open(path, "rb") as f:
            return f.read(limit).decode("utf-8", "replace")
    except OSError:
        return ""
