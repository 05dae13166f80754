"""The static gate (grader/isolation/gate.py): it refuses what the red team needs, and nothing an
honest answer of this course writes.

Both directions are evidence: every reference answer, correct variant and bug-zoo entry (the zoo's
mistakes are honest too: they must be diagnosed, not refused), every code cell of the released
notebooks (demo cells and the given skeletons a student starts from) and the given pieces pass;
each construct below is refused with its line.
"""
from __future__ import annotations

import ast
import inspect
import textwrap
from pathlib import Path

import nbformat
import pytest

from grader import exercises
from grader import reference as hidden
from grader.isolation import gate

ROOT = Path(__file__).resolve().parent.parent


def _definitions(path: Path):
    text = path.read_text()
    for node in ast.parse(text).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            yield f"{path.relative_to(ROOT)}::{node.name}", ast.get_source_segment(text, node, padded=True)


def honest_sources():
    """(label, source) of everything an honest answer looks like."""
    for name in exercises.EXERCISES:
        yield f"reference {name}", inspect.getsource(hidden.reference(name))
        for item in hidden.variants(name):
            yield f"variant {name}/{item.id}", textwrap.dedent(inspect.getsource(item.impl))
        for item in hidden.bugs(name):
            yield f"bug {name}/{item.id}", textwrap.dedent(inspect.getsource(item.impl))
    for folder in ("solutions", "solutions/variants", "solutions/zoo"):  # their helpers too
        for path in sorted((ROOT / folder).glob("*.py")):
            if path.name != "__init__.py":
                yield from _definitions(path)
    yield from _definitions(ROOT / "course" / "given.py")
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
            if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade_id") != "setup":
                yield f"{path.name} cell {index}", cell.source


def test_no_honest_answer_and_no_notebook_cell_is_refused():
    refused = {label: [str(r) for r in gate.refusals(source)] for label, source in honest_sources()}
    refused = {label: found for label, found in refused.items() if found}
    assert not refused, refused


def test_the_evidence_is_all_there():
    """The honest set covers every exercise's reference, variants and bugs, and every notebook."""
    labels = [label for label, _ in honest_sources()]
    assert sum(label.startswith("variant ") for label in labels) >= 100
    assert sum(label.startswith("bug ") for label in labels) >= 200
    assert {label.split(" cell")[0] for label in labels if " cell " in label} == {
        p.name for p in (ROOT / "notebooks").glob("*.ipynb")}


