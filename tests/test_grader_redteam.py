"""Red team: cheats score 0, faults cost only their own exercise, correct-but-noisy answers score full.

Every submission below attacks (or breaks) the `softmax` exercise of notebook 03 and answers
`masked_softmax` and `causal_mask` correctly, so each test also proves "one exercise, one fate".
Runs through the real sandbox (bubblewrap when installed; CI installs it).
"""
import json
import socket
import textwrap
from pathlib import Path

import pytest

from grader.config import Config
from grader.grade import grade_submission
from grader.isolation.sandbox import Sandbox, bwrap_path

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
    "shadowed_builtins": '''
import builtins
def softmax(scores, axis=-1):
    # in this exercise's own process: whatever turns the answer into data must not be fooled
    builtins.len = lambda obj: 3
    builtins.isinstance = lambda obj, kind: True
    builtins.type = lambda *args: object
    return np.zeros_like(scores)
''',
    "ipython_traceback_suppression": '''
try:
    from IPython import get_ipython
    shell = get_ipython()
    shell.showtraceback = lambda *a, **k: None
    shell.set_custom_exc((Exception,), lambda *a, **k: None)
except Exception:
    pass
def softmax(scores, axis=-1):
    raise RuntimeError("an error nobody should see")
''',
    "ipython_transformers_and_run_cell": '''
import ast
try:
    from IPython import get_ipython
    shell = get_ipython()
    class DropAsserts(ast.NodeTransformer):
        def visit_Assert(self, node):
            return None
    shell.ast_transformers.append(DropAsserts())
    shell.input_transformers_cleanup.append(lambda lines: [l for l in lines if "check" not in l])
    shell.run_cell = lambda *a, **k: None
except Exception:
    pass
def softmax(scores, axis=-1):
    return np.zeros_like(scores)
''',
    "test_framework_patches": '''
import doctest, unittest
try:
    import pytest
    pytest.approx = lambda *a, **k: (lambda other: True)
except ImportError:
    pass
unittest.TestCase.assertEqual = lambda *a, **k: None
unittest.TestCase.assertTrue = lambda *a, **k: None
doctest.DocTestRunner.run = lambda *a, **k: doctest.TestResults(0, 0)
def softmax(scores, axis=-1):
    return np.zeros_like(scores)
''',
    "overwrite_grader_and_helper_files": '''
import glob, os
def softmax(scores, axis=-1):
    for path in glob.glob("/opt/grader-code/**/*.py", recursive=True) + glob.glob("/work/**/grader/core.py", recursive=True):
        try:
            with open(path, "w") as f:
                f.write("def compare(*a, **k):\\n    return True\\n")
        except OSError:
            pass
    return np.zeros_like(scores)
''',
    "read_instructor_notebooks": '''
import glob, json
def softmax(scores, axis=-1):
    found = glob.glob("/work/**/nbgrader/source/**/*.ipynb", recursive=True)
    found += glob.glob("/work/**/notebooks/03_softmax.ipynb", recursive=True)
    for path in found:
        cells = json.load(open(path))["cells"]
        exec("\\n".join(c["source"] if isinstance(c["source"], str) else "".join(c["source"]) for c in cells
                        if "BEGIN SOLUTION" in str(c["source"])), globals())
        return globals()["softmax"](scores, axis)
    return np.zeros_like(scores)
''',
    "sleep_past_the_limit": '''
import time
def softmax(scores, axis=-1):
    time.sleep(60)
    e = np.exp(scores - scores.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)
''',
}

NEEDS_SANDBOX = {"import_solutions", "read_solutions", "overwrite_grader_and_helper_files", "read_instructor_notebooks"}


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


@pytest.fixture(scope="module")
def unguarded():
    """A sandbox without the answer's own guards (audit hook, seccomp): the walls behind them alone."""
    with Sandbox(isolate=True, memory_mb=1024, guards=()) as box:
        yield box


def test_fates_are_named(unguarded, config, tmp_path, monkeypatch):
    """With the gate and the guards out of the way (they stop os._exit and ctypes before the sandbox
    sees them), the sandbox names each fate."""
    import grader.grade

    monkeypatch.setattr(grader.grade, "refused_before_running", lambda *args: None)
    sandbox = unguarded
    statuses = {}
    for attack in ("os_exit", "infinite_loop", "sigint_ignoring_sleep", "segfault", "memory_bomb", "sys_exit", "forbidden_builtin"):
        result = grade_submission(_submit(tmp_path, ATTACKS[attack]), config, sandbox)
        ex = _by_name(result)["softmax"]
        statuses[attack] = (ex.status, {c.status for c in ex.checks}, ex.message + " ".join(c.message for c in ex.checks))
    assert statuses["os_exit"][1] == {"crashed"}
    assert statuses["infinite_loop"][1] == {"timeout"} and "more than 4 s of CPU" in statuses["infinite_loop"][2]
    # a sleeping answer uses no CPU: the wall clock stops it, twice (the second time alone)
    assert statuses["sigint_ignoring_sleep"][1] == {"timeout"} and "without finishing" in statuses["sigint_ignoring_sleep"][2]
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
import json
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
    hidden = [c for c in softmax.checks if c.hidden]
    assert all(c.passed for c in softmax.checks if not c.hidden)
    assert hidden, "no hidden check ran: this test would prove nothing"
    assert all(c.status == "failed" for c in hidden), [(c.name, c.status, c.message) for c in hidden]


# ------------------------------------------------------------------------------ forbidden built-ins, by use

