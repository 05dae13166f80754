"""The sandbox's guarantees, asserted directly from inside the real sandbox.

A probe answer runs as a student's answer would (``Sandbox.run``, the same path as grading) and
reports what it can see and do: its uid and capabilities, the file system, the environment, the
network. Each test here fails when the guarantee it names is removed from grader/isolation/sandbox.py or
grader/isolation/worker.py (no uid change, host network, the repository bound in, pickle allowed on load,
no process limit, a clean-up that reaches beyond the worker's own descendants).
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from grader.isolation import sandbox as sandbox_module
from grader.config import Config
from grader.core import Call
from grader.grade import grade_submission
from grader.isolation.sandbox import Sandbox, bwrap_path
from test_grader_redteam import CORRECT_OTHERS  # masked_softmax and causal_mask, correct

REPO = Path(__file__).resolve().parent.parent
PROBE_SETUP = "import numpy as np\n"


def require_bwrap():
    """Isolation tests skip without bubblewrap, except in CI (CI=true), where that is a failure."""
    if bwrap_path() is None:
        if os.environ.get("CI"):
            pytest.fail("bubblewrap (bwrap) is missing: CI must prove the sandbox, install it (.ci/run does)")
        pytest.skip("bubblewrap is not installed: these tests need the real sandbox")


@pytest.fixture(scope="module")
def box():
    require_bwrap()
    with Sandbox(isolate=True, memory_mb=1024) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def unguarded_box():
    """Without the answer's own guards (audit hook, seccomp), which stop a fork at once: for the walls
    behind them (the process limit)."""
    require_bwrap()
    with Sandbox(isolate=True, memory_mb=1024, guards=()) as sandbox:
        yield sandbox


@pytest.fixture(autouse=True)
def _no_gate(monkeypatch):
    """These tests are about the sandbox's walls: the static gate, which would refuse most of their
    answers before they run (tests/test_grader_gate.py), is out of the way."""
    import grader.grade

    monkeypatch.setattr(grader.grade, "refused_before_running", lambda *args: None)


def probe(box: Sandbox, body: str, time_limit: float = 20.0, n_calls: int = 1):
    """Run ``def softmax(scores, axis=-1): <body>`` as an answer; return what each call returned."""
    answer = "import os, sys, json, socket, glob\n" + "def softmax(scores, axis=-1):\n" + textwrap.indent(textwrap.dedent(body), "    ")
    calls = [Call(args=(np.zeros(2),)) for _ in range(n_calls)]
    job = box.run("softmax", PROBE_SETUP, answer, calls, [], time_limit)
    assert job.status == "finished", (job.status, job.stderr, job.notes)
    assert job.result is not None and "calls" in job.result, (job.result, job.stderr, job.notes)
    outs = job.result["calls"]
    assert all(o["ok"] for o in outs), outs
    return [o["value"] for o in outs]


# ------------------------------------------------------------------------------ who am I


def test_student_code_runs_as_nobody_without_capabilities(box):
    (info,) = probe(box, '''
        status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines() if ":" in line)
        return {"uid": os.getuid(), "euid": os.geteuid(), "gid": os.getgid(), "groups": list(os.getgroups()),
                "cap_eff": status["CapEff"].strip(), "cap_prm": status["CapPrm"].strip(),
                "no_new_privs": status["NoNewPrivs"].strip()}
    ''')
    assert info["uid"] == info["euid"] == 65534 and info["gid"] == 65534, info
    assert info["groups"] in ([], [65534]), info
    assert int(info["cap_eff"], 16) == 0 and int(info["cap_prm"], 16) == 0, info
    assert info["no_new_privs"] == "1", info


def test_worker_is_pid_1_of_its_own_namespace(box):
    (info,) = probe(box, '''
        return {"parent": os.getppid(), "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit())}
    ''')
    assert box.info["pid"] == 1
    assert 1 in info["pids"] and len(info["pids"]) == 2, info  # the worker and this child, nothing of the host


# ------------------------------------------------------------------------------ what it sees


def test_file_system_shows_no_repository_solutions_home_or_other_jobs(box):
    (seen,) = probe(box, f'''
        found = {{}}
        for path in ["{REPO}/solutions", "{REPO}/solutions/softmax.py", "{REPO}/notebooks", "{REPO}/README.md",
                     "{REPO}/grader.toml", "{REPO}/grader", "/root/.bash_history", "/root/.ssh", "/home",
                     "/etc/passwd", "/etc/shadow"]:
            found[path] = os.path.exists(path)
        # the virtual environment may live inside the repository: then only it is there
        found["repository files"] = sorted(set(os.listdir("{REPO}")) - {{".venv"}}) if os.path.isdir("{REPO}") else []
        hits = []
        for top in sorted(set(os.listdir("/")) - {{"proc", "sys", "dev", "usr"}}):
            if os.path.islink("/" + top):  # /lib -> usr/lib...: /usr is the system's, walked by nobody
                continue
            for folder, dirs, files in os.walk("/" + top):
                if folder.endswith("site-packages"):  # installed packages: a solutions package would sit here
                    hits += [os.path.join(folder, d) for d in dirs if d in ("solutions", "zoo")]
                    dirs[:] = []
                hits += [os.path.join(folder, f) for f in files if f == "grader.toml"
                         or (f == "nb03_softmax.py" and folder.endswith(("zoo", "variants")))
                         or (f == "softmax.py" and folder.endswith("solutions"))]
        return {{"found": found, "hits": hits, "jobs": sorted(os.listdir("/jobs")), "cwd": os.getcwd(),
                "root": sorted(os.listdir("/")), "code": sorted(os.listdir("/opt/grader-code"))}}
    ''', time_limit=60)
    assert not any(seen["found"].values()), seen["found"]  # (a non-empty list of repository files is true too)
    assert seen["hits"] == [], seen["hits"]
    assert len(seen["jobs"]) == 1 and seen["cwd"] == f"/scratch/{seen['jobs'][0]}", seen  # only its own job
    assert seen["code"] == ["course", "grader"]
    assert not {"home", "srv", "mnt", "media", "var"} & set(seen["root"]), seen["root"]


def test_environment_does_not_name_grading(box):
    (env,) = probe(box, "return {'env': dict(os.environ), 'cwd': os.getcwd()}")
    variables = env["env"]
    leaks = [key for key in variables if any(word in (key + "=" + variables[key]).upper()
                                             for word in ("GRAD", "SOLUTION", "SECRET", "SANDBOX"))]
    assert not leaks, leaks
    assert variables["HOME"] == variables["TMPDIR"] == env["cwd"], env  # its own private folder


def test_only_the_jobs_own_folder_is_writable(box):
    """Its working folder (on the size-limited scratch tmpfs) and nothing else: not even a new file
    in its job folder, where it may only write its own outputs (as root; see the README)."""
    (written,) = probe(box, '''
        results = {}
        job = "/jobs/" + os.path.basename(os.getcwd())
        for folder in ["/tmp", "/dev/shm", "/jobs", job, job + "/course", "/opt/grader-code/grader", "/",
                       os.path.dirname(np.__file__), os.path.dirname(os.__file__), "."]:
            try:
                with open(os.path.join(folder, "planted.txt"), "w") as f:
                    f.write("x")
                results[folder] = True
            except OSError:
                results[folder] = False
        try:
            with open(os.path.join(job, "result.json"), "w") as f:  # its own output: allowed
                f.write("{}")
            results["own output"] = True
        except OSError:
            results["own output"] = False
        return results
    ''')
    assert written.pop(".") is True and written.pop("own output") is True
    if os.getuid() == 0:
        assert not any(written.values()), written
    else:  # an unprivileged grader's sandbox: the job folder is the worker's own (README)
        assert not any(v for k, v in written.items() if not k.startswith("/jobs/")), written


def test_the_scratch_space_is_limited(box):
    """An answer that fills its working folder stops at the scratch tmpfs's size, not the host's disk."""
    (out,) = probe(box, '''
        chunk, written = b"x" * 2**20, 0
        try:
            for i in range(4096):
                with open(f"fill-{i}", "wb") as f:
                    f.write(chunk * 16)
                written += 16
        except OSError as exc:
            return {"written_mb": written, "error": type(exc).__name__}
        return {"written_mb": written, "error": None}
    ''', time_limit=60)
    assert out["error"] == "OSError" and out["written_mb"] <= sandbox_module.SCRATCH_BYTES // 2**20, out


def test_an_installation_under_tmp_is_seen_and_tmp_stays_read_only(monkeypatch):
    """A checkout (its .venv) or a Python under /tmp: the sandbox makes its folders inside its own
    /tmp before making /tmp read-only (the other order cannot start the worker at all)."""
    require_bwrap()
    import shutil
    import tempfile

    installed = Path(tempfile.mkdtemp(prefix="grader-test-install-", dir="/tmp"))
    try:
        (installed / "lib").mkdir()
        (installed / "lib" / "marker.txt").write_text("installed under /tmp")
        for folder in (installed, installed / "lib"):
            os.chmod(folder, 0o755)
        os.chmod(installed / "lib" / "marker.txt", 0o644)
        original = sandbox_module._ro_paths
        monkeypatch.setattr(sandbox_module, "_ro_paths", lambda: [*original(), str(installed / "lib")])
        with Sandbox(isolate=True, memory_mb=1024) as other:
            (seen,) = probe(other, f'''
                written = {{}}
                for folder in ["/tmp", "{installed}", "{installed}/lib"]:
                    try:
                        open(os.path.join(folder, "planted.txt"), "w").close()
                        written[folder] = True
                    except OSError:
                        written[folder] = False
                return {{"marker": open("{installed}/lib/marker.txt").read(), "written": written}}
            ''')
        assert seen["marker"] == "installed under /tmp"
        assert not any(seen["written"].values()), seen["written"]
    finally:
        shutil.rmtree(installed)


def test_sys_path_holds_nothing_the_student_can_write(box):
    (paths,) = probe(box, '''
        return [[p, os.access(p or ".", os.W_OK)] for p in sys.path]
    ''')
    assert paths and all(not writable for _, writable in paths), paths
    assert "" not in [p for p, _ in paths] and "." not in [p for p, _ in paths]


# ------------------------------------------------------------------------------ network


class _AcceptingServer:
    """A loopback server on the host that accepts and counts connections."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while self.running:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            conn.close()

    def close(self):
        self.running = False
        self.thread.join()
        self.sock.close()


