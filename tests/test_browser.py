"""A student's path through JupyterLab, in a real browser (headless Chromium driven by Playwright).

JupyterLab is started by the Makefile's own ``lab`` recipe, on a temporary copy of ``notebooks/``
(the committed notebooks are never touched)::

    make -o setup lab VENV=<this interpreter's environment> NOTEBOOK_DIR=<temporary copy> \
        PORT=<free port> LAB_ARGS="--no-browser --IdentityProvider.token=<random> --ServerApp.port_retries=0"

(``-o setup``: ``make test`` has just set the environment up, so the test never runs pip). The
server gets a fresh, empty Jupyter config directory, so that nobody's own JupyterLab settings
change what the page shows; the test checks that `make lab` itself hides nbgrader's instructor
menus and JupyterLab's "Jupyter news?" pop-up (jupyter/student/).

Chromium opens ``03_softmax.ipynb``, runs all its cells (Run > Run All Cells: each check cell says
"not attempted yet" and the run goes on, as it does for a student who has not started), types a known mistake into
the ``softmax`` exercise cell (max and sum over axis 0 instead of ``axis``), runs the check cell,
and the test reads the page. Before the mistake the check says "not attempted yet" and shows no
FAIL row; after it, the check table has FAIL rows that name the bug-zoo mistake ("softmax
normalises over the wrong axis ..."). A screenshot of the page is kept in
``test-artifacts/browser/`` and its path printed at the end of the pytest run. A second test runs
all of the untouched ``06_multi_head_attention.ipynb`` and finds its last cell run.

Needs Debian's ``chromium`` (``apt-get install chromium``; ``.ci/run`` installs it) and the pinned
``playwright`` of ``requirements-test.txt`` (``make test`` installs it). No browser is downloaded.
Skips, with the reason, only where there is no Chromium.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from solutions.zoo import BUGS

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts" / "browser"
CHROMIUM = shutil.which("chromium")  # Debian's package: /usr/bin/chromium
CHROMIUM_ARGS = [  # root needs --no-sandbox; the rest keeps Chromium off the (closed) network
    "--no-sandbox", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic", "--disable-dev-shm-usage",
]
NOTEBOOK = "03_softmax.ipynb"
EXERCISE = "softmax"
MISTAKE_ID = "wrong_axis"
# What the student types: softmax over axis 0 (columns), whatever `axis` says.
MISTAKE = (
    "def softmax(scores, axis=-1):\n"
    "    exp = np.exp(scores - np.max(scores, axis=0, keepdims=True))\n"
    "    return exp / np.sum(exp, axis=0, keepdims=True)"
)
# Generous limits for a loaded 2-core machine (JupyterLab's first start, the kernel importing
# torch); every wait ends as soon as the page shows what it waits for.
SERVER_TIMEOUT_S = 120
PAGE_TIMEOUT_MS = 120_000
KERNEL_TIMEOUT_MS = 120_000


def _playwright():
    """Playwright's sync API; fails in CI (where `make test` must have installed it), skips elsewhere."""
    if CHROMIUM is None:
        pytest.skip("no Chromium browser: install Debian's package with `apt-get install chromium` "
                    "(.ci/run does); the test drives it, it never downloads one")
    try:
        from playwright import sync_api
    except ImportError:
        message = ("Chromium is here but the `playwright` package is not: `make test` installs it "
                   "from requirements-test.txt (or: pip install -r requirements-test.txt)")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return sync_api


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _processes_below(pid: int) -> dict[int, str]:
    """Every live process under ``pid`` (the server, its kernels), as {pid: start time} from /proc.

    The start time tells a process from a later one that reuses its number."""
    table = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # after "pid (comm)": state ppid ...
        except (OSError, IndexError):
            continue
        table[int(stat.parent.name)] = (int(fields[1]), fields[19])  # (ppid, starttime)
    found, frontier = {}, {pid}
    while frontier:
        children = {p: start for p, (ppid, start) in table.items() if ppid in frontier}
        found.update(children)
        frontier = set(children)
    return found