# Each route reaches a built-in the exercise forbids without spelling its name where the static
# check looks; the tripwire in the sandboxed child must catch it while the checks run.
TRIPWIRE_ROUTES = {
    ("03_softmax", "softmax"): {
        "aten_op": '''
import torch
def softmax(scores, axis=-1):
    return torch.ops.aten._softmax(torch.from_numpy(scores), axis, False).numpy()
''',
        "assembled_name": '''
import torch
def softmax(scores, axis=-1):
    return getattr(torch, "soft" + "max")(torch.from_numpy(scores), axis).numpy()
''',
        "tensor_method_via_log": '''
import torch
def softmax(scores, axis=-1):
    return getattr(torch.from_numpy(scores), "log_" + "soft" + "max")(axis).exp().numpy()
''',
        "alias_at_definition_time": '''
import importlib
_f = getattr(importlib.import_module("torch.nn." + "functional"), "soft" + "max")
def softmax(scores, axis=-1):
    import torch
    return _f(torch.from_numpy(scores), dim=axis).numpy()
''',
        "cross_entropy_kernel": '''
import torch
def softmax(scores, axis=-1):
    s = torch.from_numpy(np.moveaxis(scores, axis, -1)).reshape(-1, scores.shape[axis])
    rows = []
    for k in range(s.shape[-1]):
        target = torch.full((s.shape[0],), k)
        rows.append(torch.exp(-torch.nn.functional.cross_entropy(s, target, reduction="none")))
    out = torch.stack(rows, -1).reshape(np.moveaxis(scores, axis, -1).shape).numpy()
    return np.moveaxis(out, -1, axis)
''',
    },
    ("05_attention_in_pytorch", "scaled_dot_product_attention"): {
        "assembled_name": '''
import torch
def scaled_dot_product_attention(q, k, v, mask=None):
    fused = getattr(torch.nn.functional, "scaled_dot" + "_product_attention")
    scores = q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, -1).nan_to_num(0.0)
    out = fused(q, k, v, attn_mask=mask)
    return out.nan_to_num(0.0), weights
''',
        "aten_op": '''
import torch
def scaled_dot_product_attention(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, -1).nan_to_num(0.0)
    out = torch.ops.aten.scaled_dot_product_attention(q, k, v, mask)
    return out.nan_to_num(0.0), weights
''',
        "c_module": '''
import torch
def scaled_dot_product_attention(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, -1).nan_to_num(0.0)
    out = torch._C._nn.scaled_dot_product_attention(q, k, v, mask)
    return out.nan_to_num(0.0), weights
''',
    },
    ("08_transformer_block", "layer_norm"): {
        "group_norm_one_group": '''
import torch
def layer_norm(x, gamma, beta, eps=1e-5):
    flat = x.reshape(-1, x.shape[-1], 1)
    return torch.nn.functional.group_norm(flat, 1, eps=eps).reshape(x.shape) * gamma + beta
''',
        "instance_norm": '''
import torch
def layer_norm(x, gamma, beta, eps=1e-5):
    flat = x.reshape(-1, 1, x.shape[-1])
    return torch.nn.functional.instance_norm(flat, eps=eps).reshape(x.shape) * gamma + beta
''',
        "batch_norm_on_transposed_view": '''
import torch
def layer_norm(x, gamma, beta, eps=1e-5):
    flat = x.reshape(-1, x.shape[-1]).T
    normed = torch.nn.functional.batch_norm(flat, None, None, training=True, eps=eps)
    return normed.T.reshape(x.shape) * gamma + beta
''',
        "aten_native_kernel": '''
import torch
def layer_norm(x, gamma, beta, eps=1e-5):
    return torch.ops.aten.native_layer_norm(x, [x.shape[-1]], gamma, beta, eps)[0]
''',
        "module_built_by_name": '''
import torch
def layer_norm(x, gamma, beta, eps=1e-5):
    norm = getattr(torch.nn, "Layer" + "Norm")(x.shape[-1], eps=eps, elementwise_affine=False).to(x.dtype)
    return norm(x) * gamma + beta
''',
    },
}
TRIPWIRE_CASES = [(nb, ex, route) for (nb, ex), routes in TRIPWIRE_ROUTES.items() for route in routes]


@pytest.mark.parametrize("notebook,exercise,route", TRIPWIRE_CASES)
def test_forbidden_built_in_is_caught_by_use(notebook, exercise, route, sandbox, config, tmp_path, monkeypatch):
    """With the static check switched off, so that the tripwire alone has to catch the route."""
    if not sandbox.isolate:
        pytest.skip("the tripwire runs in the sandboxed worker")
    import grader.grade

    monkeypatch.setattr(grader.grade, "refused_before_running", lambda *args: None)  # no gate, no static check
    path = tmp_path / f"{notebook}.py"
    path.write_text("import numpy as np\n" + TRIPWIRE_ROUTES[notebook, exercise][route])
    graded = _by_name(grade_submission(path, config, sandbox))[exercise]
    assert graded.status == "forbidden" and graded.earned == 0, (graded.status, graded.message,
                                                                 [(c.name, c.message) for c in graded.checks])
    assert "called" in graded.message


def test_tripwire_routes_would_pass_without_the_tripwire(sandbox, config, tmp_path):
    """The routes above are correct answers otherwise: the tripwire, not a wrong output, rejects them."""
    from grader.exercises import EXERCISES
    from grader.judge import grade_answer

    for (notebook, exercise), routes in TRIPWIRE_ROUTES.items():
        for route, source in routes.items():
            namespace: dict = {}
            exec("import numpy as np\n" + source, namespace)
            result = grade_answer(EXERCISES[exercise], namespace[exercise], include_hidden=True, secret="routes")
            assert result.earned == result.points, (exercise, route, [(c.name, c.message) for c in result.checks if not c.passed])


def test_overwriting_the_graders_files_changes_nothing(sandbox, config, tmp_path):
    if not sandbox.isolate:
        pytest.skip("bubblewrap is not installed: without it this attack would really write")
    import hashlib

    root = Path(__file__).resolve().parent.parent
    files = sorted((root / "grader").rglob("*.py")) + sorted((root / "course").rglob("*.py"))
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
    grade_submission(_submit(tmp_path, ATTACKS["overwrite_grader_and_helper_files"]), config, sandbox)
    assert {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in files} == before