def test_no_connection_reaches_the_host_or_the_outside(box):
    server = _AcceptingServer()
    try:
        # the server works from the host:
        socket.create_connection(("127.0.0.1", server.port), timeout=2).close()
        time.sleep(0.3)
        assert server.accepted == 1
        (tries,) = probe(box, f'''
            out = {{}}
            for host, port in [("127.0.0.1", {server.port}), ("localhost", {server.port}), ("10.0.2.2", {server.port}),
                               ("1.1.1.1", 443), ("8.8.8.8", 53), ("pypi.org", 443)]:
                for _ in range(4):
                    try:
                        socket.create_connection((host, port), timeout=1).close()
                        out[f"{{host}}:{{port}}"] = out.get(f"{{host}}:{{port}}", 0) + 1
                    except OSError as exc:
                        out.setdefault(f"{{host}}:{{port}}", 0)
            return out
        ''', time_limit=60)
        time.sleep(0.3)
    finally:
        server.close()
    assert server.accepted == 1, f"{server.accepted - 1} connections from the sandbox reached the host"
    assert not any(tries.values()), tries


# ------------------------------------------------------------------------------ fresh world


PLANTER = '''
import os, sys
def softmax(scores, axis=-1):
    planted = []
    job = "/jobs/" + os.path.basename(os.getcwd())
    for folder in [".", "..", job, os.environ.get("TMPDIR", "."), os.environ.get("HOME", "."), "/tmp", "/dev/shm", "/jobs", *sys.path]:
        for name in ("json.py", "numpy_patch.py", "secret_note.txt"):
            try:
                with open(os.path.join(folder, name), "w") as f:
                    f.write("raise SystemExit('planted module ran')\\n" if name.endswith(".py") else "answers: 42")
                planted.append(os.path.abspath(os.path.join(folder, name)))
            except OSError:
                pass
    with open("/proc/self/cwd/../keep.txt", "w") as f:
        f.write("left behind")
    e = np.exp(scores - scores.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)
'''

