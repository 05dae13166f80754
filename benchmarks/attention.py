"""Naive attention against the fused kernel, and the course's encoder against PyTorch's.

Runs every measurement of ``course/bench.py`` in one run per device, prints the report and writes
it to ``--out`` (default ``benchmarks/results/``): ``cpu.md`` (the tables), ``cpu.csv`` (the
attention rows) and ``cpu.png`` (time and memory against T, log-log); ``gpu.*`` for CUDA.

    .venv/bin/python benchmarks/attention.py                  # the CPU, and CUDA when present
    .venv/bin/python benchmarks/attention.py --device cpu --threads 2
    .venv/bin/python benchmarks/attention.py --quick --out /tmp/bench   # small sizes, seconds

A ``--quick`` run writes files only where ``--out`` says: its numbers must not replace the results.

Machines are noisy, more so when shared: compare within one run (the ratios), and run it when
the machine is quiet (the report records the load average).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import matplotlib  # noqa: E402

matplotlib.use("Agg")  # files only, no window

import torch  # noqa: E402

from course import bench  # noqa: E402

NAMES = {"cpu": "cpu", "cuda": "gpu"}


def write_results(results: dict, folder: Path) -> list[Path]:
    """``<name>.md``, ``<name>.csv`` and ``<name>.png`` in ``folder``, name ``cpu`` or ``gpu``."""
    folder.mkdir(parents=True, exist_ok=True)
    name = NAMES[results["device"]]
    markdown, table, figure = folder / f"{name}.md", folder / f"{name}.csv", folder / f"{name}.png"
    markdown.write_text(bench.report(results))
    bench.write_attention_csv(results["attention"], table)
    shape = results["attention_shape"]
    fig = bench.plot_attention(results["attention"], title=(
        f"attention forward, {results['device']} ({results['machine']}, {results['threads']} threads, "
        f"{results['dtype']}), B={shape['batch']}, H={shape['n_heads']}, d_head={shape['d_head']}"))
    fig.savefig(figure, dpi=120)
    return [markdown, table, figure]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["all", "cpu", "cuda"], default="all",
                        help="all: the CPU, then CUDA when available (default)")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke test, not a measurement")
    parser.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's choice)")
    parser.add_argument("--repeat", type=int, help="timed rounds per measurement (default 7, quick 3)")
    parser.add_argument("--out", type=Path, help="folder for the files (default benchmarks/results/; "
                                                 "a --quick run writes none unless given one)")
    args = parser.parse_args()
    out = args.out or (None if args.quick else ROOT / "benchmarks" / "results")
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = ["cpu", "cuda"] if args.device == "all" else [args.device]
    if "cuda" in devices and not torch.cuda.is_available():
        if args.device == "cuda":
            parser.error("--device cuda: no CUDA device here (torch.cuda.is_available() is False)")
        devices.remove("cuda")
        print("no CUDA device: the GPU part is skipped\n")
    for device in devices:
        results = bench.run(device, quick=args.quick, repeat=args.repeat)
        print(bench.report(results))
        for path in write_results(results, out) if out else []:
            print(f"wrote {path}")
        print()


if __name__ == "__main__":
    main()