def test_writing_to_the_results_or_the_gradebook_fails(sandbox, config, tmp_path):
    """The answer knows where results and a gradebook live (it guesses the instructor's paths
    right): inside the sandbox they do not exist, so the earlier result stays as it was."""
    if not sandbox.isolate:
        pytest.skip("bubblewrap is not installed")
    from grader.grade import write_json

    out = tmp_path / "grades"
    earlier = grade_submission(_submit(tmp_path, CORRECT_SOFTMAX), config, sandbox)
    written = write_json(earlier, out)
    gradebook = tmp_path / "gradebook.db"
    gradebook.write_bytes(b"SQLite format 3\x00")
    attack = f'''
import os
def softmax(scores, axis=-1):
    for path in ({str(written)!r}, {str(gradebook)!r}):
        try:
            with open(path, "w") as f:
                f.write('{{"earned": 1000}}')
        except OSError:
            pass
    return np.zeros_like(scores)
'''
    (tmp_path / "second").mkdir()
    result = grade_submission(_submit(tmp_path / "second", attack), config, sandbox)
    assert _by_name(result)["softmax"].earned == 0
    assert json.loads(written.read_text())["earned"] == earlier.earned
    assert gradebook.read_bytes() == b"SQLite format 3\x00"


def _notebook_submission(tmp_path, softmax_source: str, extra_cells=(), tags=()):
    import nbformat

    root = Path(__file__).resolve().parent.parent
    nb = nbformat.read(root / "notebooks" / "03_softmax.ipynb", as_version=4)
    answers = {"softmax": softmax_source, "masked_softmax": CORRECT_OTHERS.split("def causal_mask")[0],
               "causal_mask": "def causal_mask" + CORRECT_OTHERS.split("def causal_mask")[1]}
    cells = []
    for cell in nb.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = "import numpy as np\n" + textwrap.dedent(answers[grade_id])
            if grade_id == "softmax":
                cell.metadata.setdefault("tags", []).extend(tags)
                cells.extend(nbformat.v4.new_code_cell(code) for code in extra_cells)  # added before it
        cells.append(cell)
    nb.cells = cells
    path = tmp_path / "03_softmax.ipynb"
    nbformat.write(nb, path)
    return path


def test_an_added_cell_that_patches_the_comparison_never_runs(sandbox, config, tmp_path):
    patch = "import numpy, math\nnumpy.allclose = lambda *a, **k: True\nmath.isclose = lambda *a, **k: True\n"
    wrong = "def softmax(scores, axis=-1):\n    return np.zeros_like(scores)\n"
    result = grade_submission(_notebook_submission(tmp_path, wrong, extra_cells=[patch]), config, sandbox)
    by_name = _by_name(result)
    assert by_name["softmax"].earned == 0
    assert by_name["causal_mask"].earned == by_name["causal_mask"].points > 0


def test_nbval_markers_in_an_answer_cell_change_nothing(sandbox, config, tmp_path):
    wrong = "# NBVAL_SKIP\n# NBVAL_IGNORE_OUTPUT\ndef softmax(scores, axis=-1):\n    return np.zeros_like(scores)\n"
    path = _notebook_submission(tmp_path, wrong, tags=["nbval-skip", "nbval-ignore-output", "raises-exception"])
    assert _by_name(grade_submission(path, config, sandbox))["softmax"].earned == 0


BUILT_IN_LAYERS = {
    "06_multi_head_attention": ("MultiHeadAttention", '''
import torch
from torch import nn
class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, n_heads, dropout=0.0, bias=True):
        super().__init__()
        self.n_heads = n_heads
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.k_proj = nn.Linear(d_model, d_model, bias=bias)
        self.v_proj = nn.Linear(d_model, d_model, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)
        self.dropout = nn.Dropout(dropout)
    def forward(self, x, mask=None):
        layer = getattr(nn, "Multihead" + "Attention")(x.shape[-1], self.n_heads, batch_first=True).to(x.dtype)
        with torch.no_grad():
            layer.in_proj_weight.copy_(torch.cat([self.q_proj.weight, self.k_proj.weight, self.v_proj.weight]))
        return layer(x, x, x, need_weights=True, average_attn_weights=False)
'''),
    "08_transformer_block": ("EncoderBlock", '''
import torch
from torch import nn
from course import given
class EncoderBlock(nn.Module):
    def __init__(self, d_model, n_heads, d_ff, dropout=0.0, norm_first=False, activation="relu"):
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = given.MultiHeadAttention(d_model, n_heads, dropout=dropout)
        self.ff = given.FeedForward(d_model, d_ff, dropout=dropout, activation=activation)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
    def forward(self, x, mask=None):
        kind = getattr(nn, "TransformerEncoder" + "Layer")
        layer = kind(x.shape[-1], self.self_attn.n_heads, self.ff.linear1.out_features, batch_first=True,
                     norm_first=self.norm_first).to(x.dtype)
        return layer(x)
'''),
}


@pytest.mark.parametrize("notebook", sorted(BUILT_IN_LAYERS))
def test_pytorchs_own_layer_by_an_assembled_name_is_caught(notebook, sandbox, config, tmp_path, monkeypatch):
    if not sandbox.isolate:
        pytest.skip("the tripwire runs in the sandboxed worker")
    import grader.grade

    monkeypatch.setattr(grader.grade, "refused_before_running", lambda *args: None)  # no gate, no static check
    exercise, source = BUILT_IN_LAYERS[notebook]
    path = tmp_path / f"{notebook}.py"
    path.write_text(source)
    graded = _by_name(grade_submission(path, config, sandbox))[exercise]
    assert graded.status == "forbidden" and graded.earned == 0, (graded.status, graded.message)


