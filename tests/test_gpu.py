"""The reference on a CUDA device, against its own CPU float32 result (skipped without CUDA).

float32 on the GPU must agree with the CPU to ~1e-4 (TF32 matmuls are switched off for the
comparison); bf16 autocast to ~5e-2 of the output's scale, with no NaN/inf anywhere.
Works on PyTorch >= 2.4 (``torch.autocast(device_type, dtype=...)``,
``torch.set_float32_matmul_precision``).
"""
import math

import pytest
import torch

import solutions as S

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
]

DEVICE = "cuda"
B, T, H, D_HEAD, D_FF, VOCAB, N_LAYERS = 3, 10, 4, 12, 96, 50, 3  # pairwise distinct B, T, H, d_head
D_MODEL = H * D_HEAD


@pytest.fixture(autouse=True)
def _ieee_float32_matmul():
    """No TF32 while comparing float32 results; restores the previous setting."""
    previous = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("highest")
    yield
    torch.set_float32_matmul_precision(previous)


def _inputs(with_padding: bool):
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, VOCAB, (B, T), generator=g)
    if not with_padding:
        return ids, None
    lengths = torch.tensor([T, T - 3, 2])
    pad = torch.arange(T)[None, :] < lengths[:, None]  # (B, T), True = real token
    return ids, pad[:, None, None, :]


def _encoder(norm_first: bool) -> S.TransformerEncoder:
    torch.manual_seed(0)
    return S.TransformerEncoder(VOCAB, D_MODEL, H, D_FF, N_LAYERS, max_len=32, norm_first=norm_first).eval()


def encoder_on(device: str, norm_first: bool, with_padding: bool, autocast_dtype=None):
    """(CPU float32 output, output on `device` moved back to the CPU as float32)."""
    model = _encoder(norm_first)
    ids, mask = _inputs(with_padding)
    with torch.no_grad():
        expected = model(ids, mask)
        model = model.to(device)
        ids_d = ids.to(device)
        mask_d = None if mask is None else mask.to(device)
        if autocast_dtype is None:
            got = model(ids_d, mask_d)
        else:
            with torch.autocast(device_type=device, dtype=autocast_dtype):
                got = model(ids_d, mask_d)
    assert got.device.type == torch.device(device).type
    return expected, got.float().cpu()


@pytest.mark.parametrize("norm_first", [False, True], ids=["post-LN", "pre-LN"])
@pytest.mark.parametrize("with_padding", [False, True], ids=["no-mask", "padding"])
def test_encoder_cuda_float32_matches_cpu(norm_first, with_padding):
    expected, got = encoder_on(DEVICE, norm_first, with_padding)
    assert torch.isfinite(got).all()
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-4)


@pytest.mark.parametrize("norm_first", [False, True], ids=["post-LN", "pre-LN"])
@pytest.mark.parametrize("with_padding", [False, True], ids=["no-mask", "padding"])
def test_encoder_cuda_bf16_autocast_close_to_cpu(norm_first, with_padding):
    expected, got = encoder_on(DEVICE, norm_first, with_padding, autocast_dtype=torch.bfloat16)
    assert torch.isfinite(got).all()
    scale = expected.abs().max().item()
    error = (got - expected).abs().max().item()
    assert error <= 5e-2 * scale, f"bf16 error {error:.3g} vs output scale {scale:.3g}"


def mha_on(device: str):
    torch.manual_seed(0)
    mha = S.MultiHeadAttention(D_MODEL, H)
    x = torch.randn(B, T, D_MODEL)
    mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
    mask = mask & (torch.arange(T) < T - 2)[None, :]  # causal + the last two keys masked
    mask[0, :] = False  # one fully masked query row: zeros, not NaN
    with torch.no_grad():
        expected = mha(x, mask)
        mha = mha.to(device)
        got = mha(x.to(device), mask.to(device))
    return expected, tuple(t.cpu() for t in got)


def test_multi_head_attention_cuda_matches_cpu():
    (out_cpu, w_cpu), (out_gpu, w_gpu) = mha_on(DEVICE)
    assert torch.isfinite(out_gpu).all() and torch.isfinite(w_gpu).all()
    torch.testing.assert_close(out_gpu, out_cpu, rtol=0, atol=1e-4)
    torch.testing.assert_close(w_gpu, w_cpu, rtol=0, atol=1e-5)
    assert (w_gpu[:, :, 0] == 0).all()  # the fully masked query row


def test_multi_head_attention_cuda_backward_is_finite():
    torch.manual_seed(0)
    mha = S.MultiHeadAttention(D_MODEL, H).to(DEVICE)
    x = torch.randn(B, T, D_MODEL, device=DEVICE, requires_grad=True)
    mask = torch.tril(torch.ones(T, T, dtype=torch.bool, device=DEVICE))
    mask[0, :] = False
    out, _ = mha(x, mask)
    out.square().sum().backward()
    assert torch.isfinite(x.grad).all()
    assert all(torch.isfinite(p.grad).all() for p in mha.parameters())


def test_pick_device_prefers_cuda():
    assert S.pick_device().type == "cuda"


def test_capstone_trains_on_cuda_in_bf16_autocast():
    """Notebook 10's GPU section: the match model trains on CUDA under bfloat16 autocast (the
    weights and AdamW stay float32) to the accuracy the CPU run reaches."""
    from course import capstone
    from course.data import load_vocab, match_corpus

    model, history = capstone.train_match_model(seed=0, device=DEVICE, autocast_dtype=torch.bfloat16, progress=False)
    assert next(model.parameters()).device.type == "cuda" and history.device.startswith("cuda")
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert all(math.isfinite(loss) for loss in history.loss)
    assert sum(history.loss[-8:]) / 8 < 0.1 * sum(history.loss[:8]) / 8
    assert history.final_test_accuracy >= capstone.TARGET_ACCURACY
    _, accuracy_fp32 = capstone.evaluate_split(model, match_corpus(seed=0)["test"], load_vocab())
    assert abs(accuracy_fp32 - history.final_test_accuracy) <= 0.01, "bf16 and float32 answers agree"