SEEKER = '''
import os, glob, importlib
def softmax(scores, axis=-1):
    seen = []
    for folder in [".", "..", "/jobs", "/tmp", "/dev/shm"]:
        for path in glob.glob(os.path.join(folder, "**"), recursive=True):
            if any(path.endswith(n) for n in ("json.py", "numpy_patch.py", "secret_note.txt", "keep.txt")):
                seen.append(path)
        seen += [os.path.join(folder, p) for p in os.listdir(folder) if not os.path.exists(folder)]
    try:
        importlib.import_module("numpy_patch")
        seen.append("imported numpy_patch")
    except ImportError:
        pass
    import json
    if not json.__file__.startswith(os.path.dirname(os.__file__)):
        seen.append("json shadowed: " + json.__file__)
    others = [d for d in os.listdir("/jobs") if d != os.path.basename(os.getcwd())]
    others += [d for d in os.listdir("..") if d != os.path.basename(os.getcwd())]
    if seen or others:
        return np.full_like(scores, 0.5)  # wrong on purpose: what this submission saw costs it the marks
    e = np.exp(scores - scores.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)
'''


def test_a_submission_sees_nothing_of_the_one_before(box, tmp_path):
    config = Config(secret="fresh-world", time_limit=20.0, memory_mb=1024)
    first, second = tmp_path / "first", tmp_path / "second"
    for folder, code in ((first, PLANTER), (second, SEEKER)):
        folder.mkdir()
        (folder / "03_softmax.py").write_text("import numpy as np\n" + code + CORRECT_OTHERS)
    planted = grade_submission(first / "03_softmax.py", config, box)
    seeker = grade_submission(second / "03_softmax.py", config, box)
    assert {e.exercise: e.earned == e.points for e in planted.exercises}["softmax"]
    by_name = {e.exercise: e for e in seeker.exercises}
    assert by_name["softmax"].earned == by_name["softmax"].points > 0, [
        (c.name, c.message) for c in by_name["softmax"].checks if not c.passed]
    assert list(box.jobs.iterdir()) == [], "job folders outlive their job"