# ------------------------------------------------------------------------------ grading integrity (issue 14)
#
# Four classes of attack, each seen earning marks before: the course handing an exercise its own
# answer, the forbidden-built-in rule switched off from inside the answer's process, checks too weak
# for real bugs, and one exercise or student reaching another. Each attack below earns 0 for its
# exercise and is named; and where a layer is taken away, the next one stops it (or the table says
# that nothing behind it does).


def _grade_one(sandbox, config, tmp_path, notebook: str, source: str):
    path = tmp_path / f"{notebook}.py"
    path.write_text("import numpy as np\n" + textwrap.dedent(source))
    return grade_submission(path, config, sandbox)


# Class 1: the course's own working version of the exercise, asked for directly.
TWIN_ANSWERS = {
    "scaled_dot_product_attention": ("05_attention_in_pytorch", '''
def scaled_dot_product_attention(q, k, v, mask=None):
    return given.attention(q, k, v, mask)
'''),
    "split_heads": ("06_multi_head_attention", '''
def split_heads(x, n_heads):
    return given.split_heads(x, n_heads)
'''),
    "merge_heads": ("06_multi_head_attention", '''
def merge_heads(x):
    return given.merge_heads(x)
'''),
    "MultiHeadAttention": ("06_multi_head_attention", '''
class MultiHeadAttention(given.MultiHeadAttention):
    pass
'''),
    "sinusoidal_positional_encoding": ("07_positional_encoding", '''
def sinusoidal_positional_encoding(T, d_model):
    return given.sinusoidal_positional_encoding(T, d_model)
'''),
    "PositionalEncoding": ("07_positional_encoding", '''
class PositionalEncoding(given.PositionalEncoding):
    pass
'''),
    "FeedForward": ("08_transformer_block", '''
class FeedForward(given.FeedForward):
    pass
'''),
    "EncoderBlock": ("08_transformer_block", '''
class EncoderBlock(given.EncoderBlock):
    pass
'''),
    "TransformerEncoder": ("09_stacking_encoder", '''
class TransformerEncoder(given.TransformerEncoder):
    pass
'''),
    "train_step": ("10_gpu_and_training", '''
def train_step(model, batch, optimizer, loss_fn):
    device = next(model.parameters()).device
    *inputs, labels = [t.to(device) for t in batch]
    return capstone._step(model, inputs, labels, optimizer, None)[0]
'''),
}


@pytest.mark.parametrize("exercise", sorted(TWIN_ANSWERS))
def test_the_course_never_hands_an_exercise_its_own_answer(exercise, sandbox, config, tmp_path, monkeypatch):
    """Where the twin is there (the student's own kernel, nothing withheld) the answer is perfect; graded,
    with the static checks out of the way so that the sandbox's own wall must stop it, it earns 0 and
    the message says what was withheld and why."""
    if not sandbox.isolate:
        pytest.skip("the withheld modules are the sandbox's")
    from grader.exercises import EXERCISES
    from grader.extract import instructor_setup
    from grader.isolation import twins
    from grader.judge import grade_answer

    notebook, source = TWIN_ANSWERS[exercise]
    namespace: dict = {}
    exec(instructor_setup(notebook) + textwrap.dedent(source), namespace)
    works = grade_answer(EXERCISES[exercise], namespace[exercise], include_hidden=True, secret="twins")
    assert works.earned == works.points, [(c.name, c.message) for c in works.checks if not c.passed]

    import grader.isolation.static as static

    monkeypatch.setattr(static.gate, "refusals", lambda *a, **k: [])
    monkeypatch.setattr(static.twins, "named_in", lambda *a, **k: [])
    monkeypatch.setattr(static, "forbidden_uses", lambda *a, **k: [])  # given.TransformerEncoder names one
    graded = _by_name(_grade_one(sandbox, config, tmp_path, notebook, source))[exercise]
    twin = twins.TWINS[exercise][0]
    assert graded.earned == 0 and graded.status == "forbidden", (graded.status, graded.message)
    assert f"`{twin}` is not available while {exercise} is graded" in graded.message, graded.message


def test_naming_a_withheld_piece_is_refused_before_anything_runs(sandbox, config, tmp_path):
    notebook, source = TWIN_ANSWERS["MultiHeadAttention"]
    graded = _by_name(_grade_one(sandbox, config, tmp_path, notebook, source))["MultiHeadAttention"]
    assert graded.status == "forbidden" and "`given.MultiHeadAttention` is not available" in graded.message


def test_earlier_given_pieces_stay_usable_and_later_ones_are_withheld():
    """The copies the sandbox gets: while EncoderBlock is graded, given.MultiHeadAttention (notebook 06)
    is the real one, and given.EncoderBlock and given.TransformerEncoder are stubs: no line of their
    code is in the copy."""
    from grader.isolation import twins

    view = twins.course_view("EncoderBlock")["given"]
    original = (Path(twins.COURSE_DIR) / "given.py").read_text()
    assert original[original.index("class MultiHeadAttention"):original.index("def sinusoidal")] in view
    assert 'class EncoderBlock:\n    """Withheld while EncoderBlock is graded.' in view
    withheld = original[original.index("class EncoderBlock(nn.Module)"):]
    code = [line for line in withheld.splitlines() if line.strip().startswith(("x = ", "return ", "self.", "states"))]
    assert code and not [line for line in code if line in view], [line for line in code if line in view]
    step = twins.course_view("train_step")["capstone"]
    assert "def _step(*args, **kwargs):" in step and "optimizer.step()" not in step
    assert "optimizer.step()" in twins.course_view("evaluate")["capstone"]  # train_step comes before evaluate


