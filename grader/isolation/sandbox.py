"""The trusted side of isolation: start the worker in a bubblewrap sandbox, send it jobs, read back
plain data.

What the sandbox sees: the Python installation and the ``grader`` and ``course`` packages,
read-only, and one job folder at a time under ``/jobs``; nothing else (no ``solutions/``, no
repository, no home, no other submission). Everything is read-only except the current job's
folder, which the trusted side deletes after the job. No network (its own, empty network
namespace), its own PID namespace with the worker as PID 1 (killed with the grader), uid 65534
without capabilities or setuid programs, and the number of processes capped by a pids cgroup
(v1 or a delegated v2) or, where none can be made, by ``RLIMIT_NPROC``. No environment variable
names grading. Without bubblewrap, grading still runs but says loudly that it is not isolated.
"""
from __future__ import annotations

import json
import os
import re
import select
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from . import guard, twins, wire
from ..core import Call

PACKAGE_DIR = Path(__file__).resolve().parent.parent
COURSE_DIR = PACKAGE_DIR.parent / "course"
SANDBOX_CODE = "/opt/grader-code"  # where grader/ and course/ appear inside the sandbox
SANDBOX_JOBS = "/jobs"  # where the job folders appear inside the sandbox
SANDBOX_SCRATCH = "/scratch"  # a size-limited tmpfs: the answers' working folders
SCRATCH_BYTES = 64 * 2**20
# What the answer's process may write in its job folder (each file at most FILE_LIMIT bytes); as root
# the folder itself is the grader's, so nothing else can be created there.
OUTPUT_FILES = ("stdout.txt", "stderr.txt", "result.json", "result.npz")
GUARDS = ("seccomp", "audit")  # the answer's own guards, both by default
SANDBOX_UID = 65534  # "nobody": the student's code runs as this uid
PIDS_MAX = 64
NOT_ISOLATED_WARNING = (
    "WARNING: bubblewrap (bwrap) is not available: student code runs WITHOUT isolation "
    "(it can read files, use the network and see other submissions). Install it "
    "(Debian/Ubuntu: apt-get install bubblewrap) before grading real submissions."
)
NO_SECCOMP_WARNING = (
    "WARNING: no seccomp filter for this machine's architecture (grader/isolation/guard.py has x86_64 and "
    "aarch64): answers may use SysV IPC, the kernel keyring and ptrace inside the sandbox."
)
BOOTSTRAP = "import sys; sys.path.insert(0, {code!r}); from grader.isolation.worker import main; main(sys.argv[1:])"


@dataclass
class JobResult:
    status: str  # finished | timeout (CPU) | wall_timeout | crashed | refused (the audit hook) | worker_lost
    code: int | None = None
    elapsed: float = 0.0
    result: dict | None = None
    stdout: str = ""
    stderr: str = ""
    notes: list[str] = field(default_factory=list)
    forbidden: list[str] = field(default_factory=list)  # forbidden built-ins the answer called
    withheld: list[str] = field(default_factory=list)  # withheld course pieces it reached ("given.attention")
    refused: list[str] = field(default_factory=list)  # what the audit hook stopped it doing ("gc.get_objects")
    cpu: float = 0.0  # CPU seconds of the answer's process and its descendants


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


NODE_NEEDS = ("the machine that grades needs bubblewrap (`apt-get install bubblewrap`, `dnf install bubblewrap`) "
              "and the right to create namespaces with it: as root (a privileged container), or as a user where "
              "unprivileged user namespaces are allowed (sysctl user.max_user_namespaces > 0; on Ubuntu 24.04 "
              "kernel.apparmor_restrict_unprivileged_userns = 0 or an AppArmor profile for bwrap; in a container, "
              "a seccomp and AppArmor profile that allow unshare and mount)")