def test_the_seeker_can_fail(box, tmp_path):
    """The previous test proves something only if the seeker notices what it looks for."""
    answer = "import numpy as np\n" + SEEKER.replace('"/jobs", "/tmp"', '"/jobs", "/opt/grader-code/grader", "/tmp"').replace(
        '"secret_note.txt", "keep.txt"', '"secret_note.txt", "keep.txt", "core.py"') + CORRECT_OTHERS
    (tmp_path / "03_softmax.py").write_text(answer)
    result = grade_submission(tmp_path / "03_softmax.py", Config(secret="s", time_limit=20.0), box)
    assert {e.exercise: e.earned for e in result.exercises}["softmax"] == 0


# ------------------------------------------------------------------------------ what comes back


def test_forged_pickle_result_is_never_unpickled(box):
    marker = Path("/tmp") / f"pickle-ran-{uuid.uuid4().hex}"
    answer = textwrap.dedent(f'''
        import os, numpy as np
        class Payload:
            def __reduce__(self):
                return (os.system, ("touch {marker}",))
        def softmax(scores, axis=-1):
            job = "/jobs/" + os.path.basename(os.getcwd())
            array = np.empty(1, dtype=object)
            array[0] = Payload()
            np.savez(os.path.join(job, "result.npz"), a0=array)
            with open(os.path.join(job, "result.json"), "w") as f:
                f.write('{{"calls": [{{"ok": true, "value": {{"__nd__": "a0"}}}}], "notes": []}}')
            os._exit(0)
    ''')
    job = box.run("softmax", PROBE_SETUP, answer, [Call(args=(np.zeros(2),))], [], 20.0)
    assert job.result is None and any("could not be read" in n for n in job.notes), (job.result, job.notes)
    assert not marker.exists(), "the trusted side unpickled a file the sandbox wrote"


@pytest.mark.parametrize("forged", [
    '{"calls": [{"ok": true, "value": {"__call__": {"kind": "function"}}}], "notes": []}',
    '{"calls": [{"ok": true, "value": {"__build__": "classifier", "params": {"__map__": {}}}}], "notes": []}',
    '{"calls": [{"ok": true, "value": {"__tuple__": [1, 2]}}], "notes": []}',
])
def test_forged_json_with_trusted_only_objects_is_rejected(box, forged):
    answer = textwrap.dedent(f'''
        import os, numpy as np
        def softmax(scores, axis=-1):
            job = "/jobs/" + os.path.basename(os.getcwd())
            np.savez(os.path.join(job, "result.npz"))
            with open(os.path.join(job, "result.json"), "w") as f:
                f.write({forged!r})
            os._exit(0)
    ''')
    job = box.run("softmax", PROBE_SETUP, answer, [Call(args=(np.zeros(2),))], [], 20.0)
    assert job.result is None and any("could not be read" in n for n in job.notes), (job.result, job.notes)


def test_result_files_are_never_read_through_links_or_fifos(tmp_path):
    """What the trusted side reads from a job folder: never through a link, never a FIFO (where the
    answer may replace its output files: an unprivileged grader's sandbox, or a grader without one)."""
    from grader.isolation import wire

    (tmp_path / "result.json").symlink_to("/etc/hostname")
    os.mkfifo(tmp_path / "result.npz")
    os.mkfifo(tmp_path / "stdout.txt")
    started = time.monotonic()
    with pytest.raises(OSError):
        wire.load(tmp_path / "result", trusted=False)
    (tmp_path / "result.json").unlink()
    (tmp_path / "result.json").write_text("{}")
    with pytest.raises(ValueError, match="not a regular file"):
        wire.load(tmp_path / "result", trusted=False)
    assert sandbox_module._read_head(tmp_path / "stdout.txt") == ""
    assert time.monotonic() - started < 5, "reading a FIFO blocked the trusted side"


def test_the_answer_cannot_replace_its_output_files(box):
    """As root the job folder is the grader's: the answer's links and FIFOs cannot even be made there."""
    if os.getuid() != 0:
        pytest.skip("an unprivileged grader's sandbox owns its job folder (test above: the reading side holds)")
    (out,) = probe(box, '''
        job = "/jobs/" + os.path.basename(os.getcwd())
        done = []
        for action in (lambda: os.unlink(job + "/result.json"), lambda: os.symlink("/etc/hostname", job + "/link"),
                       lambda: os.mkfifo(job + "/fifo"), lambda: os.rename(job + "/stdout.txt", job + "/moved")):
            try:
                action()
                done.append(True)
            except OSError:
                done.append(False)
        return done
    ''')
    assert out == [False, False, False, False], out