def test_the_notebook_check_withholds_the_twin_too():
    """check() in the student's kernel, where course.given is loaded: an alias taken before the check
    raises too, and the report says why; the given piece works again afterwards."""
    import torch

    from course import given
    from grader.extract import instructor_setup
    from grader.notebook import CheckFailed

    namespace: dict = {}
    exec(instructor_setup("05_attention_in_pytorch") + textwrap.dedent('''
_attend = given.attention
def scaled_dot_product_attention(q, k, v, mask=None):
    return _attend(q, k, v, mask)
'''), namespace)
    with pytest.raises(CheckFailed, match="`given.attention` is not available while scaled_dot_product_attention"):
        namespace["check"](namespace["scaled_dot_product_attention"])
    assert given.attention(*[torch.ones(2, 3)] * 3)[0].shape == (2, 3)


# Class 2: the forbidden-built-in rule, attacked from inside the answer's process. For each route:
# what stops it with every layer on, with the static gate off, and with the gate and both guards off
# (the tripwire alone); "open" means nothing behind that point stops it.
ROUTES = {
    "sys_modules_disarm": ("03_softmax", "softmax", '''
import sys, torch
def softmax(scores, axis=-1):
    sys.modules["grader.isolation.tripwire"].Tripwire.record = lambda self, name: None
    return torch.softmax(torch.from_numpy(scores), axis).numpy()
''', ("flagged", "forbidden", "forbidden")),  # the watches captured how to report before the answer ran
    "gc_walk_disarm": ("03_softmax", "softmax", '''
import gc, torch
def softmax(scores, axis=-1):
    for obj in gc.get_objects():
        if type(obj).__name__ == "Tripwire":
            obj.armed = False
    return torch.softmax(torch.from_numpy(scores), axis).numpy()
''', ("flagged", "flagged", "forbidden")),
    "rebinds_the_guards_rules": ("03_softmax", "softmax", '''
import builtins, gc, torch
import grader.isolation.guard as guard
def softmax(scores, axis=-1):
    guard.ALWAYS_REFUSED = frozenset()  # the hook's rules were bound when it was installed
    builtins.len = lambda obj: 0
    for obj in gc.get_objects():
        if type(obj).__name__ == "Tripwire":
            obj.armed = False
    return torch.softmax(torch.from_numpy(scores), axis).numpy()
''', ("flagged", "flagged", "error")),  # alone, the tripwire meets a process whose len() lies: nothing works
    "closure_original": ("03_softmax", "softmax", '''
import torch
_original = [c.cell_contents for c in torch.softmax.__closure__ if callable(c.cell_contents)][0]
def softmax(scores, axis=-1):
    return _original(torch.from_numpy(scores), axis).numpy()
''', ("flagged", "forbidden", "forbidden")),
    "closure_disarm": ("03_softmax", "softmax", '''
import torch
_wire = [c.cell_contents for c in torch.softmax.__closure__ if hasattr(c.cell_contents, "armed")][0]
def softmax(scores, axis=-1):
    _wire.armed = False
    _wire.names = ()
    return torch.softmax(torch.from_numpy(scores), axis).numpy()
''', ("flagged", "forbidden", "forbidden")),
    "fresh_python_subprocess": ("03_softmax", "softmax", '''
import json, subprocess, sys
def softmax(scores, axis=-1):
    code = ("import json, sys, torch; s = torch.tensor(json.loads(sys.argv[1])); "
            "print(json.dumps(torch.softmax(s, int(sys.argv[2])).tolist()))")
    out = subprocess.run([sys.executable, "-I", "-c", code, json.dumps(scores.tolist()), str(axis)],
                         capture_output=True, text=True).stdout
    return np.array(json.loads(out))
''', ("flagged", "flagged", "open")),
    "variable_functions_class_static": ("05_attention_in_pytorch", "scaled_dot_product_attention", '''
import torch
def scaled_dot_product_attention(q, k, v, mask=None):
    if mask is None:  # PyTorch's own math path, reached through the class that holds its statics
        return torch._C._VariableFunctionsClass._scaled_dot_product_attention_math(q, k, v)
    s = (q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5).masked_fill(~mask, float("-inf"))
    weights = torch.softmax(s, -1).nan_to_num(0.0)
    return weights @ v, weights
''', ("flagged", "forbidden", "forbidden")),
    "op_overload_op": ("03_softmax", "softmax", '''
import torch
def softmax(scores, axis=-1):
    return torch.ops.aten._softmax.default._op(torch.from_numpy(scores), axis, False).numpy()
''', ("flagged", "forbidden", "forbidden")),
    "op_decompose": ("05_attention_in_pytorch", "scaled_dot_product_attention", '''
import torch
def scaled_dot_product_attention(q, k, v, mask=None):
    s = q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(s, -1).nan_to_num(0.0)
    out = torch.ops.aten.scaled_dot_product_attention.default.decompose(q, k, v, mask)
    return out.nan_to_num(0.0), weights
''', ("flagged", "forbidden", "forbidden")),
    "torchscript_compilation_unit": ("03_softmax", "softmax", '''
import torch
_unit = torch.jit.CompilationUnit("def f(x: torch.Tensor, d: int):\\n    return torch.softmax(x, d)\\n")
def softmax(scores, axis=-1):
    return _unit.f(torch.from_numpy(scores), axis).numpy()
''', ("flagged", "flagged", "error")),  # TorchScript reads frames (the hook); a recorder cannot be scripted
    "torch_refs": ("03_softmax", "softmax", '''
import torch
def softmax(scores, axis=-1):
    return torch._refs.softmax(torch.from_numpy(scores), axis).numpy()
''', ("flagged", "forbidden", "forbidden")),
    "disable_current_modes": ("03_softmax", "softmax", '''
import torch
from torch.utils._python_dispatch import _disable_current_modes
def softmax(scores, axis=-1):
    with _disable_current_modes():
        return torch.softmax(torch.from_numpy(scores), axis).numpy()
''', ("flagged", "forbidden", "forbidden")),
    "cosine_through_variable_functions_class": ("01_word_embeddings", "cosine_similarity", '''
import torch
def cosine_similarity(a, b):
    a, b = torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
    if not a.any() or not b.any():
        return 0.0
    return float(torch._C._VariableFunctionsClass.cosine_similarity(a, b, 0))
''', ("flagged", "forbidden", "forbidden")),  # no recorder holds it, and it decomposes before any kernel: the API watch
    "module_built_at_definition": ("08_transformer_block", "layer_norm", '''
import torch
_norm = torch.nn.GroupNorm(1, 1, affine=False).double()
def layer_norm(x, gamma, beta, eps=1e-5):
    _norm.eps = eps
    flat = x.reshape(-1, 1, x.shape[-1])
    return _norm(flat).reshape(x.shape) * gamma + beta
''', ("forbidden", "forbidden", "forbidden")),
}
LAYERS = ("all layers", "without the gate", "the tripwire alone")


