"""course.bench and benchmarks/attention.py: the fast path computes what the slow path computes,
and the measuring tools measure (known slopes, known FLOP counts, known allocations)."""
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from course import bench, given

pytestmark = pytest.mark.usefixtures("torch_single_thread")

ROOT = Path(__file__).resolve().parent.parent
B, T, H, D_MODEL, D_FF, VOCAB = 3, 7, 2, 10, 16, 20  # pairwise distinct: axis mix-ups show


def _masks() -> dict:
    """True = may attend, in the shapes the course uses."""
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))  # (T, T)
    lengths = torch.tensor([T, 4, 1])
    padding = (torch.arange(T)[None, :] < lengths[:, None])[:, None, None, :]  # (B, 1, 1, T)
    empty_row = causal.clone()
    empty_row[2] = False  # query 2 may attend to nothing
    return {"none": None, "causal": causal, "padding": padding, "fully masked row": empty_row}


# ---------------------------------------------------------------------------------------
# The fast path in course/given.py
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("mask_name", list(_masks()))
def test_fused_multi_head_attention_equals_the_weights_path(mask_name):
    mask = _masks()[mask_name]
    mha = given.MultiHeadAttention(D_MODEL, H)
    x = torch.randn(B, T, D_MODEL, requires_grad=True)
    inputs = [x, *mha.parameters()]
    slow, weights = mha(x, mask)
    slow_grads = torch.autograd.grad(slow.square().sum(), inputs)
    fast, no_weights = mha(x, mask, need_weights=False)
    fast_grads = torch.autograd.grad(fast.square().sum(), inputs)

    assert no_weights is None and weights.shape == (B, H, T, T)
    assert torch.isfinite(fast).all() and all(torch.isfinite(g).all() for g in fast_grads)
    torch.testing.assert_close(fast, slow)
    for fast_grad, slow_grad in zip(fast_grads, slow_grads):
        torch.testing.assert_close(fast_grad, slow_grad)


def test_a_query_with_no_allowed_key_gets_zero_heads_not_nan():
    mha = given.MultiHeadAttention(D_MODEL, H)
    out, _ = mha(torch.randn(B, T, D_MODEL), _masks()["fully masked row"], need_weights=False)
    # zero heads for query 2, so only out_proj's bias is left
    torch.testing.assert_close(out[:, 2], mha.out_proj.bias.detach().expand(B, D_MODEL))


def test_fused_path_applies_dropout_in_training_only():
    mha = given.MultiHeadAttention(D_MODEL, H, dropout=0.5)
    x = torch.randn(B, T, D_MODEL)
    mha.train()
    assert not torch.allclose(mha(x, need_weights=False)[0], mha(x, need_weights=False)[0])
    mha.eval()
    torch.testing.assert_close(mha(x, need_weights=False)[0], mha(x)[0])


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_without_kept_weights_gives_the_same_output(norm_first):
    kept = given.TransformerEncoder(VOCAB, D_MODEL, H, D_FF, 2, norm_first=norm_first)
    fast = given.TransformerEncoder(VOCAB, D_MODEL, H, D_FF, 2, norm_first=norm_first, keep_attention_weights=False)
    fast.load_state_dict(kept.state_dict())
    token_ids, mask = torch.randint(0, VOCAB, (B, T)), _masks()["padding"]

    torch.testing.assert_close(fast(token_ids, mask), kept(token_ids, mask))
    assert [layer.attention_weights for layer in fast.layers] == [None, None]
    assert all(layer.attention_weights.shape == (B, H, T, T) for layer in kept.layers)


def test_block_flag_can_be_switched_after_construction():
    block = given.EncoderBlock(D_MODEL, H, D_FF).eval()
    x = torch.randn(B, T, D_MODEL)
    with_weights = block(x)
    assert block.attention_weights.shape == (B, H, T, T)
    block.keep_attention_weights = False
    torch.testing.assert_close(block(x), with_weights)
    assert block.attention_weights is None


@pytest.mark.parametrize("norm_first", [False, True])
def test_torch_twin_gives_the_course_encoders_output(norm_first):
    model = given.TransformerEncoder(VOCAB, D_MODEL, H, D_FF, 2, norm_first=norm_first).eval()
    twin = bench.torch_twin(model).eval()
    token_ids = torch.randint(0, VOCAB, (B, T))
    assert isinstance(twin.encoder, torch.nn.TransformerEncoder)
    torch.testing.assert_close(twin(token_ids), model(token_ids))


def test_compare_encoders_refuses_to_time_different_models(monkeypatch):
    real_twin = bench.torch_twin

    def broken_twin(model):
        twin = real_twin(model)
        with torch.no_grad():
            twin.encoder.layers[0].linear1.weight.mul_(1.5)
        return twin

    monkeypatch.setattr(bench, "torch_twin", broken_twin)
    config = bench.EncoderConfig(vocab_size=VOCAB, d_model=D_MODEL, n_heads=H, d_ff=D_FF, n_layers=1, batch=B, seq_len=T)
    with pytest.raises(AssertionError, match="disagree"):
        bench.compare_encoders(config, repeat=1)


# ---------------------------------------------------------------------------------------
# The measuring tools
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("power", [0.5, 1.0, 2.0, 3.0])
def test_loglog_slope_recovers_a_known_exponent(power):
    xs = [64, 128, 256, 512, 1024]
    ys = [3.0 * x ** power * (1 + 0.02 * (-1) ** i) for i, x in enumerate(xs)]  # +-2% noise
    assert bench.loglog_slope(xs, ys) == pytest.approx(power, abs=0.03)


