"""How long does grading take, and what does isolation cost?

Builds one complete submission (every exercise of the course, answered with the reference
code) and grades it twice in this one run, side by side:
- isolated: the real path of `python -m grader grade` (bubblewrap sandbox, one forked child
  per exercise, plain data back, verdicts on the trusted side);
- in-process: the same checks calling the answers directly (what `check(...)` does).
Prints per-exercise times and the ratio; machines are noisy, so compare within one run.

    .venv/bin/python benchmarks/grading.py [--repeat 3]
    .venv/bin/python benchmarks/grading.py --against HEAD~5 [--rounds 3]

``--against REV`` compares this tree with another commit instead: both grade the same kind of
complete submission (each tree's own reference) through their own sandbox, in alternating rounds
(this, REV, this, REV...), each round in a fresh process; prints the medians and the ratio.
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
from grader.isolation.sandbox import Sandbox  # noqa: E402

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


# Runs inside one tree (ROOT on sys.path): start a sandbox, grade the complete submission, print times.
# Uses only what every version of the grader has: Config, Sandbox, grade_submission, solutions/.
_ROUND = """
import inspect, json, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import torch
torch.set_num_threads(1)
from grader import reference
from grader.config import Config
from grader.grade import grade_submission
try:
    from grader.isolation.sandbox import Sandbox
except ImportError:  # a tree from before grader/isolation/
    from grader.sandbox import Sandbox
reference.solutions_module()
header = "import math\\nimport re\\nimport numpy as np\\nimport torch\\nimport torch.nn.functional as F\\nfrom torch import nn\\n"
parts = [header]
for name in ("word_embeddings", "relevance", "softmax", "context_vectors", "attention", "multi_head",
             "positional", "block", "encoder", "training", "probing"):
    source = inspect.getsource(sys.modules["solutions." + name])
    parts.append("\\n".join(l for l in source.splitlines() if not l.startswith(("from .", "import ", "from "))))
with tempfile.TemporaryDirectory() as tmp:
    path = Path(tmp) / "complete_submission.py"
    path.write_text("\\n\\n".join(parts))
    config = Config(secret="benchmark", time_limit=60)
    t0 = time.perf_counter()
    box = Sandbox(isolate=True)
    box.start()
    start = time.perf_counter() - t0
    times = []
    try:
        for _ in range(int(sys.argv[2])):
            t0 = time.perf_counter()
            result = grade_submission(path, config, box)
            times.append(time.perf_counter() - t0)
            assert result.earned == result.points, [(e.exercise, e.message) for e in result.exercises if e.earned < e.points]
    finally:
        box.close()
print(json.dumps({"start": start, "times": times}))
"""


def against(rev: str, rounds: int, repeat: int) -> None:
    """This tree against commit ``rev``, in alternating fresh processes."""
    import json
    import subprocess

    with tempfile.TemporaryDirectory() as tmp:
        other = Path(tmp) / "other"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(other), rev],
                       check=True, capture_output=True)
        try:
            samples: dict[str, list[float]] = {"this tree": [], rev: []}
            starts: dict[str, list[float]] = {"this tree": [], rev: []}
            for _ in range(rounds):
                for label, tree in (("this tree", ROOT), (rev, other)):
                    out = subprocess.run([sys.executable, "-c", _ROUND, str(tree), str(repeat)], cwd=tmp,
                                         capture_output=True, text=True, check=True)
                    data = json.loads(out.stdout.strip().splitlines()[-1])
                    samples[label] += data["times"]
                    starts[label].append(data["start"])
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(other)], capture_output=True)
    print(f"complete submission, isolated, {rounds} alternating rounds x {repeat} gradings each:")
    for label in samples:
        print(f"  {label:<12} median {statistics.median(samples[label]):.2f} s  "
              f"(min {min(samples[label]):.2f}, max {max(samples[label]):.2f}); "
              f"sandbox start median {statistics.median(starts[label]):.2f} s")
    ratio = statistics.median(samples["this tree"]) / statistics.median(samples[rev])
    print(f"  ratio this tree / {rev}: {ratio:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--against", metavar="REV", help="compare with this commit instead (e.g. HEAD~5)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds with --against")
    args = parser.parse_args()
    if args.against:
        against(args.against, args.rounds, args.repeat)
        return
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
