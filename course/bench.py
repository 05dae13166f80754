"""Measuring attention and the encoder: time, peak memory and FLOP/s, side by side in one run.

Notebook 10 calls these functions; ``benchmarks/attention.py`` (``make bench``) runs them all and
writes ``benchmarks/results/cpu.md``, ``.csv`` and ``.png`` (``gpu.*`` on a CUDA machine).

The questions, and the function that answers each:

- How do time and memory grow with the sequence length T? The course's attention
  (``given.attention``) stores the ``(T, T)`` weights: memory ~ T**2. The fused kernel
  (``F.scaled_dot_product_attention``) never stores them: memory ~ T. Both do ~T**2 work.
  :func:`attention_sweep` measures, :func:`loglog_slope` fits the exponent.
- Is the course's ``TransformerEncoder`` as fast as PyTorch's? :func:`compare_encoders` times it
  against ``nn.TransformerEncoder`` holding the same weights (:func:`torch_twin`), once with the
  weights kept for plots and once with the fused kernel (``keep_attention_weights=False``).
- How close to the machine's peak do we get? :func:`encoder_flops` counts the work of a
  forward, :func:`matmul_flops_per_second` measures the peak that large matrix products reach.

Machines are noisy, more so when shared: compare numbers from one run, not across runs.
Times are medians of several calls made in alternation (a, b, c, a, b, c, ...), so that a burst
of load slows every contender alike.
"""
from __future__ import annotations

import copy
import csv
import math
import os
import platform
import statistics
import time
from dataclasses import asdict, dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from . import given

# torch.profiler (used for CPU memory) prints "profiler_start"/"profiler_stop" lines at every use
# unless kineto's log level is above them; read when the profiler first starts.
os.environ.setdefault("KINETO_LOG_LEVEL", "6")

__all__ = [
    "side_by_side", "peak_memory", "loglog_slope",
    "attention_sweep", "attention_slopes", "plot_attention", "write_attention_csv", "read_attention_csv",
    "EncoderConfig", "torch_twin", "compare_encoders", "encoder_flops", "matmul_flops_per_second",
    "run", "report", "ATTENTION_METHODS", "METHOD_NOTES",
]

NAIVE = "naive (given.attention)"
FUSED = "fused (F.sdpa)"
MHA = "nn.MHA (train mode)"
MHA_EVAL = "nn.MHA (eval fast path)"
MHA_WEIGHTS = "nn.MHA (need_weights=True)"
ATTENTION_METHODS = (NAIVE, FUSED, MHA, MHA_EVAL, MHA_WEIGHTS)
METHOD_NOTES = {
    NAIVE: "the course's `given.attention` on q, k, v: scores and weights (B, H, T, T) stored",
    FUSED: "`F.scaled_dot_product_attention` on the same q, k, v: the weights never stored",
    MHA: "`nn.MultiheadAttention(batch_first=True)` on x, `need_weights=False`, train mode (dropout 0): "
         "`F.multi_head_attention_forward`, which calls `F.scaled_dot_product_attention`",
    MHA_EVAL: "the same module in eval mode: its fused fast path `torch._native_multi_head_attention` "
              "(the one nn.TransformerEncoder's inference fast path uses)",
    MHA_WEIGHTS: "the module in train mode asked for the weights (averaged over the heads): (T, T) stored again",
}

COURSE_NAIVE = "course, weights kept"
COURSE_FAST = "course, fast path"
TORCH = "nn.TransformerEncoder"
TRAINING = "training step"
INFERENCE = "inference"


# ---------------------------------------------------------------------------------------
# Time, memory, slopes
# ---------------------------------------------------------------------------------------


