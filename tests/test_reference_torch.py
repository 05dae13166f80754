"""The PyTorch track of the hidden reference (notebooks 05-11) against PyTorch's own modules.

Weights are copied from ``nn.MultiheadAttention`` / ``nn.TransformerEncoderLayer`` into the
reference modules (every parameter, biases and LayerNorms included, is first randomised so
that no zero-initialised bias hides a bug) and outputs are compared in float64 at ~1e-10.
``nn.MultiheadAttention`` and ``nn.TransformerEncoderLayer`` take masks with the OPPOSITE
polarity (True = "may not attend"), so they get ``~mask``. The nn modules run in training mode
with dropout 0 and gradients on, which keeps them off their fused inference fast path.

Sizes: B=3, T=5, H=2, d_head=4 (d_model=8), d_ff=11 and a second configuration B=2, T=7, H=3,
d_head=5 (d_model=15): pairwise distinct, B > 1, H > 1.
"""
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import solutions as S

pytestmark = pytest.mark.usefixtures("torch_single_thread")
F64 = dict(rtol=1e-10, atol=1e-10)
F32 = dict(rtol=1e-5, atol=1e-5)
CONFIGS = [  # (B, T, H, d_head, d_ff)
    pytest.param(3, 5, 2, 4, 11, id="B3-T5-H2-dh4"),
    pytest.param(2, 7, 3, 5, 9, id="B2-T7-H3-dh5"),
]


# ---------------------------------------------------------------- helpers