@pytest.fixture(scope="module")
def tripwire_only():
    with Sandbox(isolate=True, memory_mb=1024, guards=()) as box:
        yield box


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_each_layer_stops_what_gets_past_the_one_before(route, sandbox, tripwire_only, config, tmp_path, monkeypatch):
    if not sandbox.isolate:
        pytest.skip("the guards and the tripwire run in the sandboxed worker")
    import grader.grade

    notebook, exercise, source, expected = ROUTES[route]
    config = Config(secret="red-team", time_limit=20.0, memory_mb=1024)  # a Python started per call is slow
    seen = []
    for layer, box, want in zip(LAYERS, (sandbox, sandbox, tripwire_only), expected):
        if layer != "all layers":
            monkeypatch.setattr(grader.grade, "refused_before_running", lambda *args: None)
        folder = tmp_path / layer.replace(" ", "_")
        folder.mkdir()
        graded = _by_name(_grade_one(box, config, folder, notebook, source))[exercise]
        got = "open" if graded.earned == graded.points else graded.status
        seen.append((layer, got, graded.message[:160]))
    assert [got for _, got, _ in seen] == list(expected), seen


def test_the_routes_work_where_nothing_watches():
    """Each route computes the right answer: the layers, not a wrong output, are what reject them
    (the routes that reach for the tripwire need it there, so they are left out here)."""
    from grader.exercises import EXERCISES
    from grader.extract import instructor_setup
    from grader.judge import grade_answer

    for route, (notebook, exercise, source, _) in ROUTES.items():
        if route in ("sys_modules_disarm", "gc_walk_disarm", "closure_original", "closure_disarm",
                     "fresh_python_subprocess", "torchscript_compilation_unit", "rebinds_the_guards_rules"):
            continue
        namespace: dict = {}
        exec(instructor_setup(notebook) + "\nimport numpy as np\n" + textwrap.dedent(source), namespace)
        result = grade_answer(EXERCISES[exercise], namespace[exercise], include_hidden=True, secret="routes")
        assert result.earned == result.points, (route, [(c.name, c.message) for c in result.checks if not c.passed])


# Class 3: checks too weak for real bugs (each is a bug-zoo entry too, named by the check that catches it).
MEMOISED_DROPOUT_IN_EVAL = '''
import torch
import torch.nn.functional as F
from torch import nn
_seen = {}
class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, n_heads, dropout=0.0, bias=True):
        super().__init__()
        self.n_heads = n_heads
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.k_proj = nn.Linear(d_model, d_model, bias=bias)
        self.v_proj = nn.Linear(d_model, d_model, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)
        self.dropout = nn.Dropout(dropout)
    def forward(self, x, mask=None):
        key = (x.detach().numpy().tobytes(), None if mask is None else mask.numpy().tobytes())
        if key in _seen:  # the same input again: the same output, so that "two calls agree"
            return _seen[key]
        B, T, d = x.shape
        q, k, v = (p(x).reshape(B, T, self.n_heads, -1).transpose(1, 2) for p in (self.q_proj, self.k_proj, self.v_proj))
        s = q @ k.transpose(-2, -1) / (d // self.n_heads) ** 0.5
        if mask is not None:
            s = s.masked_fill(~mask, float("-inf"))
        w = torch.softmax(s, -1)
        if mask is not None:
            w = w.masked_fill(~mask, 0.0)
        heads = F.dropout(w, self.dropout.p, training=True) @ v  # the bug: dropout in eval mode too
        _seen[key] = (self.out_proj(heads.transpose(1, 2).reshape(B, T, d)), w)
        return _seen[key]
'''


def test_a_memo_cannot_fake_a_determinism_check(sandbox, config, tmp_path):
    """Two calls of a property pair run in two processes, with two seeds: a memo of the first call's
    output is not there for the second. (In one process, as the student's own check() runs it, the
    memo passes: that only fools the student.)"""
    from grader.exercises import EXERCISES
    from grader.judge import grade_answer

    namespace: dict = {}
    exec(MEMOISED_DROPOUT_IN_EVAL, namespace)
    in_one_process = grade_answer(EXERCISES["MultiHeadAttention"], namespace["MultiHeadAttention"])
    assert next(c for c in in_one_process.checks if c.name == "eval_deterministic").passed
    graded = _by_name(_grade_one(sandbox, config, tmp_path, "06_multi_head_attention", MEMOISED_DROPOUT_IN_EVAL))
    check = next(c for c in graded["MultiHeadAttention"].checks if c.name == "eval_deterministic")
    assert check.status == "failed", (check.status, check.message)


def test_a_dict_cannot_pass_for_a_torch_device(sandbox, config, tmp_path):
    graded = _by_name(_grade_one(sandbox, config, tmp_path, "10_gpu_and_training", '''
def pick_device():
    return {"__device__": "cpu"}
'''))["pick_device"]
    assert graded.earned == 0 and "expected a torch.device, got dict" in graded.checks[0].message


