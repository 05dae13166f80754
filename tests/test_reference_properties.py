"""Properties of the hidden reference over random shapes (hypothesis).

Shapes are drawn with pairwise distinct B, T, H, d_head (all >= 2). Every property that says
"X does not change" also checks, on the same draw, a positive control that *does* change, so
a property cannot pass because the input change had no effect at all.
"""
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import solutions as S

pytestmark = pytest.mark.usefixtures("torch_single_thread")
FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
EXACT = dict(rtol=1e-12, atol=1e-12)
F64 = dict(rtol=1e-10, atol=1e-10)

seeds = st.integers(0, 2**31 - 1)
# B, T, H, d_head: four distinct sizes in 2..6
dims = st.lists(st.integers(2, 6), min_size=4, max_size=4, unique=True)
# T_q, T_k: two distinct sizes
two_sizes = st.lists(st.integers(2, 7), min_size=2, max_size=2, unique=True)


def causal(T):
    return torch.tril(torch.ones(T, T, dtype=torch.bool))


def mask_with_empty_rows(g, shape):
    """Random boolean mask (..., T_q, T_k) where some rows are fully masked (row 0 always)."""
    mask = torch.rand(shape, generator=g) < 0.5
    empty = torch.rand(shape[:-1], generator=g) < 0.3
    empty[..., 0] = True
    return mask & ~empty[..., None], empty


# ---------------------------------------------------------------- softmax (numpy)