def _synchronize(device: torch.device | str) -> None:
    """Wait for the GPU: CUDA calls return before their kernels finish."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def side_by_side(fns: dict[str, Callable[[], object]], device: torch.device | str = "cpu",
                 repeat: int = 5, warmup: int = 1, min_seconds: float = 0.01) -> dict[str, float]:
    """Median seconds per call of each function, measured in alternation: ``{name: seconds}``.

    After ``warmup`` calls of each, every round times each function once (a sample of
    ``number`` calls, enough to last ``min_seconds``, so that tiny calls are not lost in the
    timer's noise); the result is the median over ``repeat`` rounds divided by ``number``.
    """
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    number = {name: max(1, math.ceil(min_seconds / max(_timed(fn, device, 1), 1e-9))) for name, fn in fns.items()}
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            samples[name].append(_timed(fn, device, number[name]) / number[name])
    return {name: statistics.median(times) for name, times in samples.items()}


def _timed(fn: Callable[[], object], device: torch.device | str, number: int) -> float:
    _synchronize(device)
    start = time.perf_counter()
    for _ in range(number):
        fn()
    _synchronize(device)
    return time.perf_counter() - start


def peak_memory(fn: Callable[[], object], device: torch.device | str = "cpu") -> int:
    """Peak bytes that ``fn()`` allocates on ``device`` above what was allocated before it.

    CUDA: the caching allocator's own counters (``max_memory_allocated`` after
    ``reset_peak_memory_stats``, minus what was allocated before).
    CPU: PyTorch keeps no such counter, and ``tracemalloc`` sees only Python's allocator, not
    torch's C++ one. ``torch.profiler(profile_memory=True)`` records every allocation and free of
    torch's CPU allocator in order: the peak of their running sum is exact, in-process, and
    unaffected by what the C library keeps cached (which makes RSS deltas unreliable for
    small tensors unless every measurement gets a fresh process). Memory that libraries
    allocate behind torch's back (oneDNN/MKL scratch space) is not seen.
    """
    if torch.device(device).type == "cuda":
        _synchronize(device)
        before = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        fn()
        _synchronize(device)
        return torch.cuda.max_memory_allocated(device) - before
    return _cpu_peak_memory(fn)


def _cpu_peak_memory(fn: Callable[[], object]) -> int:
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    events = [e for e in prof.profiler.kineto_results.events()
              if e.name() == "[memory]" and e.device_type() == torch.autograd.DeviceType.CPU]
    running = peak = 0
    for event in sorted(events, key=lambda e: e.start_ns()):
        running += event.nbytes()  # > 0 for an allocation, < 0 for a free
        peak = max(peak, running)
    return peak


def loglog_slope(xs, ys) -> float:
    """The exponent p of ``y ~ c * x**p``: the least-squares slope of log y against log x.

    p = cov(log x, log y) / var(log x). Memory ~ T**2 gives 2, ~ T gives 1.
    """
    xs, ys = list(xs), list(ys)
    if len(xs) != len(ys) or len(set(xs)) < 2 or min(xs + ys) <= 0:
        raise ValueError(f"a log-log slope needs >= 2 distinct x and positive values, got xs={xs}, ys={ys}")
    lx, ly = [math.log(x) for x in xs], [math.log(y) for y in ys]
    mx, my = statistics.fmean(lx), statistics.fmean(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly)) / sum((a - mx) ** 2 for a in lx)


# ---------------------------------------------------------------------------------------
# Attention against the sequence length
# ---------------------------------------------------------------------------------------


def attention_sweep(lengths, device: torch.device | str = "cpu", batch: int = 2, n_heads: int = 4,
                    d_head: int = 32, dtype: torch.dtype | None = None, repeat: int = 5) -> list[dict]:
    """Time and peak memory of one attention forward (under ``torch.no_grad``) for each length.

    Methods (:data:`ATTENTION_METHODS`, described in :data:`METHOD_NOTES`): the course's
    ``given.attention`` on ``q, k, v`` of shape ``(batch, n_heads, T, d_head)``;
    ``F.scaled_dot_product_attention`` on the same tensors; ``nn.MultiheadAttention`` (a module: its
    four projections included) on ``x`` of shape ``(batch, T, n_heads * d_head)``, in train mode
    (dropout 0), in eval mode (its own fast path) and asked for the weights.
    ``dtype``: float32 on the CPU, bfloat16 on CUDA when None.
    Returns rows ``{"method", "T", "seconds", "peak_bytes"}``.
    """
    device = torch.device(device)
    dtype = dtype or (torch.bfloat16 if device.type == "cuda" else torch.float32)
    d_model = n_heads * d_head
    mha = nn.MultiheadAttention(d_model, n_heads, batch_first=True).to(device, dtype).train()
    mha_eval = copy.deepcopy(mha).eval()
    rows = []
    for T in lengths:
        q, k, v = (torch.randn(batch, n_heads, T, d_head, device=device, dtype=dtype) for _ in range(3))
        x = torch.randn(batch, T, d_model, device=device, dtype=dtype)
        fns = {
            NAIVE: lambda: given.attention(q, k, v),
            FUSED: lambda: F.scaled_dot_product_attention(q, k, v),
            MHA: lambda: mha(x, x, x, need_weights=False),
            MHA_EVAL: lambda: mha_eval(x, x, x, need_weights=False),
            MHA_WEIGHTS: lambda: mha(x, x, x, need_weights=True),
        }
        with torch.no_grad():
            memory = {name: peak_memory(fn, device) for name, fn in fns.items()}
            seconds = side_by_side(fns, device, repeat=repeat)
        rows += [{"method": name, "T": T, "seconds": seconds[name], "peak_bytes": memory[name]} for name in fns]
    return rows


def attention_slopes(rows: list[dict], key: str = "peak_bytes", n_largest: int = 4) -> dict[str, float]:
    """``{method: exponent}`` of ``key`` (``"peak_bytes"`` or ``"seconds"``) against T, fitted on
    the ``n_largest`` lengths: at small T fixed costs (buffers, call overhead) hide the growth."""
    slopes = {}
    for method in dict.fromkeys(row["method"] for row in rows):
        points = sorted((row["T"], row[key]) for row in rows if row["method"] == method)[-n_largest:]
        slopes[method] = loglog_slope([t for t, _ in points], [y for _, y in points])
    return slopes


def write_attention_csv(rows: list[dict], path) -> None:
    """The rows of :func:`attention_sweep` as CSV: ``method,T,seconds,peak_bytes``."""
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["method", "T", "seconds", "peak_bytes"])
        writer.writeheader()
        writer.writerows(rows)


def read_attention_csv(path) -> list[dict]:
    """Rows written by :func:`write_attention_csv` (e.g. ``benchmarks/results/cpu.csv``), numbers as numbers."""
    with open(path, newline="") as f:
        return [{"method": row["method"], "T": int(row["T"]), "seconds": float(row["seconds"]),
                 "peak_bytes": int(row["peak_bytes"])} for row in csv.DictReader(f)]


def plot_attention(rows: list[dict], title: str = "", n_largest: int = 4):
    """Two log-log panels, time and peak memory against T, one line per method (slopes in the
    legend). Returns the matplotlib figure."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, key, label, scale in [(axes[0], "seconds", "time per call (ms)", 1e3),
                                  (axes[1], "peak_bytes", "peak memory (MiB)", 1 / 2**20)]:
        slopes = attention_slopes(rows, key, n_largest)
        for method, slope in slopes.items():
            points = sorted((row["T"], row[key]) for row in rows if row["method"] == method)
            ax.plot([t for t, _ in points], [y * scale for _, y in points], marker="o",
                    label=f"{method} (slope {slope:.2f})")
        ax.set_xscale("log", base=2)
        lengths = sorted({row["T"] for row in rows})
        ax.set_xticks(lengths, [str(t) for t in lengths])
        ax.set_yscale("log")
        ax.set_xlabel("sequence length T")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(title or "attention forward against sequence length (log-log)")
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------
# The course's encoder against nn.TransformerEncoder
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EncoderConfig:
    """The encoder measured, and the batch it runs on (token ids of shape ``(batch, seq_len)``)."""
    vocab_size: int = 1000
    d_model: int = 256
    n_heads: int = 4
    d_ff: int = 1024
    n_layers: int = 2
    batch: int = 4
    seq_len: int = 256


