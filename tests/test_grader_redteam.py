"""Red team: cheats score 0, faults cost only their own exercise, correct-but-noisy answers score full.

Every submission below attacks (or breaks) the `softmax` exercise of notebook 03 and answers
`masked_softmax` and `causal_mask` correctly, so each test also proves "one exercise, one fate".
Runs through the real sandbox (bubblewrap when installed; CI installs it).
"""
import socket
import textwrap
from pathlib import Path

import pytest

from grader.config import Config
from grader.grade import grade_submission
from grader.sandbox import Sandbox, bwrap_path

CORRECT_OTHERS = '''
def masked_softmax(scores, mask, axis=-1):
    scores, mask = np.broadcast_arrays(scores, np.asarray(mask, dtype=bool))
    masked = np.where(mask, scores, -np.inf)
    top = np.max(masked, axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    e = np.where(mask, np.exp(masked - top), 0.0)
    total = e.sum(axis=axis, keepdims=True)
    return e / np.where(total > 0, total, 1.0)


def causal_mask(T):
    return np.tril(np.ones((T, T), dtype=bool))
'''

CORRECT_SOFTMAX = '''
def softmax(scores, axis=-1):
    e = np.exp(scores - scores.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)
'''

ATTACKS = {
    "allclose_patch": '''
import numpy, torch, math
numpy.allclose = lambda *a, **k: True
numpy.testing.assert_allclose = lambda *a, **k: None
torch.testing.assert_close = lambda *a, **k: None
math.isclose = lambda *a, **k: True
def softmax(scores, axis=-1):
    return numpy.zeros_like(scores)
''',
    "eq_always_true": '''
class Anything(np.ndarray):
    def __eq__(self, other):
        return True
    def __ne__(self, other):
        return False
def softmax(scores, axis=-1):
    return np.zeros_like(scores).view(Anything)
''',
    "eq_object": '''
class Anything:
    def __eq__(self, other):
        return True
    shape = property(lambda self: (3, 5))
def softmax(scores, axis=-1):
    return Anything()
''',
    "import_solutions": '''
def softmax(scores, axis=-1):
    from solutions import softmax as reference
    return reference(scores, axis)
''',
    "read_solutions": '''
import glob, os
def softmax(scores, axis=-1):
    hits = glob.glob("/work/**/solutions/softmax.py", recursive=True) + glob.glob("/root/**/solutions/softmax.py", recursive=True)
    hits += [os.path.join(os.environ.get("GRADER_SOLUTIONS", "/nonexistent"), "softmax.py")]
    namespace = {}
    exec(open(hits[0]).read(), namespace)
    return namespace["softmax"](scores, axis)
''',
    "os_exit": '''
import os
def softmax(scores, axis=-1):
    os._exit(0)
''',
    "sys_exit": '''
import sys
def softmax(scores, axis=-1):
    sys.exit(0)
''',
    "exit_at_import": '''
import os
os._exit(3)
def softmax(scores, axis=-1):
    return scores
''',
    "infinite_loop": '''
def softmax(scores, axis=-1):
    while True:
        pass
''',
    "sigint_ignoring_sleep": '''
import signal, time
def softmax(scores, axis=-1):
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    time.sleep(3600)
''',
    "memory_bomb": '''
def softmax(scores, axis=-1):
    hog = np.ones(2**32)  # 32 GiB at once
    return scores
''',
    "memory_creep": '''
def softmax(scores, axis=-1):
    hog = [np.ones(2**25) for _ in range(2**10)]  # 256 MiB at a time, up to 256 GiB
    return scores
''',
    "segfault": '''
import ctypes
def softmax(scores, axis=-1):
    return ctypes.string_at(0)
''',
    "huge_output": '''
import sys
def softmax(scores, axis=-1):
    chunk = "x" * 2**20
    for _ in range(200):
        sys.stdout.write(chunk)
    return np.zeros_like(scores)
''',
    "grading_mode_detection": '''
import os
def softmax(scores, axis=-1):
    if any(k.startswith("GRADER") for k in os.environ):
        return np.zeros_like(scores)
    return np.zeros_like(scores) + 1
''',
    "forbidden_builtin": '''
import torch
def softmax(scores, axis=-1):
    return torch.softmax(torch.from_numpy(scores), dim=axis).numpy()
''',
}

NEEDS_SANDBOX = {"import_solutions", "read_solutions"}


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(isolate=True, memory_mb=1024) as box:
        yield box


@pytest.fixture(scope="module")
def config():
    return Config(secret="red-team", time_limit=4.0, memory_mb=1024)


def _submit(tmp_path: Path, softmax_source: str) -> Path:
    path = tmp_path / "03_softmax.py"
    path.write_text("import numpy as np\n" + textwrap.dedent(softmax_source) + "\n" + CORRECT_OTHERS)
    return path


def _by_name(result):
    return {e.exercise: e for e in result.exercises}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_attack_scores_zero_and_costs_only_its_exercise(attack, sandbox, config, tmp_path):
    if attack in NEEDS_SANDBOX and not sandbox.isolate:
        pytest.skip("bubblewrap is not installed: the solutions are readable without it")
    result = grade_submission(_submit(tmp_path, ATTACKS[attack]), config, sandbox)
    exercises = _by_name(result)
    assert exercises["softmax"].earned == 0, [(c.name, c.status, c.message) for c in exercises["softmax"].checks]
    for other in ("masked_softmax", "causal_mask"):
        assert exercises[other].earned == exercises[other].points > 0, (attack, other, exercises[other].message)


