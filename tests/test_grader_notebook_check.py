"""The student's `check(...)`: what it says with and without the hidden solutions around."""
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from grader import CheckFailed, check

ROOT = Path(__file__).resolve().parent.parent
UNSTABLE = textwrap.dedent('''
    import numpy as np
    def softmax(scores, axis=-1):
        e = np.exp(scores)
        return e / e.sum(axis=axis, keepdims=True)
''')


def test_failure_names_the_mistake_and_raises_a_one_line_error(capsys):
    namespace: dict = {}
    exec(UNSTABLE, namespace)
    with pytest.raises(CheckFailed) as raised:
        check(namespace["softmax"])
    out = capsys.readouterr().out
    assert "softmax without subtracting the maximum" in out  # the bug zoo's name for it
    assert "public checks 4/5 passed" in str(raised.value) and "hidden check" in str(raised.value)
    assert raised.value._render_traceback_() == [f"\x1b[31mCheckFailed\x1b[0m: {raised.value}"]


def test_a_correct_answer_passes_quietly_even_if_it_warns(capsys):
    def softmax(scores, axis=-1):
        import warnings
        warnings.warn("noisy but right")
        print("to stderr", file=sys.stderr)
        e = np.exp(scores - scores.max(axis=axis, keepdims=True))
        return e / e.sum(axis=axis, keepdims=True)

    assert check(softmax) is None
    captured = capsys.readouterr()
    assert "public checks 5/5 passed; 1 hidden check run at grading" in captured.out
    assert "noisy but right" in captured.out and captured.err == ""  # warnings are notes, stderr kept off


def test_an_answer_under_another_name_is_found_by_the_name_the_cell_gave_it(capsys):
    namespace: dict = {"check": check}
    exec(UNSTABLE.replace("def softmax", "def my_softmax") + "\nsoftmax = my_softmax\n", namespace)
    with pytest.raises(CheckFailed) as raised:
        exec("check(softmax)", namespace)
    assert raised.value.args[0].startswith("softmax: public checks 4/5 passed")


def test_anything_that_goes_wrong_ends_in_one_line(capsys, monkeypatch):
    """No traceback, ever: in nbgrader's feedback a traceback would print the hidden test lines."""
    def helper(scores, axis=-1):
        return scores

    with pytest.raises(CheckFailed, match="not the name of an exercise"):
        check(helper)
    import grader.notebook

    def broken(*args, **kwargs):
        raise RuntimeError("a bug in the grader")

    monkeypatch.setattr(grader.notebook, "grade_answer", broken)
    exec(UNSTABLE, namespace := {})
    with pytest.raises(CheckFailed, match="the check itself failed .RuntimeError: a bug in the grader."):
        check(namespace["softmax"])


def test_forbidden_builtin_is_refused():
    import torch

    def softmax(scores, axis=-1):
        return torch.softmax(torch.from_numpy(scores), dim=axis).numpy()

    with pytest.raises(CheckFailed, match="write it yourself"):
        check(softmax)