def test_a_compressed_or_inflated_result_is_refused(tmp_path):
    """A few kilobytes of deflate could inflate to gigabytes in the grading process: only stored
    archives are read from the answer's side."""
    import zipfile

    from grader.isolation import wire

    (tmp_path / "result.json").write_text('{"calls": [{"ok": true, "value": {"__nd__": "a0"}}], "notes": []}')
    with zipfile.ZipFile(tmp_path / "result.npz", "w", compression=zipfile.ZIP_DEFLATED) as archive:
        buffer = __import__("io").BytesIO()
        np.save(buffer, np.zeros(2**20))  # 8 MiB of zeros: about 8 KiB compressed
        archive.writestr("a0.npy", buffer.getvalue())
    assert (tmp_path / "result.npz").stat().st_size < 100_000
    with pytest.raises(ValueError, match="compressed"):
        wire.load(tmp_path / "result", trusted=False)
    wire.save(tmp_path / "plain", {"calls": [{"ok": True, "value": np.zeros(3)}], "notes": []})
    assert wire.load(tmp_path / "plain", trusted=False)["calls"][0]["value"].shape == (3,)


# ------------------------------------------------------------------------------ processes


FORK_BOMB = '''
def softmax(scores, axis=-1):
    import os
    while True:
        try:
            os.fork()
        except OSError:
            pass
'''


def _fork_bomb_costs_one_exercise(box, tmp_path):
    path = tmp_path / "03_softmax.py"
    path.write_text("import numpy as np\n" + FORK_BOMB + CORRECT_OTHERS)
    result = grade_submission(path, Config(secret="bomb", time_limit=5.0, memory_mb=1024), box)
    by_name = {e.exercise: e for e in result.exercises}
    assert by_name["softmax"].earned == 0
    assert by_name["causal_mask"].earned == by_name["causal_mask"].points > 0
    assert by_name["masked_softmax"].earned == by_name["masked_softmax"].points > 0


def test_fork_bomb_is_contained_by_the_limit_this_host_offers(unguarded_box, tmp_path):
    """cgroup v1 pids, a delegated cgroup v2, or RLIMIT_NPROC: never skipped (without the audit hook,
    which would refuse the first fork)."""
    _fork_bomb_costs_one_exercise(unguarded_box, tmp_path)


def test_fork_bomb_is_contained_without_any_cgroup(tmp_path, monkeypatch):
    """The fallback a normal user gets: RLIMIT_NPROC on the sandbox's uid."""
    require_bwrap()
    monkeypatch.setattr(sandbox_module, "make_pids_cgroup", lambda *a, **k: None)
    with Sandbox(isolate=True, memory_mb=1024, guards=()) as no_cgroup:
        assert no_cgroup.cgroup is None
        _fork_bomb_costs_one_exercise(no_cgroup, tmp_path)


def test_a_process_limit_is_in_force(unguarded_box):
    """The same fork bomb, counted: at most PIDS_MAX processes at a time (without the audit hook,
    which refuses the first fork: this is the wall behind it)."""
    (count,) = probe(unguarded_box, '''
        import time
        children = 0
        for _ in range(500):
            try:
                if os.fork() == 0:
                    time.sleep(30)
                    os._exit(0)
                children += 1
            except OSError:
                break
        return children
    ''', time_limit=30)
    assert 0 < count < 200, count


def test_cgroup_v2_delegation_is_recognised(tmp_path):
    """A v2 hierarchy counts only where our cgroup lets children use the pids controller."""
    mount = tmp_path / "unified"
    own = Path("/proc/self/cgroup").read_text().splitlines()
    path = next((line.split("::", 1)[1] for line in own if line.startswith("0::")), "/")
    group = mount / path.lstrip("/")
    group.mkdir(parents=True)
    (mount / "cgroup.controllers").write_text("cpu pids\n")
    (group / "cgroup.subtree_control").write_text("cpu\n")
    assert sandbox_module._own_v2_cgroup(mount) is None
    (group / "cgroup.subtree_control").write_text("cpu pids\n")
    assert sandbox_module._own_v2_cgroup(mount) == group
    made = sandbox_module.make_pids_cgroup(base_v1=tmp_path / "no-v1", unified=mount)
    assert made is not None and made.parent == group and (made / "pids.max").read_text() == str(sandbox_module.PIDS_MAX)