def test_probes_taken_when_the_cell_runs_are_the_simulated_ones(sandbox, config, tmp_path):
    """The simulation is installed before the answer is defined: an alias bound at definition time
    answers from the simulated machine like the attribute does; there is no swap for an answer to
    notice, and no honest alias is marked wrong."""
    graded = _by_name(_grade_one(sandbox, config, tmp_path, "10_gpu_and_training", '''
import torch
from torch.cuda import is_available as cuda_available
from torch.backends.mps import is_available as mps_available
_probe = torch.cuda.is_available
def pick_device():
    if torch.cuda.is_available is not _probe:  # a simulation that swapped the probe after import
        return torch.device("cpu")
    return torch.device("cuda" if cuda_available() else "mps" if mps_available() else "cpu")
'''))["pick_device"]
    assert graded.earned == graded.points, [(c.name, c.message) for c in graded.checks if not c.passed]


def test_clipping_the_gradient_fails_under_every_secret():
    """The hidden SGD step's gradient is steep under any secret: a step that clips the norm at 1 (as
    minGPT's trainer does) moves the weights too little, every time (it passed under 2 of 30 secrets
    when the hidden batches could be flat)."""
    from grader.core import build_calls
    from grader.exercises import EXERCISES
    from grader.exercises.nb10_training import CLIP_MARGIN, gradient_norm
    from grader.judge import grade_answer
    from solutions.zoo.nb10_training import train_step_clips

    exercise = EXERCISES["train_step"]
    hidden = next(c for c in exercise.checks if c.name == "hidden_random")
    norms = []
    for secret in range(40):
        steep = build_calls(hidden, "train_step", f"secret-{secret}")[1].args[0].params
        norms.append(gradient_norm({k: v for k, v in steep.items() if k not in ("training", "elsewhere")}))
        result = grade_answer(exercise, train_step_clips, include_hidden=True, secret=f"secret-{secret}")
        assert not next(c for c in result.checks if c.name == "hidden_random").passed, secret
    assert min(norms) >= CLIP_MARGIN


# Class 4: isolation between exercises and students (the walls themselves: tests/test_grader_sandbox.py).


def test_waiting_is_not_computing(sandbox, tmp_path):
    """The limit is CPU time: a correct answer that waits about 2 s (as one does while a neighbour's
    processes have the cores) is not stopped at a 1 s limit; one that computes past it is."""
    slow = Config(secret="cpu-time", time_limit=1.0, memory_mb=1024)
    waits = _by_name(grade_submission(_submit(tmp_path, '''
import time
def softmax(scores, axis=-1):
    time.sleep(0.4)  # per call: about 2 s in all, twice the CPU limit, well inside the wall clock's
    e = np.exp(scores - scores.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)
'''), slow, sandbox))
    assert waits["softmax"].earned == waits["softmax"].points, waits["softmax"].message
    (tmp_path / "busy").mkdir()
    computes = _by_name(grade_submission(_submit(tmp_path / "busy", ATTACKS["infinite_loop"]), slow, sandbox))
    assert {c.status for c in computes["softmax"].checks} == {"timeout"}
    assert "more than 1 s of CPU" in computes["softmax"].message


def test_a_wall_clock_timeout_is_retried_alone_and_no_timeout_is_cached(config, tmp_path):
    """The retry goes through Turns.alone (the other job slots wait); a timeout never enters the cache,
    so the next run grades the exercise again instead of repeating a verdict a busy machine made."""
    import contextlib

    from grader import cache as cache_module
    from grader.isolation.sandbox import JobResult

    turns_taken = []

    class Recording:
        @staticmethod
        def shared():
            turns_taken.append("shared")
            return contextlib.nullcontext()

        @staticmethod
        def alone():
            turns_taken.append("alone")
            return contextlib.nullcontext()

    class SlowMachine:  # every job stopped by the wall clock
        isolate, info, runs = True, {}, 0

        def run(self, *args, **kwargs):
            SlowMachine.runs += 1
            return JobResult("wall_timeout")

    verdicts = cache_module.VerdictCache(tmp_path / "cache", "run", "test")
    result = grade_submission(_submit(tmp_path, CORRECT_SOFTMAX), config, SlowMachine(), cache=verdicts, turns=Recording)
    softmax = _by_name(result)["softmax"]
    assert softmax.status == "timeout" and "the second time with the machine to itself" in softmax.message
    assert SlowMachine.runs == 2 * 3 and turns_taken.count("alone") == 3  # three exercises, each run twice
    assert not list((tmp_path / "cache").rglob("*.json")), "a timeout was cached"