def _end(processes: dict[int, str]) -> None:
    """SIGKILL the recorded processes that still run (same pid and same start time)."""
    for pid, start in processes.items():
        try:
            alive = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19] == start
            if alive:
                os.kill(pid, signal.SIGKILL)
        except (OSError, IndexError):
            pass


def _log_tail(log: Path) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-30:])


def _wait_for_server(server: subprocess.Popen, url: str, token: str, log: Path) -> None:
    """Poll /api/status until the server answers (it prints its URL only when it listens)."""
    deadline = time.monotonic() + SERVER_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"`make lab` exited with code {server.returncode} before serving:\n{_log_tail(log)}")
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=5) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.25)
    pytest.fail(f"JupyterLab did not answer on {url} within {SERVER_TIMEOUT_S} s:\n{_log_tail(log)}")


def _stop(server: subprocess.Popen, url: str, token: str) -> None:
    """Shut the server down the polite way (it stops its kernels), then kill what is left of
    what this test started: make, jupyter-lab and the kernels."""
    started = _processes_below(server.pid)
    request = urllib.request.Request(f"{url}/api/shutdown", method="POST",
                                     headers={"Authorization": f"token {token}"})
    try:
        urllib.request.urlopen(request, timeout=10).close()
        server.wait(timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        os.killpg(server.pid, signal.SIGKILL)  # make and jupyter-lab: the group the test created
        server.wait(timeout=10)
    _end(started)


@pytest.fixture(params=["repository", "bundle"])
def lab(tmp_path, request):
    """JupyterLab serving a copy of notebooks/, started as `make lab` starts it: (url, token, folder).

    ``repository``: the course's own `make lab` on a copy of notebooks/. ``bundle``: what students
    get (`python -m grader bundle`), its own `make lab`, its kernels importing its own grader (no
    solutions/: a known mistake is named from the bundle's fingerprints)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRADER_")}
    config = tmp_path / "jupyter-config"  # empty: nobody's own settings (the news pop-up is make lab's to hide)
    config.mkdir()
    env.update(JUPYTER_CONFIG_DIR=str(config), JUPYTER_RUNTIME_DIR=str(tmp_path / "jupyter-runtime"))
    for inherited in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL"):  # from `make test`: run make as from a shell
        env.pop(inherited, None)
    port, token = _free_port(), secrets.token_hex(16)
    url = f"http://127.0.0.1:{port}"
    lab_args = f"--no-browser --IdentityProvider.token={token} --ServerApp.port_retries=0"
    if request.param == "repository":
        folder, where = tmp_path / "notebooks", REPO
        shutil.copytree(REPO / "notebooks", folder)
        command = ["make", "--no-print-directory", "-o", "setup", "lab", f"VENV={sys.prefix}",
                   f"NOTEBOOK_DIR={folder}", f"PORT={port}", f"LAB_ARGS={lab_args}"]
    else:
        where = tmp_path / "student"
        built = subprocess.run([sys.executable, "-m", "grader", "bundle", "--out", str(where)], cwd=REPO,
                               capture_output=True, text=True, timeout=300)
        assert built.returncode == 0, built.stdout + built.stderr
        folder = where / "notebooks"
        env["PYTHONPATH"] = str(where)  # the kernels import the bundle's grader, as in a student's own clone
        probe = subprocess.run([sys.executable, "-c", "import grader.reference as r; print(r.__file__, r.solutions_dir())"],
                               cwd=folder, env=env, capture_output=True, text=True, timeout=60)
        assert probe.stdout.split() == [str(where / "grader" / "reference.py"), "None"], probe.stdout + probe.stderr
        command = ["make", "--no-print-directory", "-o", "setup", "lab", f"VENV={sys.prefix}", f"PORT={port}",
                   f"LAB_ARGS={lab_args}"]
    log = folder.parent / "lab.log"
    with log.open("w") as out:
        server = subprocess.Popen(command, cwd=where, env=env, stdout=out, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        _wait_for_server(server, url, token, log)
        yield url, token, folder
    finally:
        _stop(server, url, token)


@pytest.fixture
def page(tmp_path):
    """A headless Chromium page (1400x1000) with a fresh profile, closed afterwards."""
    sync_api = _playwright()
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=CHROMIUM, headless=True,
            args=CHROMIUM_ARGS, viewport={"width": 1400, "height": 1000})
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()


def _cell_index(folder: Path, grade_id: str) -> int:
    """Position of the cell with this nbgrader grade_id in the released notebook."""
    cells = json.loads((folder / NOTEBOOK).read_text())["cells"]
    found = [i for i, cell in enumerate(cells)
             if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id]
    assert len(found) == 1, f"{NOTEBOOK} should have one cell with grade_id {grade_id!r}, found {found}"
    return found[0]


def _type_answer(page, editor, code: str) -> None:
    """Replace the cell's text by ``code``, typed key by key as a student would: each line
    without its indentation, which the editor adds itself after the ':'."""
    editor.click()
    page.keyboard.press("Control+A")
    for number, line in enumerate(code.splitlines()):
        if number:
            page.keyboard.press("Enter")
        page.keyboard.type(line.lstrip())


def test_a_known_mistake_is_named_in_the_check_table(page, lab, record_property):  # page first: skip before starting a server
    sync_api = _playwright()
    expect = sync_api.expect
    url, token, folder = lab
    title = next(bug.title for bug in BUGS[EXERCISE] if bug.id == MISTAKE_ID)
    answer_at, check_at = _cell_index(folder, EXERCISE), _cell_index(folder, f"check_{EXERCISE}")
    assert check_at == answer_at + 1, "the check cell should come right after its exercise cell"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    screenshot = ARTIFACTS / f"{Path(NOTEBOOK).stem}_{EXERCISE}_{MISTAKE_ID}.png"
    screenshot.unlink(missing_ok=True)
    record_property("artifact", f"browser test screenshot: {screenshot}")
    print(f"browser test screenshot: {screenshot}")

    started = time.monotonic()
    # On a loaded machine the kernel can be slow enough to start that JupyterLab asks which kernel to
    # use (its preferred one, already chosen): answer as a student would, whenever it asks.
    page.add_locator_handler(page.get_by_role("dialog").filter(has_text="Select kernel for"),
                             lambda dialog: dialog.get_by_role("button", name="Select Kernel").click())
    page.goto(f"{url}/lab/tree/{NOTEBOOK}?token={token}")
    cells = page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell")
    answer_cell, check_cell = cells.nth(answer_at), cells.nth(check_at)
    try:
        expect(check_cell).to_contain_text(f"check({EXERCISE})", timeout=PAGE_TIMEOUT_MS)
        opened = time.monotonic()
        # a student's lab: no instructor tools (nbgrader's menu)
        menus = page.locator("#jp-MainMenu").inner_text()
        assert "Run" in menus and "Nbgrader" not in menus, f"the menu bar shows: {menus!r}"

        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        output = check_cell.locator(".jp-OutputArea")
        expect(output).to_contain_text("not attempted yet", timeout=KERNEL_TIMEOUT_MS)
        before = output.text_content()
        assert "FAIL" not in before and title not in before, (
            f"before any answer, the {EXERCISE} check should only say 'not attempted yet'; it shows:\n{before}")
        prompt_before = check_cell.locator(".jp-InputPrompt").text_content()

        editor = answer_cell.locator(".cm-content")
        _type_answer(page, editor, MISTAKE)
        typed = editor.inner_text()
        assert typed == MISTAKE, (
            f"the exercise cell should hold exactly the typed answer; the editor shows:\n{typed}\n"
            "(did JupyterLab's auto-indent or bracket closing change?)")
        page.keyboard.press("Shift+Enter")  # runs the answer cell, selects the check cell
        page.keyboard.press("Shift+Enter")  # runs the check cell

        fail_rows = output.locator("tr").filter(
            has=page.locator("td:first-child", has_text=re.compile(r"^\s*FAIL\s*$")))
        expect(fail_rows.filter(has_text=title).first,
               f"after the wrong-axis softmax, the check table should have a FAIL row naming '{title}'",
               ).to_be_visible(timeout=KERNEL_TIMEOUT_MS)
        expect(output).to_contain_text("public checks")
        after = output.text_content()
        assert check_cell.locator(".jp-InputPrompt").text_content() != prompt_before, (
            "the check cell's execution count did not change: the table is not from the new run")
        assert "not attempted" not in after, f"the check still says 'not attempted':\n{after}"
        print(f"opened in {opened - started:.1f} s, checked in {time.monotonic() - opened:.1f} s "
              f"({fail_rows.count()} FAIL rows naming: {title})")
        # ... and, by now (its toast comes seconds after the page), no pop-up asking to go online
        assert not page.get_by_text("Jupyter news").count(), "JupyterLab's news pop-up is showing"
    finally:  # also on failure: the picture shows what the page showed
        try:
            check_cell.scroll_into_view_if_needed(timeout=5_000)
        except sync_api.Error:
            pass  # the notebook never opened: the screenshot shows why
        page.screenshot(path=str(screenshot))
    # what a student sees in the terminal of `make lab`: no error (e.g. nbgrader's formgrader,
    # which cannot work with notebooks/ as the served folder, is left off)
    errors = [line for line in (folder.parent / "lab.log").read_text().splitlines() if line.startswith("[E ")]
    assert not errors, "make lab logged errors:\n" + "\n".join(errors)


RUN_ALL_NOTEBOOK = "06_multi_head_attention.ipynb"


def test_run_all_on_a_notebook_of_stubs_reaches_its_end(page, lab, record_property):
    """Run > Run All Cells on the untouched 06: every code cell runs (the last one gets its execution
    count), and each check cell says "not attempted yet" in one line, instead of the kernel stopping at
    the first of them and leaving the rest un-run."""
    sync_api = _playwright()
    expect = sync_api.expect
    url, token, folder = lab
    cells_json = json.loads((folder / RUN_ALL_NOTEBOOK).read_text())["cells"]
    code_at = [i for i, cell in enumerate(cells_json) if cell["cell_type"] == "code"]
    check_at = [i for i, cell in enumerate(cells_json)
                if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "").startswith("check_")]
    assert len(check_at) == 3 and code_at[-1] > check_at[-1]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    screenshot = ARTIFACTS / f"{Path(RUN_ALL_NOTEBOOK).stem}_run_all.png"
    screenshot.unlink(missing_ok=True)
    record_property("artifact", f"browser test screenshot: {screenshot}")

    page.add_locator_handler(page.get_by_role("dialog").filter(has_text="Select kernel for"),
                             lambda dialog: dialog.get_by_role("button", name="Select Kernel").click())
    page.goto(f"{url}/lab/tree/{RUN_ALL_NOTEBOOK}?token={token}")
    cells = page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell")
    last = cells.nth(code_at[-1])
    try:
        expect(cells.nth(check_at[0])).to_contain_text("check(", timeout=PAGE_TIMEOUT_MS)
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        # JupyterLab renders cells lazily: bring the last one into view, then wait for its count
        last.scroll_into_view_if_needed(timeout=PAGE_TIMEOUT_MS)
        expect(last.locator(".jp-InputPrompt")).to_have_text(re.compile(r"\[\d+\]"), timeout=4 * KERNEL_TIMEOUT_MS)
        for index in check_at:
            cell = cells.nth(index)
            cell.scroll_into_view_if_needed(timeout=PAGE_TIMEOUT_MS)
            expect(cell.locator(".jp-OutputArea")).to_contain_text("not attempted yet", timeout=KERNEL_TIMEOUT_MS)
        errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
        shown = [text for text in errors.all_text_contents() if "Traceback" in text]
        assert not shown, f"a traceback on the page: {shown[:1]}"
    finally:
        page.screenshot(path=str(screenshot))