class _TorchEncoder(nn.Module):
    """The course's embedding and positions, then ``nn.TransformerEncoder``: ``forward(token_ids)``."""

    def __init__(self, embedding: nn.Module, pos_encoding: nn.Module, encoder: nn.TransformerEncoder):
        super().__init__()
        self.embedding, self.pos_encoding, self.encoder = embedding, pos_encoding, encoder

    def forward(self, token_ids: torch.Tensor) -> torch.Tensor:
        return self.encoder(self.pos_encoding(self.embedding(token_ids)))  # (B, T, d_model)


def torch_twin(model: given.TransformerEncoder) -> nn.Module:
    """``nn.TransformerEncoder`` holding a copy of ``model``'s weights, behind ``forward(token_ids)``.

    Each ``EncoderBlock`` becomes an ``nn.TransformerEncoderLayer(batch_first=True)``: its q, k, v
    projections packed into ``in_proj_weight`` (rows q, then k, then v), everything else copied by
    name; ``final_norm`` becomes the stack's ``norm``. Same outputs up to rounding.
    """
    first = model.layers[0]
    d_model, d_ff = first.ff.linear1.in_features, first.ff.linear1.out_features
    activation = "gelu" if isinstance(first.ff.activation, nn.GELU) else "relu"
    layer = nn.TransformerEncoderLayer(d_model, first.self_attn.n_heads, d_ff, dropout=first.dropout1.p,
                                       activation=activation, batch_first=True, norm_first=first.norm_first)
    norm = copy.deepcopy(model.final_norm) if isinstance(model.final_norm, nn.LayerNorm) else None
    encoder = nn.TransformerEncoder(layer, len(model.layers), norm=norm, enable_nested_tensor=False)
    with torch.no_grad():
        for ours, theirs in zip(model.layers, encoder.layers):
            attn = ours.self_attn
            theirs.self_attn.in_proj_weight.copy_(torch.cat([attn.q_proj.weight, attn.k_proj.weight, attn.v_proj.weight]))
            theirs.self_attn.in_proj_bias.copy_(torch.cat([attn.q_proj.bias, attn.k_proj.bias, attn.v_proj.bias]))
            for a, b in [(attn.out_proj, theirs.self_attn.out_proj), (ours.ff.linear1, theirs.linear1),
                         (ours.ff.linear2, theirs.linear2), (ours.norm1, theirs.norm1), (ours.norm2, theirs.norm2)]:
                b.load_state_dict(a.state_dict())
    twin = _TorchEncoder(copy.deepcopy(model.embedding), copy.deepcopy(model.pos_encoding), encoder)
    return twin.to(next(model.parameters()).device)