def test_clean_up_reaches_only_the_workers_own_descendants(tmp_path):
    """kill_descendants, as when grading is not isolated (not PID 1): its children, grandchildren and
    orphans die; a sibling lives.

    The whole scene runs in a PID namespace of its own (a launcher as its PID 1 starts the sibling
    and the worker stand-in): a clean-up that wrongly killed every process it can see then reaches
    only the scene, never the machine running the tests (it did once, before this test existed)."""
    require_bwrap()
    cleanup = tmp_path / "cleanup.py"
    cleanup.write_text(textwrap.dedent(f'''
        import os, subprocess, sys, time
        sys.path.insert(0, {str(REPO)!r})
        from grader.isolation.worker import kill_descendants, descendants, _prctl, PR_SET_CHILD_SUBREAPER
        _prctl(PR_SET_CHILD_SUBREAPER, 1)
        child = subprocess.Popen([sys.executable, "-c", "import os, time; os.fork(); os.fork(); time.sleep(60)"])
        orphan_maker = subprocess.Popen([sys.executable, "-c",
            "import os, time\\nif os.fork() == 0:\\n    os.setsid(); time.sleep(60)\\nos._exit(0)"])
        orphan_maker.wait()
        time.sleep(0.5)
        before = len(descendants(os.getpid()))
        killed = kill_descendants()
        print(before, killed, len(descendants(os.getpid())), flush=True)
    '''))
    launcher = tmp_path / "launcher.py"
    launcher.write_text(textwrap.dedent(f'''
        import subprocess, sys
        sibling = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        out = subprocess.run([sys.executable, {str(cleanup)!r}], capture_output=True, text=True, timeout=60)
        print(out.stdout.strip(), "sibling-alive" if sibling.poll() is None else "sibling-killed", flush=True)
        print(out.stderr[-2000:], file=sys.stderr)
        sibling.kill()
    '''))
    scene = [bwrap_path(), "--dev-bind", "/", "/", "--unshare-pid", "--proc", "/proc", "--as-pid-1",
             "--die-with-parent", sys.executable, str(launcher)]
    out = subprocess.run(scene, capture_output=True, text=True, timeout=120)
    fields = out.stdout.split()
    assert len(fields) == 4, out.stdout + out.stderr
    before, killed, after = map(int, fields[:3])
    assert before >= 5 and killed >= 5 and after == 0, out.stdout + out.stderr
    assert fields[3] == "sibling-alive", "the clean-up killed a process that is not its descendant"


def test_sandboxed_worker_refuses_to_run_unless_pid_1(tmp_path):
    bootstrap = sandbox_module.BOOTSTRAP.format(code=str(REPO))
    out = subprocess.run([sys.executable, "-I", "-c", bootstrap, "--jobs", str(tmp_path), "--sandboxed"],
                         capture_output=True, text=True, timeout=60, input="")
    assert out.returncode != 0 and "PID 1" in out.stderr, out.stderr


def test_killing_the_grader_kills_the_sandbox(tmp_path):
    """--die-with-parent: a grader killed with SIGKILL leaves no worker behind."""
    require_bwrap()
    script = tmp_path / "grader_process.py"
    script.write_text(textwrap.dedent(f'''
        import sys, time
        sys.path.insert(0, {str(REPO)!r})
        from grader.isolation.sandbox import Sandbox
        box = Sandbox(isolate=True)
        box.start()
        print(box.process.pid, flush=True)
        time.sleep(120)
    '''))
    grader_process = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        bwrap_pid = int(grader_process.stdout.readline())
        sandbox_pids = [bwrap_pid] + _children_of(bwrap_pid)
        assert len(sandbox_pids) >= 2
        grader_process.send_signal(signal.SIGKILL)
        grader_process.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(pid) for pid in sandbox_pids):
            time.sleep(0.1)
        assert not any(_alive(pid) for pid in sandbox_pids)
    finally:
        if grader_process.poll() is None:
            grader_process.kill()


def _children_of(pid: int) -> list[int]:
    from grader.isolation.worker import descendants

    return descendants(pid)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


# ------------------------------------------------------------------------------ the notebook route


def test_exit_at_import_in_a_notebook_answer_cell_costs_only_that_exercise(box, tmp_path):
    import nbformat

    nb = nbformat.read(REPO / "notebooks" / "03_softmax.ipynb", as_version=4)
    answers = {"softmax": "import os\nos._exit(3)\ndef softmax(scores, axis=-1):\n    return scores\n",
               "masked_softmax": CORRECT_OTHERS.split("def causal_mask")[0], "causal_mask": "def causal_mask" + CORRECT_OTHERS.split("def causal_mask")[1]}
    for cell in nb.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = "import numpy as np\n" + answers[grade_id]
    path = tmp_path / "03_softmax.ipynb"
    nbformat.write(nb, path)
    result = grade_submission(path, Config(secret="exit", time_limit=20.0), box)
    by_name = {e.exercise: e for e in result.exercises}
    assert by_name["softmax"].earned == 0 and {c.status for c in by_name["softmax"].checks} == {"crashed"}
    assert by_name["masked_softmax"].earned == by_name["masked_softmax"].points > 0
    assert by_name["causal_mask"].earned == by_name["causal_mask"].points > 0