def test_attention_slopes_fit_the_largest_lengths_per_method():
    lengths = [16, 32, 64, 128, 256, 512]
    rows = [{"method": "quadratic", "T": t, "peak_bytes": 4 * t * t} for t in lengths]
    rows += [{"method": "linear after a fixed cost", "T": t, "peak_bytes": 10**6 if t < 64 else 100 * t} for t in lengths]
    slopes = bench.attention_slopes(rows, "peak_bytes", n_largest=4)
    assert slopes == pytest.approx({"quadratic": 2.0, "linear after a fixed cost": 1.0})


def test_loglog_slope_rejects_zero_values():
    with pytest.raises(ValueError, match="positive"):
        bench.loglog_slope([1, 2, 4], [0, 1, 2])


def test_flop_counter_counts_2mnk_for_a_matmul():
    m, k, n = 6, 11, 4
    a, b = torch.randn(m, k), torch.randn(k, n)
    with FlopCounterMode(display=False) as counter:
        a @ b
    assert counter.get_total_flops() == 2 * m * k * n


def test_encoder_flops_match_the_flop_counter_forward_and_backward():
    config = bench.EncoderConfig(vocab_size=VOCAB, d_model=D_MODEL, n_heads=H, d_ff=D_FF, n_layers=2, batch=B, seq_len=T)
    model = given.TransformerEncoder(VOCAB, D_MODEL, H, D_FF, 2)  # the weights path: every product is a matmul
    token_ids = torch.randint(0, VOCAB, (B, T))
    with FlopCounterMode(display=False) as forward:
        model(token_ids)
    with FlopCounterMode(display=False) as step:
        model(token_ids).square().mean().backward()
    assert forward.get_total_flops() == bench.encoder_flops(config)
    assert step.get_total_flops() == 3 * bench.encoder_flops(config)


def test_matmul_rate_is_2n_cubed_over_the_median_time(monkeypatch):
    monkeypatch.setattr(bench, "side_by_side", lambda fns, device, repeat: {"matmul": 0.5})
    assert bench.matmul_flops_per_second("cpu", n=64) == 2 * 64 ** 3 / 0.5


@pytest.mark.parametrize("n", [2**16, 2**19, 2**22])
def test_cpu_peak_memory_sees_an_allocation_of_its_size(n):
    peak = bench.peak_memory(lambda: torch.ones(n))  # float32: 4 bytes each
    assert 4 * n <= peak <= 4 * n + 2**14


def test_cpu_peak_memory_is_the_peak_not_the_net_amount():
    n = 2**20

    def temporary_then_small():
        big = torch.ones(n)
        del big
        return torch.ones(10)

    assert bench.peak_memory(temporary_then_small) >= 4 * n


def test_attention_memory_grows_quadratically_with_the_weights_and_linearly_without():
    # d_head 32 and 8 heads: the (B, H, T, d_head) output outweighs the fused kernel's fixed buffers
    rows = bench.attention_sweep([128, 256, 512, 1024], batch=2, n_heads=4, d_head=32, repeat=1)
    slopes = bench.attention_slopes(rows, "peak_bytes", n_largest=4)
    assert {row["method"] for row in rows} == set(bench.ATTENTION_METHODS)
    assert slopes[bench.NAIVE] == pytest.approx(2.0, abs=0.15), slopes
    assert slopes[bench.MHA_WEIGHTS] == pytest.approx(2.0, abs=0.15), slopes
    assert slopes[bench.FUSED] < 1.3 and slopes[bench.MHA] < 1.3, slopes


@pytest.mark.slow
def test_benchmark_script_quick_run_writes_its_files(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "attention.py"), "--quick", "--device", "cpu",
         "--threads", "1", "--repeat", "2", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    report = (tmp_path / "cpu.md").read_text()
    for expected in ("memory slope", "fast path / nn", "of peak", "1 threads"):
        assert expected in report, f"{expected!r} missing from the report:\n{report}"
    lines = (tmp_path / "cpu.csv").read_text().splitlines()
    assert lines[0] == "method,T,seconds,peak_bytes" and len(lines) == 1 + 4 * len(bench.ATTENTION_METHODS)
    rows = bench.read_attention_csv(tmp_path / "cpu.csv")
    assert {row["T"] for row in rows} == {32, 64, 128, 256} and all(row["peak_bytes"] > 0 for row in rows)
    assert (tmp_path / "cpu.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "profiler_start" not in result.stderr  # kineto's log lines are silenced


# ---------------------------------------------------------------------------------------
# CUDA
# ---------------------------------------------------------------------------------------


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_peak_memory_sees_an_allocation_of_its_size():
    n = 2**22
    peak = bench.peak_memory(lambda: torch.ones(n, device="cuda"), "cuda")
    assert 4 * n <= peak <= 4 * n + 2**21  # the caching allocator rounds up


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_quick_run_measures_quadratic_and_linear_memory():
    results = bench.run("cuda", quick=True, repeat=2)
    assert results["memory_slopes"][bench.NAIVE] == pytest.approx(2.0, abs=0.2)
    assert results["memory_slopes"][bench.FUSED] < 1.3
    assert results["matmul_peak"] > 1e12  # any recent GPU does > 1 TFLOP/s in bfloat16
    assert "of peak" in bench.report(results)