def isolation_problem() -> str | None:
    """Why the sandbox could not isolate here (None: it can). Tries what the sandbox does: bwrap making
    its namespaces, as root or through a user namespace, and mounting /proc in them."""
    path = bwrap_path()
    if path is None:
        return f"bubblewrap (bwrap) is not installed; {NODE_NEEDS}"
    identity = [] if os.getuid() == 0 else ["--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID)]
    command = [path, "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", *identity,
               "--die-with-parent", "--as-pid-1", "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "true"]
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap could not run ({exc}); {NODE_NEEDS}"
    if proc.returncode != 0:
        return f"bwrap cannot create the sandbox's namespaces here ({proc.stderr.strip()[:200]}); {NODE_NEEDS}"
    return None


def _ro_paths() -> list[str]:
    """The Python installation (base and venv) plus the system libraries."""
    paths = {"/usr", "/lib", "/lib64", "/bin", "/sbin", "/etc/alternatives", "/etc/ld.so.cache", "/etc/localtime"}
    for prefix in {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.realpath(sys.executable)}:
        real = os.path.realpath(prefix)
        paths.add(real if os.path.isdir(real) else os.path.dirname(real))
        paths.add(prefix if os.path.isdir(prefix) else os.path.dirname(prefix))
    # site-packages outside the prefixes (a user site, PYTHONPATH entries with torch...)
    for entry in sys.path:
        if entry and os.path.isdir(entry) and "site-packages" in entry:
            paths.add(os.path.realpath(entry))
    return sorted(p for p in paths if os.path.exists(p))


def _mount_args(ro_paths: list[str], extra_dirs: list[str]) -> list[str]:
    """Read-only binds of ``ro_paths``, with every folder above them created world-traversable
    (bwrap copies the host's mode, and a 0700 /root would hide a Python installed below it)."""
    ancestors = sorted({str(parent) for p in [*ro_paths, *extra_dirs] for parent in Path(p).parents
                        if str(parent) != "/"}, key=lambda p: (p.count("/"), p))
    args: list[str] = []
    for folder in ancestors:
        args += ["--perms", "0755", "--dir", folder]
    for path in ro_paths:
        target = os.path.realpath(path)
        if os.path.islink(path) and any(target == p or target.startswith(p + "/") for p in ro_paths if p != path):
            # /lib -> usr/lib and the like: the same link inside, not a second mount of /usr/lib
            args += ["--symlink", os.readlink(path), path]
        else:
            args += ["--ro-bind-try", path, path]
    return args


def _copy_font_cache(target: Path) -> None:
    """matplotlib's font list, copied where the worker may write: without it every sandbox start
    rebuilds it (~2 s) for the notebooks' setup cells."""
    try:
        import matplotlib

        source = Path(matplotlib.get_cachedir())
        from matplotlib import font_manager  # noqa: F401  (writes the font cache here when missing)
    except (ImportError, OSError):
        return
    target.mkdir(parents=True, exist_ok=True)
    for item in source.glob("fontlist-*.json"):
        shutil.copyfile(item, target / item.name)


class Sandbox:
    """One worker process for a batch of submissions; start it once, run many jobs, one at a time."""

    def __init__(self, isolate: bool = True, memory_mb: int = 2048, guards: tuple[str, ...] = GUARDS):
        """``guards``: which of the answer's own guards the worker installs (:data:`GUARDS`: the seccomp
        filter and the audit hook of :mod:`grader.isolation.guard`); fewer only for tests of the walls
        behind them."""
        self.isolate = isolate and bwrap_path() is not None
        self.wanted_isolation = isolate
        self.memory_mb = memory_mb
        self.guards = tuple(guards)
        remove_leftovers()
        self.root = Path(tempfile.mkdtemp(prefix=f"grader-sandbox-{os.getpid()}-"))  # 0700, ours
        self.jobs = self.root / "jobs"
        self.jobs.mkdir()
        os.chmod(self.jobs, 0o755)
        # course/ without the modules that hold working versions of exercises: each job brings its own
        self.course = twins.stage_course(self.root / "course")
        # As root, the worker becomes uid 65534 inside the sandbox (no user namespace is needed, so the
        # uid is a real, unprivileged one); otherwise the sandbox runs as us, mapped to 65534.
        self.as_root = os.getuid() == 0
        self.process: subprocess.Popen | None = None
        self.cgroup: Path | None = None
        self.info: dict = {}

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        scratch = self._private_dir(self.jobs / "worker-start")  # matplotlib's cache while the worker starts
        _copy_font_cache(scratch / "matplotlib")
        self._give_away(scratch, recursive=True)
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": "/nonexistent",
            "LANG": "C.UTF-8",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "MPLBACKEND": "Agg",
        }
        for key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):  # some CPUs need these for correct BLAS results
            if key in os.environ:
                env[key] = os.environ[key]
        if self.isolate and "seccomp" in self.guards and not guard.seccomp_supported():
            print(NO_SECCOMP_WARNING, file=sys.stderr)
        if self.isolate:
            env.update(TMPDIR=f"{SANDBOX_JOBS}/worker-start", MPLCONFIGDIR=f"{SANDBOX_JOBS}/worker-start/matplotlib")
            identity = (["--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID)]
                        if not self.as_root else [])
            command = [
                bwrap_path(), "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
                "--unshare-cgroup-try", *identity, "--die-with-parent", "--new-session", "--as-pid-1",
                "--clearenv", "--proc", "/proc", "--dev", "/dev",
                "--tmpfs", "/tmp", "--tmpfs", "/dev/shm",
                # the answers' cwd, HOME and TMPDIR: one folder per job, all of them together at most this big
                "--perms", "1777", "--size", str(SCRATCH_BYTES), "--tmpfs", SANDBOX_SCRATCH,
                *_mount_args(_ro_paths(), [f"{SANDBOX_CODE}/grader", f"{SANDBOX_CODE}/course", SANDBOX_JOBS]),
                "--ro-bind", str(PACKAGE_DIR), f"{SANDBOX_CODE}/grader",
                "--ro-bind", str(self.course), f"{SANDBOX_CODE}/course",
                "--bind", str(self.jobs), SANDBOX_JOBS,
                # read-only only now: a Python or a checkout under /tmp needs its folders made in it first
                "--remount-ro", "/tmp", "--remount-ro", "/dev/shm",
                "--chdir", "/",
            ]
            for key, value in env.items():
                command += ["--setenv", key, value]
            worker_args = ["--jobs", SANDBOX_JOBS, "--sandboxed"]
            if self.as_root:
                worker_args += ["--drop-uid", str(SANDBOX_UID)]
            command += [sys.executable, "-I", "-B", "-c", BOOTSTRAP.format(code=SANDBOX_CODE), *worker_args]
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
            (code_root / "course").symlink_to(self.course)
            env.update(TMPDIR=str(scratch), MPLCONFIGDIR=str(scratch / "matplotlib"))
            command = [sys.executable, "-I", "-B", "-c", BOOTSTRAP.format(code=str(code_root)), "--jobs", str(self.jobs)]
            popen_env = env
        if self.cgroup is None:  # a restarted worker goes back into the same cgroup
            self.cgroup = make_pids_cgroup()
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env=popen_env, cwd=str(self.root), preexec_fn=self._enter_cgroup,
        )
        line = self._read_line(timeout=120)
        self._wipe_jobs()  # the start-up scratch: nothing the next job could find
        if line is None:
            stderr = self._drain_stderr()
            self.close()
            raise RuntimeError(f"the grading worker did not start: {stderr[-2000:]}")
        self.info = json.loads(line)

    def _enter_cgroup(self) -> None:
        if self.cgroup is not None:
            (self.cgroup / "cgroup.procs").write_text(str(os.getpid()))

    def close(self) -> None:
        self.close_process_only()
        if self.cgroup is not None:
            procs = (self.cgroup / "cgroup.procs").read_text().split() if self.cgroup.exists() else []
            for pid in procs:  # only processes of this sandbox's own cgroup
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

    # -- the job folders ---------------------------------------------------------------
    def _private_dir(self, path: Path) -> Path:
        path.mkdir(mode=0o755)
        return path

    def _give_away(self, path: Path, recursive: bool = False) -> None:
        """As root, let the sandbox's uid write into ``path`` (and nowhere else)."""
        if not self.as_root or not self.isolate:
            return
        targets = [path, *path.rglob("*")] if recursive else [path]
        for target in targets:
            os.chown(target, SANDBOX_UID, SANDBOX_UID, follow_symlinks=False)

    def _wipe_jobs(self) -> None:
        """Delete everything under the job root: whatever a job wrote, wherever it wrote it."""
        for entry in self.jobs.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)

    # -- jobs --------------------------------------------------------------------------
    def run(self, exercise: str, setup: str, answer: str, calls: list[Call], deps: list[tuple[str, str]],
            time_limit: float, forbidden: tuple[str, ...] = ()) -> JobResult:
        """Run one exercise's calls in a fresh child of the worker; return plain data.

        ``time_limit`` is in seconds of CPU; the wall-clock limit is :func:`wall_limit` of it.
        ``forbidden``: keys of :data:`grader.isolation.forbidden.FAMILIES` the tripwire watches for."""
        if self.process is None or self.process.poll() is not None:
            self.close_process_only()
            self.start()
        name = f"{exercise}-{uuid.uuid4().hex[:12]}"
        job = self._private_dir(self.jobs / name)  # as root, the grader's: the answer writes only OUTPUT_FILES
        if "course" in setup or "course" in answer or any("course" in source for _, source in deps):
            course = self._private_dir(job / "course")  # what of course.given & co. this exercise may use
            for module, source in twins.course_view(exercise).items():
                (course / f"{module}.py").write_text(source, encoding="utf-8")
        wire.save(job / "job", {"setup": setup, "answer": answer, "deps": [list(d) for d in deps], "calls": calls})
        for output in OUTPUT_FILES:
            (job / output).touch(mode=0o644)
            self._give_away(job / output)
        request = {"job": name, "exercise": exercise, "time_limit": time_limit, "wall_limit": wall_limit(time_limit),
                   "memory_mb": self.memory_mb, "nproc": None if self.cgroup is not None else _process_limit(),
                   "families": list(forbidden), "guards": list(self.guards),
                   "scratch": SANDBOX_SCRATCH if self.isolate else None}
        try:
            return self._exchange(job, request, wall_limit(time_limit))
        finally:
            self._wipe_jobs()

    def _exchange(self, job: Path, request: dict, wall: float) -> JobResult:
        try:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            return JobResult("worker_lost", notes=["the grading worker died; it was restarted"])
        line = self._read_line(timeout=wall + 30)
        if line is None:
            self.close_process_only()
            return JobResult("worker_lost", notes=["the grading worker stopped answering; it was restarted"])
        fate = json.loads(line)
        out = JobResult(fate["status"], fate.get("code"), fate.get("elapsed", 0.0), cpu=fate.get("cpu", 0.0))
        reports = [str(name)[:200] for name in fate.get("reports", [])]
        out.refused = [r[len(guard.PREFIX):] for r in reports if r.startswith(guard.PREFIX)][:10]
        out.withheld = [r[len(twins.REPORT_PREFIX):] for r in reports if r.startswith(twins.REPORT_PREFIX)][:10]
        out.forbidden = [r for r in reports if not r.startswith((guard.PREFIX, twins.REPORT_PREFIX))][:10]
        out.stdout = _read_head(job / "stdout.txt")
        out.stderr = _read_head(job / "stderr.txt")
        if _size(job / "result.json") or _size(job / "result.npz"):
            try:
                out.result = wire.load(job / "result", trusted=False)
            except Exception as exc:  # a malformed result is the answer's problem
                out.notes.append(f"the answer's result could not be read ({type(exc).__name__}: {str(exc)[:200]})")
        return out

    def close_process_only(self) -> None:
        """Stop the worker (a fresh one starts at the next job); keep the job root and cgroup."""
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


