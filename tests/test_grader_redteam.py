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
    with Sandbox(isolate=True, memory_mb=1024, guard=False) as box:
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
}


def test_the_red_team_list_is_complete():
    here = Path(__file__).read_text()
    tests_dir = Path(__file__).parent
    routes = {route for cases in TRIPWIRE_ROUTES.values() for route in cases}
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
