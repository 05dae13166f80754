"""How long does grading take, and what does isolation cost?

Builds one complete submission (every exercise of the course, answered with the reference
code) and grades it twice in this one run, side by side:
- isolated: the real path of `python -m grader grade` (bubblewrap sandbox, one forked child
  per exercise, plain data back, verdicts on the trusted side);
- in-process: the same checks calling the answers directly (what `check(...)` does).
Prints per-exercise times and the ratio; machines are noisy, so compare within one run.

    .venv/bin/python benchmarks/grading.py [--repeat 3]
"""
from __future__ import annotations

import argparse
import inspect
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from grader import reference  # noqa: E402
from grader.config import Config  # noqa: E402
from grader.exercises import EXERCISES  # noqa: E402
from grader.grade import grade_submission  # noqa: E402
from grader.judge import grade_answer  # noqa: E402
from grader.sandbox import Sandbox  # noqa: E402

HEADER = "import math\nimport re\nimport numpy as np\nimport torch\nimport torch.nn.functional as F\nfrom torch import nn\n"


def complete_submission(folder: Path) -> Path:
    """Every exercise answered with the reference's source, plus the helpers it uses."""
    reference.solutions_module()  # imports solutions.* so their sources can be read
    parts = [HEADER]
    for module_name in ("word_embeddings", "relevance", "softmax", "context_vectors", "attention", "multi_head",
                        "positional", "block", "encoder", "training", "probing"):
        module = sys.modules[f"solutions.{module_name}"]
        source = inspect.getsource(module)
        body = [line for line in source.splitlines() if not line.startswith(("from .", "import ", "from "))]
        parts.append("\n".join(body))
    path = folder / "complete_submission.py"
    path.write_text("\n\n".join(parts))
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)  # the worker's children use one thread too: same conditions
    config = Config(secret="benchmark", time_limit=60)
    with tempfile.TemporaryDirectory() as tmp:
        submission = complete_submission(Path(tmp))
        started = time.perf_counter()
        sandbox = Sandbox(isolate=True)
        sandbox.start()
        startup = time.perf_counter() - started
        isolated_runs, in_process_runs = [], []
        per_exercise: dict[str, list[tuple[float, float]]] = {name: [] for name in EXERCISES}
        try:
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                result = grade_submission(submission, config, sandbox)
                isolated_runs.append(time.perf_counter() - t0)
                assert result.earned == result.points, [(e.exercise, e.status, e.message) for e in result.exercises if e.earned < e.points]
                t_total = 0.0
                for name, exercise in EXERCISES.items():
                    t1 = time.perf_counter()
                    grade_answer(exercise, reference.reference(name), include_hidden=True, secret=config.secret)
                    in_process = time.perf_counter() - t1
                    t_total += in_process
                    per_exercise[name].append((in_process, _isolated_one(name, submission, config, sandbox)))
                in_process_runs.append(t_total)
        finally:
            sandbox.close()
    print(f"sandbox start (bubblewrap + python + import torch): {startup:.2f} s; isolated: {sandbox.isolate}")
    print(f"complete submission, {len(EXERCISES)} exercises, public + hidden checks:")
    print(f"  isolated   median {statistics.median(isolated_runs):.2f} s  (runs: {', '.join(f'{t:.2f}' for t in isolated_runs)})")
    print(f"  in-process median {statistics.median(in_process_runs):.2f} s")
    print(f"  ratio isolated / in-process: {statistics.median(isolated_runs) / statistics.median(in_process_runs):.2f}")
    print(f"\n{'exercise':<32}{'in-process ms':>15}{'isolated ms':>13}{'overhead ms':>13}")
    overheads = []
    for name, samples in per_exercise.items():
        a = statistics.median(s[0] for s in samples) * 1000
        b = statistics.median(s[1] for s in samples) * 1000
        overheads.append(b - a)
        print(f"{name:<32}{a:>15.1f}{b:>13.1f}{b - a:>13.1f}")
    print(f"\nmedian per-exercise isolation overhead: {statistics.median(overheads):.1f} ms")


def _isolated_one(name: str, submission: Path, config: Config, sandbox: Sandbox) -> float:
    """Grade a single exercise of the submission through the sandbox; seconds."""
    from grader.extract import dependencies, extract
    from grader.grade import grade_exercise

    extracted = extract(submission)
    exercise = EXERCISES[name]
    t0 = time.perf_counter()
    grade_exercise(exercise, extracted.answers[name], extracted.setups[exercise.notebook],
                   dependencies(name, extracted.answers), sandbox, config, include_hidden=True)
    return time.perf_counter() - t0


if __name__ == "__main__":
    main()