def randomise_(module: nn.Module, scale: float = 0.3) -> nn.Module:
    """Overwrite every parameter with random values (LayerNorm gains around 1)."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if "norm" in name and name.endswith("weight"):
                p.copy_(1 + 0.2 * torch.randn_like(p))
            else:
                p.copy_(scale * torch.randn_like(p))
    return module


def copy_mha_(mine: S.MultiHeadAttention, ref: nn.MultiheadAttention) -> None:
    d = ref.embed_dim
    with torch.no_grad():
        for i, name in enumerate(["q_proj", "k_proj", "v_proj"]):
            getattr(mine, name).weight.copy_(ref.in_proj_weight[i * d:(i + 1) * d])
            getattr(mine, name).bias.copy_(ref.in_proj_bias[i * d:(i + 1) * d])
        mine.out_proj.weight.copy_(ref.out_proj.weight)
        mine.out_proj.bias.copy_(ref.out_proj.bias)


def copy_block_(mine: S.EncoderBlock, ref: nn.TransformerEncoderLayer) -> None:
    copy_mha_(mine.self_attn, ref.self_attn)
    with torch.no_grad():
        for a, b in [(mine.ff.linear1, ref.linear1), (mine.ff.linear2, ref.linear2),
                     (mine.norm1, ref.norm1), (mine.norm2, ref.norm2)]:
            a.weight.copy_(b.weight)
            a.bias.copy_(b.bias)


def valid_lengths_mask(lengths, T):
    """(B, T) bool, True on the first lengths[b] positions of sample b."""
    return torch.arange(T)[None, :] < torch.tensor(lengths)[:, None]


def random_mask(shape, p=0.5):
    """Boolean mask with at least one allowed (True) key in every row."""
    mask = torch.rand(shape) < p
    rows = mask.reshape(-1, shape[-1])
    rows[torch.arange(rows.size(0)), torch.randint(0, shape[-1], (rows.size(0),))] = True
    return rows.reshape(shape)


def lengths_for(B, T):
    return [T - 2 * b for b in range(B)]  # all different, all >= 1 for the configs here


def mask_cases(B, T, H):
    """(name, our mask True = may attend, nn kwargs with the opposite polarity)."""
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    valid = valid_lengths_mask(lengths_for(B, T), T)
    full = random_mask((B, H, T, T))
    return {
        "none": (None, {}),
        "causal": (causal, {"attn_mask": ~causal}),
        "padding": (valid[:, None, None, :], {"key_padding_mask": ~valid}),
        "causal+padding": (causal & valid[:, None, None, :], {"attn_mask": ~causal, "key_padding_mask": ~valid}),
        "per-head": (full, {"attn_mask": ~full.reshape(B * H, T, T)}),
    }


MASK_NAMES = ["none", "causal", "padding", "causal+padding", "per-head"]


# ---------------------------------------------------------------- 05 scaled dot-product attention

def fused_weights(q, k, attn_mask=None):
    """The weights of F.scaled_dot_product_attention: attend to the identity matrix."""
    eye = torch.eye(k.size(-2), dtype=q.dtype).expand(*k.shape[:-1], k.size(-2))
    return F.scaled_dot_product_attention(q, k, eye, attn_mask=attn_mask)


@pytest.mark.parametrize("lead", [(3, 2), (3,), ()], ids=["B,H", "B", "none"])
@pytest.mark.parametrize("mask_shape", [None, "qk", "b11k", "full"])
def test_sdpa_matches_fused(lead, mask_shape):
    T_q, T_k, d_k, d_v = 5, 7, 4, 6
    q = torch.randn(*lead, T_q, d_k, dtype=torch.float64)
    k = torch.randn(*lead, T_k, d_k, dtype=torch.float64)
    v = torch.randn(*lead, T_k, d_v, dtype=torch.float64)
    shape = {None: None, "qk": (T_q, T_k), "b11k": lead[:1] + (1,) * (len(lead) - 1) + (1, T_k),
             "full": lead + (T_q, T_k)}[mask_shape]
    mask = None if shape is None else random_mask(shape)
    out, weights = S.scaled_dot_product_attention(q, k, v, mask)
    assert out.shape == (*lead, T_q, d_v) and weights.shape == (*lead, T_q, T_k)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask), **F64)
    torch.testing.assert_close(weights, fused_weights(q, k, mask), **F64)
    if mask is not None:
        assert (weights[~mask.expand_as(weights)] == 0).all()


def test_sdpa_float32():
    q, k, v = torch.randn(3, 2, 5, 4), torch.randn(3, 2, 7, 4), torch.randn(3, 2, 7, 6)
    mask = random_mask((3, 1, 5, 7))
    out, weights = S.scaled_dot_product_attention(q, k, v, mask)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask), **F32)
    torch.testing.assert_close(weights, fused_weights(q, k, mask), **F32)


def test_sdpa_manual_formula():
    q, k, v = (torch.randn(2, 5, 4, dtype=torch.float64), torch.randn(2, 3, 4, dtype=torch.float64),
               torch.randn(2, 3, 6, dtype=torch.float64))
    out, weights = S.scaled_dot_product_attention(q, k, v)
    expected_w = torch.softmax(torch.einsum("bqd,bkd->bqk", q, k) / math.sqrt(4), dim=-1)
    torch.testing.assert_close(weights, expected_w, **F64)
    torch.testing.assert_close(out, torch.einsum("bqk,bkd->bqd", expected_w, v), **F64)


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_self_attention_matches_manual(bias, masked):
    B, T, d_in, d_out = 3, 5, 6, 4
    attn = S.SelfAttention(d_in, d_out, bias=bias).double()
    for name in ["q_proj", "k_proj", "v_proj"]:
        lin = getattr(attn, name)
        assert isinstance(lin, nn.Linear) and lin.weight.shape == (d_out, d_in)
        assert (lin.bias is not None) == bias
    randomise_(attn, scale=0.5)
    x = torch.randn(B, T, d_in, dtype=torch.float64)
    mask = random_mask((B, T, T)) if masked else None
    out, weights = attn(x, mask)

    def proj(lin):
        return x @ lin.weight.T + (lin.bias if bias else 0)

    q, k, v = proj(attn.q_proj), proj(attn.k_proj), proj(attn.v_proj)
    scores = q @ k.transpose(1, 2) / math.sqrt(d_out)
    if masked:
        scores = scores.masked_fill(~mask, float("-inf"))
    expected_w = torch.softmax(scores, dim=-1)
    assert out.shape == (B, T, d_out) and weights.shape == (B, T, T)
    torch.testing.assert_close(weights, expected_w, **F64)
    torch.testing.assert_close(out, expected_w @ v, **F64)


# ---------------------------------------------------------------- 06 multi-head attention

def test_split_heads_is_per_head_slicing():
    B, T, H, d_head = 3, 5, 2, 4
    x = torch.randn(B, T, H * d_head, dtype=torch.float64)
    heads = S.split_heads(x, H)
    assert heads.shape == (B, H, T, d_head)
    for h in range(H):
        torch.testing.assert_close(heads[:, h], x[..., h * d_head:(h + 1) * d_head], rtol=0, atol=0)


def test_merge_heads_concatenates_heads():
    B, H, T, d_head = 2, 3, 7, 5
    x = torch.randn(B, H, T, d_head, dtype=torch.float64)
    merged = S.merge_heads(x)
    assert merged.shape == (B, T, H * d_head)
    torch.testing.assert_close(merged, torch.cat([x[:, h] for h in range(H)], dim=-1), rtol=0, atol=0)


@pytest.mark.parametrize("B, T, H, d_head", [(3, 5, 2, 4), (2, 7, 3, 5), (4, 2, 5, 3)])
def test_split_merge_round_trip(B, T, H, d_head):
    x = torch.randn(B, T, H * d_head, dtype=torch.float64)
    torch.testing.assert_close(S.merge_heads(S.split_heads(x, H)), x, rtol=0, atol=0)
    y = torch.randn(B, H, T, d_head, dtype=torch.float64)
    torch.testing.assert_close(S.split_heads(S.merge_heads(y), H), y, rtol=0, atol=0)


def test_split_heads_rejects_indivisible_width():
    with pytest.raises(ValueError):
        S.split_heads(torch.randn(3, 5, 7), 2)


def test_multi_head_attention_parameters():
    mha = S.MultiHeadAttention(15, 3)
    for name in ["q_proj", "k_proj", "v_proj", "out_proj"]:
        lin = getattr(mha, name)
        assert isinstance(lin, nn.Linear) and lin.weight.shape == (15, 15) and lin.bias.shape == (15,)
    assert sum(p.numel() for p in mha.parameters()) == 4 * (15 * 15 + 15)
    assert all(getattr(S.MultiHeadAttention(15, 3, bias=False), n).bias is None
               for n in ["q_proj", "k_proj", "v_proj", "out_proj"])


def make_mha_pair(d_model, H, dtype=torch.float64):
    ref = randomise_(nn.MultiheadAttention(d_model, H, batch_first=True, dtype=dtype))
    mine = S.MultiHeadAttention(d_model, H).to(dtype)
    copy_mha_(mine, ref)
    return mine, ref


@pytest.mark.parametrize("B, T, H, d_head, d_ff", CONFIGS)
@pytest.mark.parametrize("mask_name", MASK_NAMES)
def test_multi_head_attention_matches_nn(B, T, H, d_head, d_ff, mask_name):
    d_model = H * d_head
    mine, ref = make_mha_pair(d_model, H)
    x = torch.randn(B, T, d_model, dtype=torch.float64)
    mask, nn_kwargs = mask_cases(B, T, H)[mask_name]
    out, weights = mine(x, mask)
    ref_out, ref_weights = ref(x, x, x, need_weights=True, average_attn_weights=False, **nn_kwargs)
    assert out.shape == (B, T, d_model) and weights.shape == (B, H, T, T)
    assert not ref_out.isnan().any()  # no fully masked rows were given to nn
    torch.testing.assert_close(out, ref_out, **F64)
    torch.testing.assert_close(weights, ref_weights, **F64)


def test_multi_head_attention_matches_nn_float32():
    B, T, H, d_head = 3, 5, 2, 4
    mine, ref = make_mha_pair(H * d_head, H, dtype=torch.float32)
    x = torch.randn(B, T, H * d_head)
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    out, weights = mine(x, causal)
    ref_out, ref_weights = ref(x, x, x, attn_mask=~causal, average_attn_weights=False)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, ref_out, **F32)
    torch.testing.assert_close(weights, ref_weights, **F32)


# ---------------------------------------------------------------- 07 positional encoding

@pytest.mark.parametrize("T, d_model", [(9, 6), (5, 7), (50, 16), (3, 1)])
def test_sinusoidal_positional_encoding_matches_formula(T, d_model, sinusoids):
    pe = S.sinusoidal_positional_encoding(T, d_model)
    assert pe.shape == (T, d_model)
    assert pe.dtype == torch.get_default_dtype()
    torch.testing.assert_close(pe.double(), sinusoids(T, d_model), rtol=0, atol=1e-6)


def test_sinusoidal_positional_encoding_known_values():
    pe = S.sinusoidal_positional_encoding(4, 6).double()
    torch.testing.assert_close(pe[0], torch.tensor([0.0, 1, 0, 1, 0, 1], dtype=torch.float64))
    torch.testing.assert_close(pe[1, :2], torch.tensor([math.sin(1), math.cos(1)], dtype=torch.float64),
                               rtol=0, atol=1e-7)
    torch.testing.assert_close(pe[3, 2:4], torch.tensor([math.sin(3 / 10000 ** (2 / 6)), math.cos(3 / 10000 ** (2 / 6))],
                                                        dtype=torch.float64), rtol=0, atol=1e-7)


def test_positional_encoding_is_a_buffer(sinusoids):
    pos = S.PositionalEncoding(6, max_len=20)
    assert "pe" in dict(pos.named_buffers())
    assert not any(p is pos.pe for p in pos.parameters())
    assert sum(p.numel() for p in pos.parameters()) == 0
    assert pos.pe.shape == (20, 6)
    torch.testing.assert_close(pos.pe.double(), sinusoids(20, 6), rtol=0, atol=1e-6)
    pos = pos.double()
    assert pos.pe.dtype == torch.float64
    x = torch.randn(3, 5, 6, dtype=torch.float64)
    out = pos(x)
    assert out.dtype == torch.float64
    torch.testing.assert_close(out, x + sinusoids(5, 6), rtol=0, atol=1e-6)
    torch.testing.assert_close(out - x, pos.pe[:5].expand(3, 5, 6), **F64)


def test_positional_encoding_rejects_too_long_input():
    with pytest.raises(ValueError):
        S.PositionalEncoding(6, max_len=4)(torch.randn(2, 5, 6))


# ---------------------------------------------------------------- 08 transformer block

@pytest.mark.parametrize("d", [5, 8, 96])
def test_layer_norm_matches_nn(d):
    ln = randomise_(nn.LayerNorm(d, dtype=torch.float64))
    x = 3.0 * torch.randn(3, 7, d, dtype=torch.float64) + 2.0
    torch.testing.assert_close(S.layer_norm(x, ln.weight, ln.bias), ln(x), **F64)


def test_layer_norm_eps_inside_sqrt():
    d = 6
    ln = randomise_(nn.LayerNorm(d, eps=1e-2, dtype=torch.float64))
    x = 0.05 * torch.randn(4, d, dtype=torch.float64)  # variance ~ eps: eps placement matters
    torch.testing.assert_close(S.layer_norm(x, ln.weight, ln.bias, eps=1e-2), ln(x), **F64)


def test_layer_norm_float32_and_manual():
    d = 7
    ln = randomise_(nn.LayerNorm(d))
    x = torch.randn(2, 5, d) * 4 - 1
    torch.testing.assert_close(S.layer_norm(x, ln.weight, ln.bias), ln(x), **F32)
    xd = x.double()
    mean = xd.sum(-1, keepdim=True) / d
    var = ((xd - mean) ** 2).sum(-1, keepdim=True) / d
    manual = (xd - mean) / torch.sqrt(var + 1e-5) * ln.weight.double() + ln.bias.double()
    torch.testing.assert_close(S.layer_norm(xd, ln.weight.double(), ln.bias.double()), manual, **F64)


@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_feed_forward_matches_manual(activation):
    d_model, d_ff = 8, 11
    ff = S.FeedForward(d_model, d_ff, activation=activation).double()
    assert ff.linear1.weight.shape == (d_ff, d_model) and ff.linear2.weight.shape == (d_model, d_ff)
    randomise_(ff, scale=0.5)
    x = torch.randn(3, 5, d_model, dtype=torch.float64)
    act = {"relu": F.relu, "gelu": F.gelu}[activation]
    expected = act(x @ ff.linear1.weight.T + ff.linear1.bias) @ ff.linear2.weight.T + ff.linear2.bias
    torch.testing.assert_close(ff(x), expected, **F64)


def test_feed_forward_rejects_unknown_activation():
    with pytest.raises(ValueError):
        S.FeedForward(8, 11, activation="swish")


def make_block_pair(d_model, H, d_ff, norm_first, activation, dtype=torch.float64):
    ref = randomise_(nn.TransformerEncoderLayer(d_model, H, d_ff, dropout=0.0, activation=activation,
                                                batch_first=True, norm_first=norm_first, dtype=dtype))
    mine = S.EncoderBlock(d_model, H, d_ff, dropout=0.0, norm_first=norm_first, activation=activation).to(dtype)
    copy_block_(mine, ref)
    return mine, ref


def nn_layer_kwargs(nn_kwargs):
    return {"src_mask": nn_kwargs.get("attn_mask"), "src_key_padding_mask": nn_kwargs.get("key_padding_mask")}


@pytest.mark.parametrize("B, T, H, d_head, d_ff", CONFIGS)
@pytest.mark.parametrize("norm_first", [False, True], ids=["post-LN", "pre-LN"])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("mask_name", ["none", "causal", "causal+padding"])
def test_encoder_block_matches_nn(B, T, H, d_head, d_ff, norm_first, activation, mask_name):
    d_model = H * d_head
    mine, ref = make_block_pair(d_model, H, d_ff, norm_first, activation)
    x = torch.randn(B, T, d_model, dtype=torch.float64)
    mask, nn_kwargs = mask_cases(B, T, H)[mask_name]
    out = mine(x, mask)
    ref_out = ref(x, **nn_layer_kwargs(nn_kwargs))
    assert out.shape == (B, T, d_model)
    torch.testing.assert_close(out, ref_out, **F64)


@pytest.mark.parametrize("norm_first", [False, True], ids=["post-LN", "pre-LN"])
def test_encoder_block_matches_nn_padding_and_per_head(norm_first):
    B, T, H, d_head, d_ff = 3, 5, 2, 4, 11
    mine, ref = make_block_pair(H * d_head, H, d_ff, norm_first, "relu")
    x = torch.randn(B, T, H * d_head, dtype=torch.float64)
    for name in ["padding", "per-head"]:
        mask, nn_kwargs = mask_cases(B, T, H)[name]
        torch.testing.assert_close(mine(x, mask), ref(x, **nn_layer_kwargs(nn_kwargs)), **F64)


def test_encoder_block_float32():
    B, T, H, d_head, d_ff = 3, 5, 2, 4, 11
    mine, ref = make_block_pair(H * d_head, H, d_ff, False, "gelu", dtype=torch.float32)
    x = torch.randn(B, T, H * d_head)
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    torch.testing.assert_close(mine(x, causal), ref(x, src_mask=~causal), **F32)


def test_encoder_block_submodules():
    block = S.EncoderBlock(8, 2, 11)
    assert isinstance(block.self_attn, S.MultiHeadAttention) and isinstance(block.ff, S.FeedForward)
    assert isinstance(block.norm1, nn.LayerNorm) and isinstance(block.norm2, nn.LayerNorm)
    assert block.ff.linear1.weight.shape == (11, 8)


# ---------------------------------------------------------------- 09 stacking

def make_encoder_pair(vocab, d_model, H, d_ff, n_layers, norm_first, max_len=32):
    mine = S.TransformerEncoder(vocab, d_model, H, d_ff, n_layers, max_len=max_len, norm_first=norm_first).double()
    layer = nn.TransformerEncoderLayer(d_model, H, d_ff, dropout=0.0, batch_first=True, norm_first=norm_first,
                                       dtype=torch.float64)
    final = nn.LayerNorm(d_model, dtype=torch.float64) if norm_first else None
    ref_stack = nn.TransformerEncoder(layer, n_layers, norm=final, enable_nested_tensor=False)
    randomise_(ref_stack)
    embedding = nn.Embedding(vocab, d_model, dtype=torch.float64)
    with torch.no_grad():
        mine.embedding.weight.copy_(embedding.weight)
        for a, b in zip(mine.layers, ref_stack.layers):
            copy_block_(a, b)
        if norm_first:
            mine.final_norm.weight.copy_(final.weight)
            mine.final_norm.bias.copy_(final.bias)
    return mine, ref_stack, embedding


@pytest.mark.parametrize("norm_first", [False, True], ids=["post-LN", "pre-LN"])
@pytest.mark.parametrize("mask_name", ["none", "causal", "padding", "causal+padding"])
def test_transformer_encoder_matches_nn_stack(norm_first, mask_name, sinusoids):
    B, T, H, d_head, d_ff, vocab, n_layers = 3, 5, 2, 4, 11, 13, 3
    d_model = H * d_head
    mine, ref_stack, embedding = make_encoder_pair(vocab, d_model, H, d_ff, n_layers, norm_first)
    assert isinstance(mine.layers, nn.ModuleList) and len(mine.layers) == n_layers
    assert all(isinstance(layer, S.EncoderBlock) for layer in mine.layers)
    assert isinstance(mine.final_norm, nn.LayerNorm if norm_first else nn.Identity)
    ids = torch.randint(0, vocab, (B, T))
    mask, nn_kwargs = mask_cases(B, T, H)[mask_name]
    # The reference builds its `pe` buffer in the default dtype (float32) and .double() casts it:
    # it agrees with the float64 formula to ~1e-7, so the stacks share the buffer for the 1e-10 check.
    pe = mine.pos_encoding.pe[:T]
    torch.testing.assert_close(pe, sinusoids(T, d_model), rtol=0, atol=1e-6)
    x0 = embedding(ids) + pe
    ref_out = ref_stack(x0, mask=nn_kwargs.get("attn_mask"), src_key_padding_mask=nn_kwargs.get("key_padding_mask"))
    out = mine(ids, mask)
    assert out.shape == (B, T, d_model)
    torch.testing.assert_close(out, ref_out, **F64)

    states = mine(ids, mask, return_all_layers=True)
    assert len(states) == n_layers + 1
    torch.testing.assert_close(states[0], x0, **F64)
    x = states[0]
    for i, layer in enumerate(ref_stack.layers):
        x = layer(x, **nn_layer_kwargs(nn_kwargs))
        expected = ref_stack.norm(x) if (norm_first and i == n_layers - 1) else x
        torch.testing.assert_close(states[i + 1], expected, **F64)
    torch.testing.assert_close(states[-1], out, **F64)


def test_transformer_encoder_float32(sinusoids):
    B, T, H, d_head, d_ff, vocab = 2, 7, 3, 5, 9, 11
    mine, ref_stack, embedding = make_encoder_pair(vocab, H * d_head, H, d_ff, 2, True)
    mine, ref_stack, embedding = mine.float(), ref_stack.float(), embedding.float()
    ids = torch.randint(0, vocab, (B, T))
    out = mine(ids)
    assert out.dtype == torch.float32
    ref_out = ref_stack(embedding(ids) + sinusoids(T, H * d_head).float())
    torch.testing.assert_close(out, ref_out, **F32)


# ---------------------------------------------------------------- count_parameters

@pytest.mark.parametrize("vocab, d_model, H, d_ff, n_layers", [
    (13, 8, 2, 11, 1), (13, 8, 2, 11, 3), (50, 15, 3, 9, 2), (7, 12, 4, 20, 4), (100, 6, 2, 32, 0),
])
@pytest.mark.parametrize("norm_first", [False, True])
def test_count_parameters_matches_module(vocab, d_model, H, d_ff, n_layers, norm_first):
    model = S.TransformerEncoder(vocab, d_model, H, d_ff, n_layers, max_len=16, norm_first=norm_first)
    expected = sum(p.numel() for p in model.parameters())
    assert S.count_parameters(vocab, d_model, H, d_ff, n_layers, norm_first=norm_first) == expected
    assert S.count_parameters(vocab, d_model, H, d_ff, n_layers, norm_first) == expected  # positional too


def test_count_parameters_bert_base():
    vocab, d, H, d_ff, L = 30522, 768, 12, 3072, 12
    total = S.count_parameters(vocab, d, H, d_ff, L)
    assert isinstance(total, int)
    layers = total - vocab * d
    assert layers == 85_054_464  # the 12 layers of BERT-base
    bert_extras = 512 * d + 2 * d + 2 * d + (d * d + d)  # learned positions, token types, embedding LN, pooler
    assert total + bert_extras == 109_482_240
    assert S.count_parameters(vocab, d, H, d_ff, L, norm_first=True) == total + 2 * d


# ---------------------------------------------------------------- 10 training

class Classifier(nn.Module):
    """Encoder + mean pooling + linear head."""

    def __init__(self, vocab, n_classes, dropout=0.0):
        super().__init__()
        self.encoder = S.TransformerEncoder(vocab, 8, 2, 11, 1, max_len=16, dropout=dropout)
        self.head = nn.Linear(8, n_classes)

    def forward(self, ids):
        return self.head(self.encoder(ids).mean(dim=1))


def separable_batches(n_batches=4, B=6, T=5):
    """Class 0 sentences use tokens 0-2, class 1 sentences tokens 3-5."""
    g = torch.Generator().manual_seed(1)
    batches = []
    for _ in range(n_batches):
        labels = torch.randint(0, 2, (B,), generator=g)
        ids = torch.randint(0, 3, (B, T), generator=g) + 3 * labels[:, None]
        batches.append((ids, labels))
    return batches


def test_train_step_decreases_loss_and_evaluate_reaches_one():
    model = Classifier(6, 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    loss_fn = nn.CrossEntropyLoss()
    batches = separable_batches()
    first_ids, first_labels = batches[0]
    with torch.no_grad():
        loss_before = loss_fn(model(first_ids), first_labels).item()
    params_before = [p.detach().clone() for p in model.parameters()]
    loss = S.train_step(model, batches[0], optimizer, loss_fn)
    assert isinstance(loss, float)
    assert loss == pytest.approx(loss_before, rel=1e-6)  # the loss before the update
    assert any(not torch.equal(a, b) for a, b in zip(params_before, model.parameters()))
    losses = [loss] + [S.train_step(model, batches[i % len(batches)], optimizer, loss_fn) for i in range(1, 30)]
    assert all(math.isfinite(v) for v in losses)
    assert sum(losses[-4:]) / 4 < 0.5 * sum(losses[:4]) / 4
    assert S.evaluate(model, batches) == 1.0


class ArgmaxOfInput(nn.Module):
    """Logits = inputs (through an identity Linear); records the mode it ran in."""

    def __init__(self, n):
        super().__init__()
        self.lin = nn.Linear(n, n, bias=False)
        with torch.no_grad():
            self.lin.weight.copy_(torch.eye(n))
        self.dropout = nn.Dropout(0.9)
        self.modes = []

    def forward(self, x):
        self.modes.append(self.training)
        return self.dropout(self.lin(x))


def test_evaluate_counts_examples_not_batches():
    model = ArgmaxOfInput(3)
    eye = torch.eye(3)
    batch1 = (eye[[0, 1, 2, 0]], torch.tensor([0, 1, 2, 0]))  # 4 / 4 correct
    batch2 = (eye[[1, 2]], torch.tensor([0, 0]))  # 0 / 2 correct
    assert S.evaluate(model, [batch1, batch2]) == pytest.approx(4 / 6, abs=1e-12)  # not (1 + 0) / 2
    assert S.evaluate(model, iter([batch2, batch1, batch1])) == pytest.approx(8 / 10, abs=1e-12)
    assert model.modes and not any(model.modes)  # ran in eval mode (no dropout)


@pytest.mark.parametrize("training", [True, False])
def test_evaluate_restores_mode(training):
    model = ArgmaxOfInput(3)
    model.train(training)
    S.evaluate(model, [(torch.eye(3), torch.arange(3))])
    assert model.training is training
    assert model.dropout.training is training


def test_pick_device():
    device = S.pick_device()
    assert isinstance(device, torch.device)
    if torch.cuda.is_available():
        assert device.type == "cuda"
    elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        assert device.type == "mps"
    else:
        assert device == torch.device("cpu")


# ---------------------------------------------------------------- 11 probing

def probe_data(N=300, d=6, seed=3):
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2, (N,), generator=g)
    noise = torch.randn(N, d, generator=g, dtype=torch.float64)
    centres = torch.zeros(2, d, dtype=torch.float64)
    centres[0, 0], centres[1, 1] = 4.0, 4.0
    separable = centres[labels] + 0.5 * noise
    random_layer = torch.randn(N, d, generator=g, dtype=torch.float64)
    return labels, separable, random_layer


def test_layer_probe_accuracy_separable_vs_random():
    labels, separable, random_layer = probe_data()
    accs = S.layer_probe_accuracy([random_layer, separable, separable.float()], labels)
    assert len(accs) == 3
    assert all(isinstance(a, float) for a in accs)
    assert accs[1] >= 0.99 and accs[2] >= 0.99
    assert abs(accs[0] - 0.5) < 0.2


def test_layer_probe_accuracy_random_labels_near_chance():
    labels, separable, _ = probe_data(N=1000)
    shuffled = labels[torch.randperm(labels.numel(), generator=torch.Generator().manual_seed(7))]
    accs = S.layer_probe_accuracy(torch.stack([separable, separable]), shuffled)  # one (L, N, d) tensor
    assert len(accs) == 2
    assert all(abs(a - 0.5) < 0.12 for a in accs)


def test_layer_probe_accuracy_three_classes_and_one_layer_per_entry():
    g = torch.Generator().manual_seed(5)
    N, d = 300, 7
    labels = torch.randint(0, 3, (N,), generator=g)
    separable = 5.0 * torch.eye(d, dtype=torch.float64)[labels] + 0.3 * torch.randn(N, d, generator=g, dtype=torch.float64)
    hidden = [torch.randn(N, d, generator=g) for _ in range(4)] + [separable]
    accs = S.layer_probe_accuracy(hidden, labels)
    assert len(accs) == 5
    assert accs[-1] >= 0.99
    assert max(accs[:4]) < 0.6  # chance is 1/3