def encoder_flops(config: EncoderConfig) -> int:
    """Floating-point operations of one encoder forward, counted from the matrix products.

    A product of an (m, k) by a (k, n) matrix costs 2 m k n (a multiply and an add each).
    With N = batch * T tokens, per layer: the q, k, v and out projections 4 * 2 N d**2;
    scores q k^T, 2 batch T**2 d (H heads of d_head = d / H); weights times v, the same;
    the feed-forward network 2 * 2 N d d_ff. The embedding lookup, softmax, LayerNorm,
    biases and activations are O(N d) or O(batch H T**2) element-wise work, left out.
    A training step (forward + backward) costs 3 times this: each product's backward is two
    products of the same size (the gradients of both operands).
    """
    c = config
    tokens = c.batch * c.seq_len
    projections = 4 * 2 * tokens * c.d_model * c.d_model
    attention = 2 * (2 * c.batch * c.seq_len ** 2 * c.d_model)
    feed_forward = 2 * 2 * tokens * c.d_model * c.d_ff
    return c.n_layers * (projections + attention + feed_forward)


def matmul_flops_per_second(device: torch.device | str = "cpu", dtype: torch.dtype | None = None,
                            n: int | None = None, repeat: int = 5) -> float:
    """The peak to compare against: FLOP/s of an (n, n) @ (n, n) product, 2 n**3 / median seconds.

    Defaults: float32 and n = 1024 on the CPU, bfloat16 and n = 8192 on CUDA.
    """
    device = torch.device(device)
    dtype = dtype or (torch.bfloat16 if device.type == "cuda" else torch.float32)
    n = n or (8192 if device.type == "cuda" else 1024)
    a, b = (torch.randn(n, n, device=device, dtype=dtype) for _ in range(2))
    seconds = side_by_side({"matmul": lambda: a @ b}, device, repeat=repeat)["matmul"]
    return 2 * n ** 3 / seconds