def test_without_solutions_public_checks_still_run_and_hint(tmp_path):
    """A student release has no solutions/: no zoo diagnosis, but every public check and its hint."""
    script = UNSTABLE + textwrap.dedent('''
        from grader import check, CheckFailed
        try:
            check(softmax)
        except CheckFailed as failed:
            print("RAISED", failed)
    ''')
    env = dict(os.environ, GRADER_SOLUTIONS=str(tmp_path / "none"), PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert "RAISED softmax: public checks 4/5 passed" in proc.stdout, proc.stderr
    assert "subtract the row maximum" in proc.stdout or "subtract each row's maximum" in proc.stdout
    assert "known mistake" not in proc.stdout


def test_the_html_table_reads_left_to_right_with_the_hints_code_as_code(monkeypatch):
    """What JupyterLab shows: every cell left-aligned (JupyterLab right-aligns table cells unless
    told), and the hint's `code` as <code>, not as backticks."""
    from grader import notebook

    shown = []
    monkeypatch.setattr(notebook, "_display", shown.append)
    def softmax(scores, axis=-1):  # over the wrong axis: the hint quotes `axis`
        e = np.exp(scores - scores.max(axis=0, keepdims=True))
        return e / e.sum(axis=0, keepdims=True)

    with pytest.raises(CheckFailed):
        check(softmax)
    page = shown[0]._repr_html_()
    cells = re.findall(r"<t[dh]( style='[^']*')?>", page)
    assert cells and all(style and "text-align:left" in style for style in cells), cells
    quoted = [c for c in shown[0].result.checks if "`" in (c.diagnosis or "") + c.message]
    assert quoted, "this test needs a hint that quotes code in backticks"
    assert "`" not in page and page.count("<code>") > len(shown[0].result.checks)  # names, and the hints' code


# ------------------------------------------------------------------ the time limit, as grade's


def _check_in_a_fresh_process(tmp_path, answer: str, time_limit: float = 1.0):
    """``check(softmax)`` in a new Python process (the main thread, as in a kernel), with grader.toml's
    time_limit; then a correct answer, and a pause, in the same process: nothing may be left armed."""
    (tmp_path / "grader.toml").write_text(f"[grader]\ntime_limit = {time_limit}\n")
    script = textwrap.dedent(answer) + textwrap.dedent('''
        import time
        from grader import check, CheckFailed
        started = time.monotonic()
        try:
            check(softmax)
        except CheckFailed as failed:
            print("RAISED", failed)
        print(f"STOPPED AFTER {time.monotonic() - started:.1f}")
        def softmax(scores, axis=-1):
            e = np.exp(scores - scores.max(axis=axis, keepdims=True))
            return e / e.sum(axis=axis, keepdims=True)
        check(softmax)
        time.sleep(1.0)  # a timer left armed would interrupt this
        print("STILL ALIVE")
    ''')
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("GRADER_CONFIG", None)
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert "STILL ALIVE" in proc.stdout, proc.stdout[-2000:] + proc.stderr[-2000:]
    raised = re.search(r"RAISED (.*)", proc.stdout).group(1)
    seconds = float(re.search(r"STOPPED AFTER ([\d.]+)", proc.stdout).group(1))
    return raised, seconds


def test_an_endless_loop_in_check_stops_with_timeout_like_grade(tmp_path):
    raised, seconds = _check_in_a_fresh_process(tmp_path, '''
        import numpy as np
        def softmax(scores, axis=-1):
            try:
                while True:
                    pass
            except Exception:  # an OutOfTime is not an Exception: this does not swallow it
                return scores
    ''')
    assert raised == ("softmax: TIMEOUT: your code used more than 1 s of CPU time and was stopped "
                      "(an endless loop? a very slow loop?)")
    assert seconds < 10  # 1 s of CPU, and the interpreter's start


def test_a_sleeping_answer_in_check_stops_at_the_wall_clock_limit(tmp_path):
    raised, seconds = _check_in_a_fresh_process(tmp_path, '''
        import numpy as np, time
        def softmax(scores, axis=-1):
            time.sleep(3600)
    ''')
    assert raised == ("softmax: TIMEOUT: your code ran longer than 7 s without finishing and was stopped "
                      "(does it sleep, or wait for something?)")  # 2 * 1 s + 5, as grade's wall clock
    assert 6.5 < seconds < 20


def test_an_interrupted_check_in_a_kernel_ends_in_one_line(tmp_path):
    """The kernel's interrupt (the stop button) during check(): one CheckFailed line, no trace
    through the grader's modules."""
    jupyter_client = pytest.importorskip("jupyter_client")
    manager = jupyter_client.KernelManager(kernel_name="python3")
    manager.start_kernel(cwd=str(tmp_path), env=dict(os.environ, PYTHONPATH=str(ROOT)))
    try:
        client = manager.client()
        client.start_channels()
        client.wait_for_ready(timeout=60)
        client.execute_interactive(textwrap.dedent('''
            import numpy as np
            from grader import check
            def softmax(scores, axis=-1):
                while True:
                    pass
        '''), timeout=60)
        errors = []
        message_id = client.execute("check(softmax)")
        time.sleep(4)  # well inside the 20 s limit
        manager.interrupt_kernel()
        reply = client.get_shell_msg(timeout=60)
        while reply["parent_header"].get("msg_id") != message_id:
            reply = client.get_shell_msg(timeout=60)
        while True:  # the error as the notebook shows it (iopub)
            message = client.get_iopub_msg(timeout=30)
            if message["parent_header"].get("msg_id") != message_id:
                continue
            if message["msg_type"] == "error":
                errors.append(message["content"])
            if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
                break
        assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "CheckFailed"
        assert len(errors) == 1 and len(errors[0]["traceback"]) == 1
        assert "softmax: interrupted before the checks finished" in errors[0]["traceback"][0]
        assert "grader/" not in errors[0]["traceback"][0]
        client.stop_channels()
    finally:
        manager.shutdown_kernel(now=True)