REFUSED = {
    # introspection of the running interpreter
    "import gc\ngc.get_objects()": "import gc",
    "import inspect\ninspect.currentframe()": "import inspect",
    "import sys\nsys.modules['grader.isolation.tripwire']": "sys.modules",
    "import sys\nsys._getframe(1)": "sys._getframe",
    "f = lambda: 0\nf.__closure__": ".__closure__",
    "f = lambda: 0\nf.__globals__['x']": ".__globals__",
    "f = lambda: 0\nf.__code__": ".__code__",
    "object.__subclasses__()": ".__subclasses__",
    "x = 1\nx.__class__.__mro__": ".__mro__",
    "vars(object)": "vars",
    "globals()['x']": "globals",
    "__builtins__['getattr']": "__builtins__",
    "def g():\n    yield 1\ng().gi_frame": ".gi_frame",
    "try:\n    1 / 0\nexcept Exception as e:\n    e.__traceback__.tb_frame.f_back": ".__traceback__",
    # computed attribute names
    "f = lambda: 0\ngetattr(f, '__clo' + 'sure__')": "getattr(..., <a computed name>)",
    "import torch\nname = 'softmax'\ngetattr(torch, name)": "getattr(..., <a computed name>)",
    "import functools\nfunctools.partial(getattr, object)": "getattr",
    "import operator\noperator.attrgetter('x')": "operator.attrgetter",
    # native code, processes, dynamic code, unpickling
    "import ctypes": "import ctypes",
    "from ctypes import CDLL": "from ctypes import CDLL",
    "import subprocess": "import subprocess",
    "import os\nos.system('true')": "os.system",
    "import os\nos.fork()": "os.fork",
    "import os\nos.execv('/bin/true', ['true'])": "os.execv",
    "import os\nos._exit(0)": "os._exit",
    "import multiprocessing": "import multiprocessing",
    "eval('1')": "eval",
    "exec('x = 1')": "exec",
    "compile('1', 's', 'eval')": "compile",
    "__import__('os')": "__import__",
    "import importlib\nimportlib.import_module('gc')": "import importlib",
    "import pickle": "import pickle",
    "open('/etc/passwd')": "open",
    # PyTorch's private and lower layers
    "import torch\ntorch._C._nn.softmax": "torch._C",
    "import torch\ntorch.ops.aten._softmax": "torch.ops",
    "import torch\nt = torch\nt._refs.softmax": "torch._refs",
    "import torch\ntorch.jit.CompilationUnit('')": "torch.jit",
    "import torch\ntorch.compile(lambda x: x)": "torch.compile",
    "from torch.utils._python_dispatch import _disable_current_modes": "torch.utils._python_dispatch",
    "from torch import ops": "from torch import ops",
    "import torch.library": "import torch.library",
    "import torch\nop = None\nop._op": "._op",
    "import torch\nop = None\nop.decompose()": ".decompose",
    "import torch\ntorch.load('x')": "torch.load",
    "import grader": "import grader",
    "from solutions import softmax": "from solutions import softmax",
    "import course.given as g\nx = 1\ng._fused_attention": "._fused_attention",
}


@pytest.mark.parametrize("source,what", sorted(REFUSED.items()))
def test_each_escape_hatch_is_refused_with_its_line(source, what):
    found = gate.refusals(f"def softmax(scores, axis=-1):\n    pass\n\n{source}\n")
    assert any(what in r.what for r in found), (what, [str(r) for r in found])
    assert all(r.line >= 4 for r in found if what in r.what), found  # the line of the construct, not of the def


ALLOWED = [
    "import numpy as np\nimport math\nnp.exp(1) / math.sqrt(2)",
    "import torch\nfrom torch import nn\nimport torch.nn.functional as F\nF.relu(torch.ones(2))",
    "import sys\nprint('x', file=sys.stderr)\nsys.exit(0)",
    "import warnings\nwarnings.warn('x')",
    "class M:\n    def __init__(self):\n        super().__init__()\n        self._heads = 2\n    def f(self, n):\n"
    "        return getattr(self, f'{n}_proj'), self._heads, type(self).__name__",
    "import torch\nhasattr(torch.backends, 'mps') and getattr(torch, 'accelerator', None)",
    "import re, string\nre.findall(r'\\w+', 'a b'), string.punctuation",
    "import functools, operator\nfunctools.reduce(operator.mul, [2, 3])",
    "import dataclasses\n@dataclasses.dataclass\nclass P:\n    x: int = 1",
    "import torch\ntorch.__version__",
    "def f(x):\n    try:\n        return 1 / x\n    except ZeroDivisionError as exc:\n        raise ValueError('zero') from exc",
]


@pytest.mark.parametrize("source", ALLOWED)
def test_what_honest_code_does_passes(source):
    assert gate.refusals(source) == [], [str(r) for r in gate.refusals(source)]


def test_the_message_says_what_and_where_and_that_it_is_flagged():
    found = gate.refusals("import gc\ndef softmax(scores, axis=-1):\n    return gc.get_objects()\n")
    text = gate.describe(found)
    assert "line 1: import gc" in text and "was not run" in text and "flagged" in text


def test_a_syntax_error_is_left_to_the_sandbox():
    """The sandbox reports it with its line; the gate refuses nothing it cannot read."""
    assert gate.refusals("def softmax(:\n") == []