def _autocast(device: torch.device):
    """bfloat16 autocast on CUDA; nothing on the CPU (float32 there)."""
    return torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")


def _training_step(model: nn.Module, token_ids: torch.Tensor, device: torch.device) -> Callable[[], None]:
    """forward + backward of a squared-output loss (no optimizer update: the same work every call)."""
    def step():
        with _autocast(device):
            loss = model(token_ids).float().square().mean()
        loss.backward()
        model.zero_grad(set_to_none=True)
    return step


def _inference(model: nn.Module, token_ids: torch.Tensor, device: torch.device) -> Callable[[], None]:
    def forward():
        with torch.inference_mode(), _autocast(device):
            model(token_ids)
    return forward


def _max_difference(models: dict[str, nn.Module], token_ids: torch.Tensor, train: bool) -> dict[str, float]:
    """max |output - the first model's output| of each model, in float32 (no autocast)."""
    outputs = {}
    for name, model in models.items():
        model.train(train)
        with torch.set_grad_enabled(train), torch.inference_mode(not train):
            outputs[name] = model(token_ids).float()
    first = next(iter(outputs.values()))
    return {name: (out - first).abs().max().item() for name, out in outputs.items()}


def compare_encoders(config: EncoderConfig = EncoderConfig(), device: torch.device | str = "cpu",
                     repeat: int = 5, tolerance: float | None = None) -> dict:
    """The course's ``given.TransformerEncoder`` (post-LN, dropout 0) against ``nn.TransformerEncoder``
    with the same weights, timed side by side. Two conditions:

    - ``"training step"``: train mode, forward + backward. Everyone runs its ordinary path.
    - ``"inference"``: eval mode under ``torch.inference_mode``. nn.TransformerEncoder then takes its
      own fused CPU/GPU fast path (one ``_transformer_encoder_layer_fwd`` kernel per layer).

    Three contenders: the course's encoder keeping the attention weights (``given.attention``,
    the (T, T) weights materialised), the same weights with ``keep_attention_weights=False``
    (``F.scaled_dot_product_attention``), and the twin. The outputs are proved equal (float32,
    both modes, max |difference| < ``tolerance``: 1e-4 on the CPU, 1e-3 on CUDA, whose float32
    kernels differ more) before anything is timed. On CUDA the timings run under bfloat16 autocast,
    which turns nn.TransformerEncoder's inference fast path off.

    Returns ``{"config", "max_abs_difference": {mode: {name: d}}, "seconds": {condition: {name: s}},
    "flops": {condition: n}}`` (CUDA: bfloat16 autocast for the timings).
    """
    device = torch.device(device)
    tolerance = tolerance or (1e-3 if device.type == "cuda" else 1e-4)
    torch.manual_seed(0)
    course = given.TransformerEncoder(config.vocab_size, config.d_model, config.n_heads, config.d_ff,
                                      config.n_layers, max_len=max(512, config.seq_len)).to(device)
    fast = copy.deepcopy(course)
    for layer in fast.layers:
        layer.keep_attention_weights = False
    models = {COURSE_NAIVE: course, COURSE_FAST: fast, TORCH: torch_twin(course)}
    token_ids = torch.randint(0, config.vocab_size, (config.batch, config.seq_len), device=device)

    differences = {"train": _max_difference(models, token_ids, train=True),
                   "eval": _max_difference(models, token_ids, train=False)}
    for mode, diffs in differences.items():
        worst = max(diffs, key=diffs.get)
        if diffs[worst] > tolerance:
            raise AssertionError(
                f"{worst} and {COURSE_NAIVE} disagree in {mode} mode by {diffs[worst]:.2e} (tolerance "
                f"{tolerance:.0e}): timing different computations would mean nothing. Check torch_twin's "
                f"weight copy and the fast path in course/given.py.")

    seconds = {}
    for condition, train, make in [(TRAINING, True, _training_step), (INFERENCE, False, _inference)]:
        for model in models.values():
            model.train(train)
        seconds[condition] = side_by_side({name: make(m, token_ids, device) for name, m in models.items()},
                                          device, repeat=repeat)
    forward = encoder_flops(config)
    return {"config": asdict(config), "max_abs_difference": differences, "seconds": seconds,
            "flops": {TRAINING: 3 * forward, INFERENCE: forward}}