def test_what_a_killed_grader_left_behind_is_removed(tmp_path, monkeypatch):
    """A grader killed with SIGKILL leaves its job root (and cgroup): the next one removes those of
    dead owners, never a live grader's."""
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f"grader-sandbox-{dead.pid}-abc123"
    live = tmp_path / f"grader-sandbox-{os.getpid()}-def456"
    other = tmp_path / "grader-sandbox-notapid"
    for folder in (stale, live, other):
        (folder / "jobs").mkdir(parents=True)
    sandbox_module.remove_leftovers()
    assert not stale.exists() and live.exists() and other.exists()


# ------------------------------------------------------------------------------ the answer's own guards


def _job(box, answer: str, time_limit: float = 20.0):
    return box.run("softmax", PROBE_SETUP, textwrap.dedent(answer), [Call(args=(np.zeros(2),))], [], time_limit)


AUDIT_REFUSES = {
    "os.fork": "import os\ndef softmax(scores, axis=-1):\n    os.fork()\n    return scores\n",
    "os.system": "import os\ndef softmax(scores, axis=-1):\n    os.system('true')\n    return scores\n",
    "subprocess.Popen": "import subprocess\ndef softmax(scores, axis=-1):\n    subprocess.run(['true'])\n    return scores\n",
    "ctypes.dlopen": "import ctypes\ndef softmax(scores, axis=-1):\n    ctypes.CDLL(None)\n    return scores\n",
    "gc.get_objects": "import gc\ndef softmax(scores, axis=-1):\n    gc.get_objects()\n    return scores\n",
    "gc.get_referrers": "import gc\ndef softmax(scores, axis=-1):\n    gc.get_referrers(softmax)\n    return scores\n",
    "sys._getframe": "import sys\ndef softmax(scores, axis=-1):\n    sys._getframe(1)\n    return scores\n",
    "sys._getframe (inspect)": "import inspect\ndef softmax(scores, axis=-1):\n    inspect.currentframe()\n    return scores\n",
    "object.__getattr__ tb_frame": "def softmax(scores, axis=-1):\n    try:\n        1 / 0\n    except ZeroDivisionError as e:\n        e.__traceback__.tb_frame\n    return scores\n",
    "object.__getattr__ __code__": "def softmax(scores, axis=-1):\n    softmax.__code__\n    return scores\n",
    "compile": "def softmax(scores, axis=-1):\n    exec('x = 1')\n    return scores\n",
    "sys.settrace": "import sys\ndef softmax(scores, axis=-1):\n    sys.settrace(None)\n    return scores\n",
    "sys.addaudithook": "import sys\ndef softmax(scores, axis=-1):\n    sys.addaudithook(lambda *a: None)\n    return scores\n",
    "object.__setattr__": "import sys\ndef softmax(scores, axis=-1):\n    sys.modules['grader.core'].run_call.__defaults__ = (None,)\n    return scores\n",
    "pickle.find_class": "import pickle\ndef softmax(scores, axis=-1):\n    pickle.loads(pickle.dumps(len))\n    return scores\n",
}


@pytest.mark.parametrize("event", sorted(AUDIT_REFUSES))
def test_the_audit_hook_ends_the_answer_at_what_no_answer_needs(box, event):
    """Whatever the answer catches: the process ends at the event, and the report names it."""
    job = _job(box, AUDIT_REFUSES[event].replace("    return scores", "    return scores\n").replace(
        "def softmax(scores, axis=-1):\n", "def softmax(scores, axis=-1):\n  try:\n", 1).replace("\n    ", "\n      ")
        .replace("      return scores\n", "  except BaseException:\n    pass\n  return scores\n", 1))
    assert job.status == "refused", (job.status, job.refused, job.result)
    assert any(r.startswith(event.split(" (")[0]) for r in job.refused), job.refused


def test_the_audit_hook_walls_fall_without_it(unguarded_box):
    """The same answers without the hook run to their end: the hook, nothing else, stopped them."""
    for event in ("gc.get_objects", "sys._getframe (inspect)", "object.__getattr__ __code__", "compile"):
        job = _job(unguarded_box, AUDIT_REFUSES[event])
        assert job.status == "finished" and job.result["calls"][0]["ok"], (event, job.status, job.result)


HONEST_EVENTS = {
    "a dataclass": "import dataclasses\ndef softmax(scores, axis=-1):\n    @dataclasses.dataclass\n    class P:\n"
                   "        a: int = 1\n    P()\n    return scores\n",
    "torch.manual_seed (formats a stack)": "import torch\ndef softmax(scores, axis=-1):\n    torch.manual_seed(0)\n"
                                           "    return scores\n",
    "nn.utils.skip_init (inspect.signature)": "import torch\ndef softmax(scores, axis=-1):\n"
                                              "    torch.nn.utils.skip_init(torch.nn.Linear, 2, 3)\n    return scores\n",
    "a namedtuple": "import collections\ndef softmax(scores, axis=-1):\n    collections.namedtuple('P', 'a b')(1, 2)\n"
                    "    return scores\n",
    "an error with a traceback": "def softmax(scores, axis=-1):\n    raise ValueError('mine')\n",
}