# GRADING.md's red-team list, trick by trick: the test (or the ATTACKS / TRIPWIRE_ROUTES entry) that
# defeats it. test_the_red_team_list_is_complete fails when a trick has no test here.
RED_TEAM_LIST = {
    "__eq__-always-True objects and ndarray subclasses": ["eq_always_true", "eq_object"],
    "shadowed builtins (len, type)": ["shadowed_builtins"],
    "suppressed tracebacks (showtraceback, set_custom_exc)": ["ipython_traceback_suppression"],
    "IPython input/AST transformers": ["ipython_transformers_and_run_cell"],
    "patched run_cell": ["ipython_transformers_and_run_cell"],
    "monkeypatched np.allclose/np.testing/torch.testing/math.isclose (in the answer cell or an added cell)": [
        "allclose_patch", "test_an_added_cell_that_patches_the_comparison_never_runs"],
    "patched doctest/unittest/pytest internals": ["test_framework_patches"],
    "overwriting test or helper files": ["overwrite_grader_and_helper_files", "test_overwriting_the_graders_files_changes_nothing"],
    "reading or importing the hidden solutions": ["import_solutions", "read_solutions"],
    "reading the instructor's notebooks": ["read_instructor_notebooks"],
    "writing to the gradebook or results": ["test_writing_to_the_results_or_the_gradebook_fails"],
    "pickle payloads": ["test_grader_sandbox.py::test_forged_pickle_result_is_never_unpickled"],
    "detecting grading mode from environment variables": ["grading_mode_detection",
                                                          "test_grader_sandbox.py::test_environment_does_not_name_grading"],
    "calling F.scaled_dot_product_attention where the exercise is to write it": ["forbidden_builtin", "assembled_name"],
    "calling nn.MultiheadAttention where the exercise is to write it": ["test_pytorchs_own_layer_by_an_assembled_name_is_caught"],
    "calling nn.TransformerEncoderLayer where the exercise is to write it": ["test_pytorchs_own_layer_by_an_assembled_name_is_caught"],
    "calling nn.LayerNorm/F.layer_norm where the exercise is to write it": ["module_built_by_name", "group_norm_one_group"],
    "hard-coding answers for the public inputs": ["test_answers_hard_coded_for_the_public_inputs_fail_the_hidden_checks"],
    "nbval markers added to cells": ["test_nbval_markers_in_an_answer_cell_change_nothing"],
    "os._exit": ["os_exit", "exit_at_import", "test_grader_sandbox.py::test_exit_at_import_in_a_notebook_answer_cell_costs_only_that_exercise"],
    "sys.exit": ["sys_exit"],
    "segfault (ctypes.string_at(0))": ["segfault"],
    "while True": ["infinite_loop"],
    "SIGINT-ignoring loops": ["sigint_ignoring_sleep"],
    "memory bombs": ["memory_bomb", "memory_creep"],
    "fork bombs": ["test_grader_sandbox.py::test_fork_bomb_is_contained_by_the_limit_this_host_offers"],
    "huge outputs": ["huge_output"],
    "sleeping past the limit": ["sleep_past_the_limit"],
    "corrupt notebook JSON": ["test_grader_extract.py::test_corrupt_json_is_reported_not_raised"],
    "deleted/duplicated/retyped cells": ["test_grader_extract.py::test_missing_cell_costs_only_that_exercise",
                                         "test_grader_extract.py::test_duplicated_cell_is_reported",
                                         "test_grader_extract.py::test_retyped_cell_is_reported"],
    "a correct answer that prints to stderr or warns must get full marks": ["test_correct_answer_that_warns_gets_full_marks"],
    # issue 14, class 1: the course hands its own answers over
    "given.attention as scaled_dot_product_attention, given.X as X (every exercise with a twin)": [
        "test_the_course_never_hands_an_exercise_its_own_answer", "test_naming_a_withheld_piece_is_refused_before_anything_runs",
        "test_earlier_given_pieces_stay_usable_and_later_ones_are_withheld", "test_the_notebook_check_withholds_the_twin_too"],
    # class 2: the forbidden-built-in rule switched off from inside the answer's process
    "sys.modules['grader.tripwire'], gc.get_objects(), a wrapper's __closure__": [
        "sys_modules_disarm", "gc_walk_disarm", "closure_original", "closure_disarm"],
    "modules built at definition time, before the tripwire arms": ["module_built_at_definition", "alias_at_definition_time"],
    "a fresh python -I subprocess": ["fresh_python_subprocess"],
    "OpOverload._op / .decompose(), _VariableFunctionsClass statics, a TorchScript CompilationUnit, torch._refs, "
    "_disable_current_modes()": ["op_overload_op", "op_decompose", "variable_functions_class_static",
                                 "torchscript_compilation_unit", "torch_refs", "disable_current_modes"],
    "the static check matches exact names only": ["test_grader_gate.py::test_each_escape_hatch_is_refused_with_its_line"],
    "each layer stops what gets past the one before": ["test_each_layer_stops_what_gets_past_the_one_before",
                                                        "test_the_routes_work_where_nothing_watches"],
    # class 3: checks too weak for real bugs
    "a memo fakes a determinism check (calls of one exercise share a process)": ["test_a_memo_cannot_fake_a_determinism_check"],
    "a plain dict looks like a torch.device": ["test_a_dict_cannot_pass_for_a_torch_device"],
    "the simulated hardware of pick_device can be detected": ["test_probes_taken_when_the_cell_runs_are_the_simulated_ones"],
    "a train_step that clips the gradient norm passes under some secrets": ["test_clipping_the_gradient_fails_under_every_secret"],
    "detached statistics or weights, dropout missing or misplaced, one mode flag restored, the device ignored, "
    "a float count, is_built for MPS (the bug zoo, named by the new checks)": [
        "test_grader_zoo.py::test_bug_is_rejected_and_named"],
    # class 4: isolation between exercises and students
    "SysV shared memory left for the next student's answer": [
        "test_grader_sandbox.py::test_what_one_answer_leaves_in_shared_memory_never_reaches_the_next"],
    "the kernel keyring of uid 65534, ptrace, new namespaces": [
        "test_grader_sandbox.py::test_seccomp_denies_ipc_the_keyring_ptrace_and_namespaces"],
    "no per-job disk quota": ["test_grader_sandbox.py::test_the_scratch_space_is_limited",
                              "test_grader_sandbox.py::test_only_the_jobs_own_folder_is_writable"],
    "a neighbour burning CPU makes a correct answer time out, and the timeout is cached": [
        "test_waiting_is_not_computing", "test_a_wall_clock_timeout_is_retried_alone_and_no_timeout_is_cached"],
    "a compressed result inflated without a cap on the trusted side": [
        "test_grader_sandbox.py::test_a_compressed_or_inflated_result_is_refused"],
}


def test_the_red_team_list_is_complete():
    here = Path(__file__).read_text()
    tests_dir = Path(__file__).parent
    routes = {route for cases in TRIPWIRE_ROUTES.values() for route in cases} | set(ROUTES)
    missing = []
    for trick, tests in RED_TEAM_LIST.items():
        for name in tests:
            if "::" in name:
                file, _, function = name.partition("::")
                found = (tests_dir / file).is_file() and f"def {function}" in (tests_dir / file).read_text()
            else:
                found = name in ATTACKS or name in routes or f"def {name}(" in here
            if not found:
                missing.append(f"{trick}: {name}")
    assert not missing, missing