# ---------------------------------------------------------------------------------------
# Everything, and its report
# ---------------------------------------------------------------------------------------

# (lengths, batch, n_heads, d_head, encoder config) per device kind, and the quick versions
_SIZES = {
    ("cpu", False): ([64, 128, 256, 512, 1024, 2048], 2, 4, 32, EncoderConfig()),
    ("cpu", True): ([32, 64, 128, 256], 2, 4, 16, EncoderConfig(vocab_size=100, d_model=64, n_heads=4, d_ff=128,
                                                                 n_layers=2, batch=4, seq_len=32)),
    ("cuda", False): ([256, 512, 1024, 2048, 4096, 8192], 4, 8, 64,
                      EncoderConfig(vocab_size=1000, d_model=768, n_heads=12, d_ff=3072, n_layers=4, batch=32,
                                    seq_len=512)),
    ("cuda", True): ([128, 256, 512, 1024], 2, 4, 64, EncoderConfig(d_model=256, n_heads=4, d_ff=1024, n_layers=2,
                                                                    batch=8, seq_len=128)),
}


def run(device: torch.device | str = "cpu", quick: bool = False, repeat: int | None = None) -> dict:
    """Every measurement of this module on one device, in one run: the machine, the matmul peak,
    the attention sweep (rows and fitted slopes) and the encoder comparison. ``quick``: small sizes,
    for a smoke test. Pass the result to :func:`report` and :func:`plot_attention` (``["attention"]``)."""
    device = torch.device(device)
    repeat = repeat or (3 if quick else 7)
    lengths, batch, n_heads, d_head, config = _SIZES[(device.type, quick)]
    load_before = os.getloadavg()[0]
    peak = matmul_flops_per_second(device, repeat=repeat)
    rows = attention_sweep(lengths, device, batch, n_heads, d_head, repeat=repeat)
    encoders = compare_encoders(config, device, repeat=repeat)
    return {
        "device": device.type,
        "machine": torch.cuda.get_device_name(device) if device.type == "cuda" else _cpu_name(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "dtype": "bfloat16" if device.type == "cuda" else "float32",
        "load_average": (load_before, os.getloadavg()[0]),
        "repeat": repeat,
        "matmul_peak": peak,
        "attention": rows,
        "attention_shape": {"batch": batch, "n_heads": n_heads, "d_head": d_head},
        "memory_slopes": attention_slopes(rows, "peak_bytes"),
        "time_slopes": attention_slopes(rows, "seconds"),
        "encoders": encoders,
    }


def _cpu_name() -> str:
    """The processor's model name (Linux: /proc/cpuinfo), else what the platform module knows."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def report(results: dict) -> str:
    """The results of :func:`run` as Markdown: the machine, the attention table and slopes, the
    encoder ratios and the achieved FLOP/s."""
    r, enc = results, results["encoders"]
    shape = r["attention_shape"]
    memory_how = ("`torch.cuda.max_memory_allocated` after `reset_peak_memory_stats`" if r["device"] == "cuda" else
                  "the peak running sum of torch's CPU allocations, from `torch.profiler` memory events")
    lines = [
        f"# Attention and encoder benchmark ({r['device']})", "",
        f"{r['machine']}, torch {r['torch']}, {r['threads']} threads (`torch.set_num_threads`), {r['dtype']}; "
        f"load average {r['load_average'][0]:.2f} at the start, {r['load_average'][1]:.2f} at the end.",
        f"Matmul peak (square product, measured in this run): **{_rate(r['matmul_peak'])}**.", "",
        "## Attention against sequence length", "",
        f"One forward under `torch.no_grad`, q, k, v of shape (B={shape['batch']}, H={shape['n_heads']}, T, "
        f"d_head={shape['d_head']}), x of shape (B, T, {shape['n_heads'] * shape['d_head']}). Time: median of "
        f"{r['repeat']} rounds of alternating calls (the same for the encoders below). Memory: peak bytes allocated during the call, above what existed before "
        f"({memory_how}).", "",
    ]
    methods = list(dict.fromkeys(row["method"] for row in r["attention"]))
    lines += [f"- **{m}**: {METHOD_NOTES[m]}" for m in methods] + [""]
    lengths = sorted({row["T"] for row in r["attention"]})
    cell = {(row["method"], row["T"]): row for row in r["attention"]}
    for key, unit, scale in [("seconds", "time per call, ms", 1e3), ("peak_bytes", "peak memory, MiB", 1 / 2**20)]:
        lines += [f"| T ({unit}) | " + " | ".join(methods) + " |", "|---:" * (1 + len(methods)) + "|"]
        lines += [f"| {T} | " + " | ".join(f"{cell[m, T][key] * scale:.3g}" for m in methods) + " |" for T in lengths]
        lines.append("")
    top = lengths[-1]
    lines += [f"At T={top}: naive / fused time **{cell[NAIVE, top]['seconds'] / cell[FUSED, top]['seconds']:.2f}x**, "
                  f"memory **{cell[NAIVE, top]['peak_bytes'] / cell[FUSED, top]['peak_bytes']:.1f}x**.", "",
              "Fitted log-log slopes (largest four lengths; memory ~ T**slope):", "",
              "| method | memory slope | time slope |", "|---|---:|---:|"]
    lines += [f"| {m} | {r['memory_slopes'][m]:.2f} | {r['time_slopes'][m]:.2f} |" for m in methods]

    c = enc["config"]
    seconds = enc["seconds"]
    diffs = enc["max_abs_difference"]
    lines += [
        "", "## The course's TransformerEncoder against nn.TransformerEncoder (same weights)", "",
        f"vocab {c['vocab_size']}, d_model {c['d_model']}, {c['n_heads']} heads, d_ff {c['d_ff']}, "
        f"{c['n_layers']} layers, post-LN, dropout 0; batch {c['batch']} x T {c['seq_len']}. Outputs equal before "
        f"timing: max |difference| {max(diffs['train'].values()):.1e} (train mode), "
        f"{max(diffs['eval'].values()):.1e} (eval mode).",
        f"*{TRAINING}*: train mode, forward + backward, every model on its ordinary path. *{INFERENCE}*: eval "
        "mode, `torch.inference_mode`, where nn.TransformerEncoder takes its fused fast path"
        + (" (not under the bfloat16 autocast used here on CUDA, which turns it off)." if r["device"] == "cuda" else "."),
        "",
        f"| condition | {COURSE_NAIVE} ms | {COURSE_FAST} ms | {TORCH} ms | weights kept / nn | fast path / nn |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for condition, s in seconds.items():
        lines.append(f"| {condition} | {s[COURSE_NAIVE] * 1e3:.1f} | {s[COURSE_FAST] * 1e3:.1f} | {s[TORCH] * 1e3:.1f} | "
                     f"**{s[COURSE_NAIVE] / s[TORCH]:.2f}x** | **{s[COURSE_FAST] / s[TORCH]:.2f}x** |")
    lines += [
        "", "## Achieved FLOP/s", "",
        f"FLOPs counted from the matrix products (2 m k n each: q, k, v, out projections, the two attention "
        f"products, the feed-forward network); a training step is 3x the forward. Forward: "
        f"{enc['flops'][INFERENCE] / 1e9:.2f} GFLOP.", "",
        f"| condition | {COURSE_NAIVE} | {COURSE_FAST} | {TORCH} |", "|---|---:|---:|---:|",
    ]
    for condition, s in seconds.items():
        rates = [enc["flops"][condition] / s[name] for name in (COURSE_NAIVE, COURSE_FAST, TORCH)]
        lines.append(f"| {condition} | " + " | ".join(
            f"{_rate(rate)} ({rate / r['matmul_peak']:.0%} of peak)" for rate in rates) + " |")
    return "\n".join(lines) + "\n"


def _rate(flops_per_second: float) -> str:
    return f"{flops_per_second / 1e12:.1f} TFLOP/s" if flops_per_second >= 1e12 else f"{flops_per_second / 1e9:.1f} GFLOP/s"