@pytest.mark.parametrize("what", sorted(HONEST_EVENTS))
def test_what_libraries_do_for_an_honest_answer_passes_the_hook(box, what):
    """Libraries read __code__, format stacks and compile code for their own ends: not the answer's doing."""
    job = _job(box, HONEST_EVENTS[what])
    assert job.status == "finished" and not job.refused, (job.status, job.refused)
    if what == "an error with a traceback":
        assert job.result["calls"][0]["type"] == "ValueError" and "line 2" in job.result["calls"][0]["trace"]


SYSCALLS = '''
import ctypes, os
def softmax(scores, axis=-1):
    libc = ctypes.CDLL(None, use_errno=True)
    out = {}
    for name, call in {
        "shmget": lambda: libc.shmget(0, 4096, 0o1000 | 0o600),
        "msgget": lambda: libc.msgget(0, 0o1000 | 0o600),
        "semget": lambda: libc.semget(0, 1, 0o1000 | 0o600),
        "keyctl": lambda: libc.syscall({keyctl}, 0, -4, 0, 0),  # KEYCTL_GET_KEYRING_ID of the user keyring
        "ptrace": lambda: libc.ptrace(16, 1, 0, 0),  # PTRACE_ATTACH to the worker
        "unshare": lambda: libc.unshare(0x08000000),  # a new IPC namespace
    }.items():
        result = call()
        out[name] = [result, ctypes.get_errno()]
    return out
'''


def _syscall_results(box):
    from grader.isolation import guard

    import platform

    keyctl = guard.DENIED[platform.machine()]["keyctl"]
    job = _job(box, SYSCALLS.replace("{keyctl}", str(keyctl)))
    assert job.status == "finished", (job.status, job.result)
    return job.result["calls"][0]["value"]


def test_seccomp_denies_ipc_the_keyring_ptrace_and_namespaces():
    """With the audit hook off (it would stop ctypes first), the kernel's filter answers EPERM."""
    require_bwrap()
    from grader.isolation import guard

    if not guard.seccomp_supported():
        pytest.skip("no seccomp table for this architecture")
    with Sandbox(isolate=True, memory_mb=1024, guards=("seccomp",)) as filtered:
        denied = _syscall_results(filtered)
    assert all(result == -1 and errno == 1 for result, errno in denied.values()), denied


def test_without_seccomp_those_calls_go_through(unguarded_box):
    """The test above can fail: without the filter, SysV IPC works inside the sandbox (what a first
    student's answer can leave for a second one's, in the same sandbox) and the keyring answers."""
    allowed = _syscall_results(unguarded_box)
    assert allowed["shmget"][0] >= 0 and allowed["msgget"][0] >= 0 and allowed["keyctl"][0] != -1 or \
        allowed["keyctl"][1] != 1, allowed


LEAVES = '''
import ctypes
def softmax(scores, axis=-1):
    libc = ctypes.CDLL(None, use_errno=True)
    libc.shmat.restype = ctypes.c_void_p
    segment = libc.shmget(0x5EC7E7, 4096, 0o1000 | 0o666)  # a fixed key another answer can find
    if segment >= 0:
        ctypes.memmove(libc.shmat(segment, None, 0), b"the answer is 42", 16)
    e = np.exp(scores - scores.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)
'''
FINDS = '''
import ctypes
def softmax(scores, axis=-1):
    libc = ctypes.CDLL(None, use_errno=True)
    libc.shmat.restype = ctypes.c_void_p
    segment = libc.shmget(0x5EC7E7, 4096, 0o666)
    return ctypes.string_at(libc.shmat(segment, None, 0), 16).decode() if segment >= 0 else "nothing"
'''


@pytest.mark.parametrize("guards,expected", [(("seccomp",), "nothing"), ((), "the answer is 42")])
def test_what_one_answer_leaves_in_shared_memory_never_reaches_the_next(guards, expected):
    """Two jobs of one sandbox (as two students' answers graded by one job slot): with the filter the
    first cannot even make a segment; without it, the second reads what the first left."""
    require_bwrap()
    from grader.isolation import guard

    if guards and not guard.seccomp_supported():
        pytest.skip("no seccomp table for this architecture")
    with Sandbox(isolate=True, memory_mb=1024, guards=guards) as slot:
        assert _job(slot, LEAVES).status == "finished"
        found = _job(slot, FINDS)
    assert found.result["calls"][0]["value"] == expected, found.result