# ------------------------------------------------------------------------------ process limits


def make_pids_cgroup(base_v1: Path = Path("/sys/fs/cgroup/pids"), unified: Path | None = None) -> Path | None:
    """A fresh pids cgroup with ``pids.max`` = :data:`PIDS_MAX` (fork bombs), or None where we may
    not make one: cgroup v1's pids hierarchy, else a cgroup v2 hierarchy delegated to us (our own
    cgroup has the pids controller and lets us create children)."""
    name = f"transformer-grader-{os.getpid()}-{uuid.uuid4().hex[:12]}"
    candidates = []
    if base_v1.is_dir():
        candidates.append(base_v1)
    parent_v2 = _own_v2_cgroup(unified)
    if parent_v2 is not None:
        candidates.append(parent_v2)
    for parent in candidates:
        if not os.access(parent, os.W_OK):
            continue
        group = parent / name
        try:
            group.mkdir()
        except OSError:
            continue
        try:
            (group / "pids.max").write_text(str(PIDS_MAX))
            return group
        except OSError:
            group.rmdir()
    return None


def process_alive(pid: int) -> bool:
    """The process exists and is not a zombie (a killed run's process may wait, unreaped, for long)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc: trust kill(0)
    return state not in ("Z", "X")


def remove_leftovers() -> None:
    """What a grader killed with SIGKILL could not clean up: its job root under the temporary folder
    and its pids cgroup, both named after its process id. Only those of dead owners go (a process in
    such a cgroup is a sandbox whose grader is gone: it is killed first)."""
    pattern = re.compile(r"(?:grader-sandbox|transformer-grader)-(\d+)-")
    places = [Path(tempfile.gettempdir())]
    places += [p for p in (Path("/sys/fs/cgroup/pids"), _own_v2_cgroup()) if p is not None and p.is_dir()]
    for place in places:
        try:
            entries = list(place.iterdir())
        except OSError:
            continue
        for entry in entries:
            match = pattern.match(entry.name)
            if not match or process_alive(int(match.group(1))) or not entry.is_dir():
                continue
            if (entry / "cgroup.procs").exists():
                try:
                    for pid in (entry / "cgroup.procs").read_text().split():
                        os.kill(int(pid), 9)
                    entry.rmdir()
                except OSError:
                    pass
            else:
                shutil.rmtree(entry, ignore_errors=True)


def _own_v2_cgroup(unified: Path | None = None) -> Path | None:
    """Our cgroup in the v2 hierarchy, if the pids controller is available below it."""
    mount = unified
    if mount is None:
        for candidate in (Path("/sys/fs/cgroup/unified"), Path("/sys/fs/cgroup")):
            if (candidate / "cgroup.controllers").is_file():
                mount = candidate
                break
    if mount is None:
        return None
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    own = next((line.split("::", 1)[1] for line in lines if line.startswith("0::")), None)
    if own is None:
        return None
    parent = mount / own.lstrip("/")
    try:
        if "pids" not in (parent / "cgroup.subtree_control").read_text().split():
            return None  # not delegated to us with the pids controller
    except OSError:
        return None
    return parent


def _process_limit() -> int:
    """RLIMIT_NPROC for a student's child when no pids cgroup holds the sandbox: the processes the
    sandbox's uid runs now plus PIDS_MAX (the limit counts every process of that uid)."""
    uid = SANDBOX_UID if os.getuid() == 0 else os.getuid()
    mine = 0
    for entry in os.listdir("/proc"):
        try:
            mine += entry.isdigit() and os.stat(f"/proc/{entry}").st_uid == uid
        except OSError:
            pass
    return mine + PIDS_MAX


def wall_limit(time_limit: float) -> float:
    """Seconds of wall clock an answer gets for ``time_limit`` seconds of CPU: twice, and 5 more (an
    answer that sleeps or waits uses no CPU; one that computes is stopped by its CPU time)."""
    return 2 * time_limit + 5


def _size(path: Path) -> int:
    try:
        return os.lstat(path).st_size
    except OSError:
        return 0


def _read_head(path: Path, limit: int = 4000) -> str:
    """The start of a file the untrusted side wrote: never through a symlink, never a FIFO."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return ""
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return ""
        return os.read(fd, limit).decode("utf-8", "replace")
    finally:
        os.close(fd)