def test_fates_are_named(sandbox, config, tmp_path):
    statuses = {}
    for attack in ("os_exit", "infinite_loop", "sigint_ignoring_sleep", "segfault", "memory_bomb", "sys_exit", "forbidden_builtin"):
        result = grade_submission(_submit(tmp_path, ATTACKS[attack]), config, sandbox)
        ex = _by_name(result)["softmax"]
        statuses[attack] = (ex.status, {c.status for c in ex.checks}, ex.message + " ".join(c.message for c in ex.checks))
    assert statuses["os_exit"][1] == {"crashed"}
    assert statuses["infinite_loop"][1] == {"timeout"} and "longer than 4 s" in statuses["infinite_loop"][2]
    assert statuses["sigint_ignoring_sleep"][1] == {"timeout"}
    assert statuses["segfault"][1] == {"crashed"}
    assert statuses["memory_bomb"][1] == {"error"} and "MemoryError" in statuses["memory_bomb"][2]
    assert statuses["sys_exit"][1] == {"error"} and "SystemExit" in statuses["sys_exit"][2]
    assert statuses["forbidden_builtin"][0] == "forbidden" and "softmax" in statuses["forbidden_builtin"][2]


def test_correct_answer_that_warns_gets_full_marks(sandbox, config, tmp_path):
    noisy = '''
import sys, warnings
def softmax(scores, axis=-1):
    warnings.warn("this correct answer warns", DeprecationWarning)
    print("debug output on stderr", file=sys.stderr)
    print("and on stdout")
    e = np.exp(scores - scores.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)
'''
    result = grade_submission(_submit(tmp_path, noisy), config, sandbox)
    assert result.earned == result.points > 0
    notes = " ".join(_by_name(result)["softmax"].notes)
    assert "this correct answer warns" in notes and "debug output on stderr" in notes


def test_network_is_unreachable(sandbox, config, tmp_path):
    if not sandbox.isolate:
        pytest.skip("bubblewrap is not installed")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    try:
        answer = f'''
import socket
def softmax(scores, axis=-1):
    try:
        socket.create_connection(("127.0.0.1", {port}), timeout=1).close()
    except OSError:
        return np.zeros_like(scores)  # no network: a wrong answer, as the test expects
    e = np.exp(scores - scores.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)
'''
        result = grade_submission(_submit(tmp_path, answer), config, sandbox)
        assert _by_name(result)["softmax"].earned == 0
    finally:
        server.close()


def test_fork_bomb_is_contained(sandbox, config, tmp_path):
    if sandbox.cgroup is None:
        pytest.skip("no pids cgroup here (not root): a fork bomb is only stopped by the time limit")
    bomb = '''
import os
def softmax(scores, axis=-1):
    while True:
        try:
            os.fork()
        except OSError:
            pass
'''
    result = grade_submission(_submit(tmp_path, bomb), config, sandbox)
    exercises = _by_name(result)
    assert exercises["softmax"].earned == 0
    assert exercises["causal_mask"].earned == exercises["causal_mask"].points


def test_reference_submission_full_marks(sandbox, config, tmp_path):
    result = grade_submission(_submit(tmp_path, CORRECT_SOFTMAX), config, sandbox)
    assert result.earned == result.points > 0
    assert result.isolated == (bwrap_path() is not None)


def test_grading_without_isolation_says_so_loudly(config, tmp_path, capfd):
    with Sandbox(isolate=False, memory_mb=1024) as unisolated:
        result = grade_submission(_submit(tmp_path, CORRECT_SOFTMAX), config, unisolated)
    assert "WITHOUT isolation" in capfd.readouterr().err
    assert result.isolated is False and result.earned == result.points


def test_patching_the_hardware_probe_does_not_fool_pick_device(sandbox, config, tmp_path):
    cheat = tmp_path / "10_gpu_and_training.py"
    cheat.write_text(textwrap.dedent('''
        import torch
        def pick_device():
            torch.cuda.is_available = lambda: True
            return torch.device("cuda")
    '''))
    result = grade_submission(cheat, config, sandbox)
    device = _by_name(result)["pick_device"]
    assert device.points > 0 and device.earned < device.points


def test_answers_hard_coded_for_the_public_inputs_fail_the_hidden_checks(sandbox, config, tmp_path):
    """Public inputs are fixed and visible; hidden ones come from the secret."""
    lookup = '''
def _true_softmax(s, axis):
    e = np.exp(s - s.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)
def softmax(scores, axis=-1):
    # "memorised" answers: correct only for inputs of the public checks' shapes
    if scores.shape in [(2, 3), (3, 5), (4, 2)]:
        return _true_softmax(scores, axis)
    return np.full_like(scores, 1.0 / scores.shape[axis])
'''
    result = grade_submission(_submit(tmp_path, lookup), config, sandbox)
    softmax = _by_name(result)["softmax"]
    assert all(c.passed for c in softmax.checks if not c.hidden)
    assert not any(c.passed for c in softmax.checks if c.hidden)
