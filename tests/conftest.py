"""Shared fixtures for the tests of the hidden reference (``solutions``).

``solutions`` is imported as a top-level package, so ``PYTHONPATH`` chooses which copy is
tested (mutation checks run the suite against a broken copy). Note that ``python -m pytest``
puts the current directory first on ``sys.path``: to test another copy, run from outside the
repository or with ``python -P -m pytest`` (Python >= 3.11). The header of the pytest report
says which copy was imported.
"""
import importlib.util
import os
import sys

# One BLAS/OpenMP thread per process, set before torch is imported and inherited by every kernel,
# nbgrader run and grader that the tests start: the suite runs several of them per core (make test
# runs >= 4 workers), and OpenMP threads fighting for busy cores spin instead of working (the
# capstone's training took 26 s with 2 threads on a loaded 2-core machine, 4 s with one).
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if importlib.util.find_spec("solutions") is None:  # e.g. the `pytest` script run from the repo root
    sys.path.append(REPO_ROOT)  # appended: PYTHONPATH still wins

# As in a notebook (its imports cell imports torch, then the grader): pick_device's probes are the
# grader's pass-through ones before any answer (a variant, a zoo entry, a test's own) binds them.
from grader.core import install_simulation  # noqa: E402

install_simulation()


def pytest_report_header(config):
    spec = importlib.util.find_spec("solutions")
    return f"solutions under test: {spec.origin if spec else 'NOT FOUND'}"


@pytest.fixture
def rng():
    """A seeded numpy generator (fresh per test)."""
    return np.random.default_rng(20240607)


@pytest.fixture(scope="module")
def torch_single_thread():
    """One intra-op thread for modules of tiny tensors: several threads per tiny op only add
    contention (5x slower on a loaded 2-core machine, worse under pytest-xdist). Restored after."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(autouse=True)
def _seed_torch():
    """Every test starts from the same torch RNG state."""
    torch.manual_seed(0)


def _reference_sinusoids(T: int, d_model: int) -> torch.Tensor:
    """The course's interleaved sinusoids, by a direct loop over the formula (float64)."""
    pe = torch.zeros(T, d_model, dtype=torch.float64)
    for pos in range(T):
        for j in range(d_model):
            two_i = j - (j % 2)
            angle = pos / 10000 ** (two_i / d_model)
            pe[pos, j] = np.sin(angle) if j % 2 == 0 else np.cos(angle)
    return pe


@pytest.fixture(scope="session")
def sinusoids():
    """``sinusoids(T, d_model)``: pe[pos, 2i] = sin(pos / 10000**(2i/d)), pe[pos, 2i+1] = cos(...)."""
    return _reference_sinusoids


def pytest_terminal_summary(terminalreporter):
    """Print the files that tests kept for people to look at (``record_property("artifact", ...)``,
    e.g. the browser test's screenshot); under pytest-xdist the reports carry them back."""
    lines = dict.fromkeys(
        value
        for reports in terminalreporter.stats.values()
        for report in reports
        for name, value in getattr(report, "user_properties", ())
        if name == "artifact"
    )
    if lines:
        terminalreporter.write_sep("-", "test artifacts")
        for line in lines:
            terminalreporter.write_line(line)


# The longest files first, so that pytest-xdist (`--dist loadfile`, which deals files out in order,
# in turns) starts them at once on different workers instead of finding them last. Measured
# durations, longest first; `make test` runs at least 4 workers (on 2 cores, 4 workers fill the time
# that kernels, nbgrader and sandboxes spend starting and waiting: 6.4 min with 3, 7.3 with 2).
LONGEST_FIRST = ("test_nbgrader_e2e_torch.py", "test_nbgrader_e2e_capstone.py", "test_nbgrader_e2e.py",
                 "test_notebooks.py", "test_notebooks_released.py", "test_grader_batch.py",
                 "test_grader_bundle.py", "test_grader_sandbox.py", "test_grader_redteam.py",
                 "test_browser.py", "test_grader_export.py")


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest keeps its order