@FAST
@given(shape=st.lists(st.integers(1, 6), min_size=1, max_size=3, unique=True), seed=seeds, data=st.data())
def test_softmax_sums_to_one_along_axis(shape, seed, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
    x = np.random.default_rng(seed).normal(scale=5.0, size=shape)
    p = S.softmax(x, axis=axis)
    assert p.shape == x.shape
    assert ((p >= 0) & (p <= 1)).all()
    np.testing.assert_allclose(p.sum(axis=axis), np.ones_like(x.sum(axis=axis)), **EXACT)
    np.testing.assert_allclose(p, torch.softmax(torch.as_tensor(x), dim=axis).numpy(), **EXACT)


@FAST
@given(sizes=two_sizes, seed=seeds, big=st.sampled_from([1e3, 1e4, -1e4]))
def test_softmax_survives_large_inputs(sizes, seed, big):
    T_q, T_k = sizes
    x = np.random.default_rng(seed).normal(scale=3.0, size=(T_q, T_k))
    p = S.softmax(x + big)
    assert np.isfinite(p).all()
    np.testing.assert_allclose(p, S.softmax(x), rtol=1e-9, atol=1e-9)  # shift invariance
    q = S.softmax(x * 1e4)  # huge spread: one-hot-ish, still finite
    assert np.isfinite(q).all()
    np.testing.assert_allclose(q.sum(axis=-1), np.ones(T_q), **EXACT)


# ---------------------------------------------------------------- fully masked rows

@FAST
@given(sizes=two_sizes, seed=seeds)
def test_masked_softmax_fully_masked_rows_are_zero(sizes, seed):
    T_q, T_k = sizes
    g = torch.Generator().manual_seed(seed)
    mask, empty = mask_with_empty_rows(g, (T_q, T_k))
    scores = np.random.default_rng(seed).normal(size=(T_q, T_k))
    w = S.masked_softmax(scores, mask.numpy())
    assert not np.isnan(w).any()
    assert (w[empty.numpy()] == 0).all()
    assert (w[~mask.numpy()] == 0).all()
    live = (mask.any(-1)).numpy()
    np.testing.assert_allclose(w[live].sum(-1), np.ones(live.sum()), **EXACT)


@FAST
@given(d=st.lists(st.integers(2, 8), min_size=6, max_size=6, unique=True), seed=seeds)
def test_sdpa_fully_masked_rows_give_zeros_and_finite_grads(d, seed):
    B, T_q, H, d_k, T_k, d_v = d
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(B, H, T_q, d_k, generator=g, dtype=torch.float64, requires_grad=True)
    k = torch.randn(B, H, T_k, d_k, generator=g, dtype=torch.float64, requires_grad=True)
    v = torch.randn(B, H, T_k, d_v, generator=g, dtype=torch.float64, requires_grad=True)
    mask, empty = mask_with_empty_rows(g, (B, H, T_q, T_k))
    out, w = S.scaled_dot_product_attention(q, k, v, mask)
    assert not out.isnan().any() and not w.isnan().any()
    assert (w[empty] == 0).all() and (out[empty] == 0).all()
    live = mask.any(-1)
    torch.testing.assert_close(w.sum(-1)[live], torch.ones(int(live.sum()), dtype=torch.float64), **EXACT)
    (out.square().sum() + (w * torch.arange(T_k)).sum()).backward()
    for t in (q, k, v):
        assert torch.isfinite(t.grad).all()
    assert (q.grad[empty] == 0).all()  # no signal flows through a fully masked query


@FAST
@given(d=dims, seed=seeds)
def test_multi_head_attention_grads_finite_with_fully_masked_rows(d, seed):
    B, T, H, d_head = d
    torch.manual_seed(seed)
    mha = S.MultiHeadAttention(H * d_head, H).double()
    x = torch.randn(B, T, H * d_head, dtype=torch.float64, requires_grad=True)
    mask, _ = mask_with_empty_rows(torch.Generator().manual_seed(seed), (B, 1, T, T))
    out, w = mha(x, mask)
    assert torch.isfinite(out).all() and torch.isfinite(w).all()
    out.sum().backward()
    assert torch.isfinite(x.grad).all()
    assert all(torch.isfinite(p.grad).all() for p in mha.parameters())


# ---------------------------------------------------------------- causality

def perturb_from(x, t0, g):
    y = x.clone()
    y[:, t0:] += torch.randn(y[:, t0:].shape, generator=g, dtype=y.dtype)
    return y


@FAST
@given(d=dims, seed=seeds, data=st.data())
def test_causal_multi_head_attention_ignores_future(d, seed, data):
    B, T, H, d_head = d
    t0 = data.draw(st.integers(1, T - 1), label="t0")
    torch.manual_seed(seed)
    mha = S.MultiHeadAttention(H * d_head, H).double()
    x = torch.randn(B, T, H * d_head, dtype=torch.float64)
    y = perturb_from(x, t0, torch.Generator().manual_seed(seed))
    out_x, w_x = mha(x, causal(T))
    out_y, w_y = mha(y, causal(T))
    torch.testing.assert_close(out_y[:, :t0], out_x[:, :t0], **EXACT)
    torch.testing.assert_close(w_y[:, :, :t0], w_x[:, :, :t0], **EXACT)
    assert (w_x.triu(1) == 0).all()
    assert (out_y[:, t0:] - out_x[:, t0:]).abs().max() > 1e-6  # control: the future did change


@FAST
@given(d=dims, d_ff=st.integers(3, 9), norm_first=st.booleans(), seed=seeds, data=st.data())
def test_causal_encoder_block_ignores_future(d, d_ff, norm_first, seed, data):
    B, T, H, d_head = d
    t0 = data.draw(st.integers(1, T - 1), label="t0")
    torch.manual_seed(seed)
    block = S.EncoderBlock(H * d_head, H, d_ff, norm_first=norm_first).double()
    x = torch.randn(B, T, H * d_head, dtype=torch.float64)
    y = perturb_from(x, t0, torch.Generator().manual_seed(seed))
    out_x, out_y = block(x, causal(T)), block(y, causal(T))
    torch.testing.assert_close(out_y[:, :t0], out_x[:, :t0], **EXACT)
    assert (out_y[:, t0:] - out_x[:, t0:]).abs().max() > 1e-6


@FAST
@given(d=dims, n_layers=st.integers(1, 3), norm_first=st.booleans(), seed=seeds, data=st.data())
def test_causal_transformer_encoder_ignores_future(d, n_layers, norm_first, seed, data):
    B, T, H, d_head = d
    vocab = 11
    t0 = data.draw(st.integers(1, T - 1), label="t0")
    torch.manual_seed(seed)
    enc = S.TransformerEncoder(vocab, H * d_head, H, 7, n_layers, max_len=8, norm_first=norm_first).double()
    ids = torch.randint(0, vocab, (B, T))
    changed = ids.clone()
    changed[:, t0:] = (ids[:, t0:] + torch.randint(1, vocab, ids[:, t0:].shape)) % vocab  # every future token differs
    out, out_changed = enc(ids, causal(T)), enc(changed, causal(T))
    torch.testing.assert_close(out_changed[:, :t0], out[:, :t0], **EXACT)
    assert (out_changed[:, t0:] - out[:, t0:]).abs().max() > 1e-6


# ---------------------------------------------------------------- padding

@FAST
@given(d=dims, n_layers=st.integers(1, 3), norm_first=st.booleans(), seed=seeds)
def test_padding_content_does_not_leak_into_valid_positions(d, n_layers, norm_first, seed):
    B, T, H, d_head = d
    vocab = 11
    torch.manual_seed(seed)
    enc = S.TransformerEncoder(vocab, H * d_head, H, 7, n_layers, max_len=8, norm_first=norm_first).double()
    lengths = torch.randint(1, T + 1, (B,))
    lengths[0] = T - 1  # at least one sample has padding
    pad = torch.arange(T)[None, :] < lengths[:, None]  # (B, T), True = real token
    ids = torch.randint(0, vocab, (B, T))
    other = torch.where(pad, ids, (ids + torch.randint(1, vocab, ids.shape)) % vocab)  # new padding content
    mask = pad[:, None, None, :]
    out, out_other = enc(ids, mask), enc(other, mask)
    torch.testing.assert_close(out_other[pad], out[pad], **EXACT)
    # control: without the mask the padding does leak into the valid positions
    assert (enc(other)[pad] - enc(ids)[pad]).abs().max() > 1e-6


# ---------------------------------------------------------------- permutation equivariance

def non_identity_permutation(T, g):
    perm = torch.randperm(T, generator=g)
    if torch.equal(perm, torch.arange(T)):
        perm = perm.roll(1)
    return perm


@FAST
@given(d=dims, seed=seeds)
def test_multi_head_attention_is_permutation_equivariant(d, seed):
    B, T, H, d_head = d
    torch.manual_seed(seed)
    mha = S.MultiHeadAttention(H * d_head, H).double()
    x = torch.randn(B, T, H * d_head, dtype=torch.float64)
    perm = non_identity_permutation(T, torch.Generator().manual_seed(seed))
    out, w = mha(x)
    out_p, w_p = mha(x[:, perm])
    torch.testing.assert_close(out_p, out[:, perm], **F64)
    torch.testing.assert_close(w_p, w[:, :, perm][:, :, :, perm], **F64)


@FAST
@given(d=dims, d_ff=st.integers(3, 9), norm_first=st.booleans(), seed=seeds)
def test_encoder_block_is_permutation_equivariant(d, d_ff, norm_first, seed):
    B, T, H, d_head = d
    torch.manual_seed(seed)
    block = S.EncoderBlock(H * d_head, H, d_ff, norm_first=norm_first).double()
    x = torch.randn(B, T, H * d_head, dtype=torch.float64)
    perm = non_identity_permutation(T, torch.Generator().manual_seed(seed))
    torch.testing.assert_close(block(x[:, perm]), block(x)[:, perm], **F64)


@FAST
@given(d=dims, norm_first=st.booleans(), seed=seeds)
def test_positions_break_permutation_equivariance_of_encoder(d, norm_first, seed):
    B, T, H, d_head = d
    vocab = 11
    torch.manual_seed(seed)
    enc = S.TransformerEncoder(vocab, H * d_head, H, 7, 2, max_len=8, norm_first=norm_first).double()
    ids = torch.randint(0, vocab, (B, T))
    perm = non_identity_permutation(T, torch.Generator().manual_seed(seed))
    gap = (enc(ids[:, perm]) - enc(ids)[:, perm]).abs().max()
    assert gap > 1e-2  # the positional encoding makes order matter
    with torch.no_grad():
        enc.pos_encoding.pe.zero_()  # without positions the stack is equivariant again
    torch.testing.assert_close(enc(ids[:, perm]), enc(ids)[:, perm], **F64)


# ---------------------------------------------------------------- dropout: eval vs train

@FAST
@given(d=dims, norm_first=st.booleans(), seed=seeds)
def test_eval_is_deterministic_train_is_not(d, norm_first, seed):
    B, T, H, d_head = d
    vocab = 11
    torch.manual_seed(seed)
    models = {
        "mha": (S.MultiHeadAttention(H * d_head, H, dropout=0.3).double(),
                torch.randn(B, T, H * d_head, dtype=torch.float64)),
        "block": (S.EncoderBlock(H * d_head, H, 7, dropout=0.3, norm_first=norm_first).double(),
                  torch.randn(B, T, H * d_head, dtype=torch.float64)),
        "encoder": (S.TransformerEncoder(vocab, H * d_head, H, 7, 2, max_len=8, dropout=0.3,
                                         norm_first=norm_first).double(),
                    torch.randint(0, vocab, (B, T))),
    }
    for name, (model, x) in models.items():

        def run():
            out = model(x)
            return out[0] if isinstance(out, tuple) else out

        model.eval()
        first, second = run(), run()
        torch.testing.assert_close(first, second, rtol=0, atol=0, msg=f"{name}: eval mode is random")
        model.train()
        a, b = run(), run()
        assert (a - b).abs().max() > 1e-6, f"{name}: dropout inactive in train mode"
        assert (a - first).abs().max() > 1e-6, f"{name}: train output equals eval output"


# ---------------------------------------------------------------- count_parameters

@FAST
@given(vocab=st.integers(1, 60), heads=st.lists(st.integers(2, 7), min_size=2, max_size=2, unique=True),
       d_ff=st.integers(1, 40), n_layers=st.integers(0, 3), norm_first=st.booleans())
def test_count_parameters_equals_numel(vocab, heads, d_ff, n_layers, norm_first):
    H, d_head = heads
    d_model = H * d_head
    model = S.TransformerEncoder(vocab, d_model, H, d_ff, n_layers, max_len=4, norm_first=norm_first)
    assert S.count_parameters(vocab, d_model, H, d_ff, n_layers, norm_first=norm_first) == sum(
        p.numel() for p in model.parameters())
