"""The numpy track of the hidden reference (notebooks 01-04) against PyTorch.

Every function is compared with an independent PyTorch computation in float64. Shapes use
pairwise distinct sizes so that a transposed product or a reduction over the wrong axis
cannot pass by accident.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import solutions as S

pytestmark = pytest.mark.usefixtures("torch_single_thread")
TOL = dict(rtol=1e-12, atol=1e-12)
T_Q, T_K, D_IN, D_K, D_V = 3, 5, 6, 4, 7  # pairwise distinct


def t(a):
    return torch.as_tensor(np.asarray(a), dtype=torch.float64)


def assert_close(actual, expected, **tol):
    tol = tol or TOL
    assert isinstance(actual, np.ndarray), type(actual)
    np.testing.assert_allclose(actual, np.asarray(expected), **tol)


def random_mask(rng, shape, p=0.5):
    """A boolean mask with at least one allowed key (True) in every row."""
    mask = rng.random(shape) < p
    rows = mask.reshape(-1, shape[-1])
    rows[np.arange(rows.shape[0]), rng.integers(0, shape[-1], rows.shape[0])] = True
    return rows.reshape(shape)


def torch_weights(q, k, mask=None):
    """softmax(q k^T / sqrt(d_k)) with masked keys at -inf, computed by torch."""
    scores = t(q) @ t(k).T / np.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~torch.as_tensor(mask), float("-inf"))
    return torch.softmax(scores, dim=-1)


def fused_sdpa(q, k, v, mask=None):
    """``F.scaled_dot_product_attention`` (same mask polarity: True = may attend)."""
    attn_mask = None if mask is None else torch.as_tensor(np.broadcast_to(mask, (q.shape[0], k.shape[0])).copy())
    return F.scaled_dot_product_attention(t(q), t(k), t(v), attn_mask=attn_mask)


# ---------------------------------------------------------------- 01 word embeddings

VOCAB = {"strike": 0, "the": 1, "match": 2, "!": 3, "so": 4, "it": 5, "will": 6, "burn": 7,
         ",": 8, ".": 9, "<unk>": 10, "?": 11}


@pytest.mark.parametrize(
    "sentence, expected",
    [
        ("Strike the match!", [0, 1, 2, 3]),
        ("strike the match", [0, 1, 2]),
        ("Strike the Match, so it will BURN.", [0, 1, 2, 8, 4, 5, 6, 7, 9]),
        ("They won the tennis match", [10, 10, 1, 10, 2]),  # unknown words -> <unk> id (10, not 0)
        ("match!!", [2, 3, 3]),
        ("  the\tmatch \n", [1, 2]),
        ("the match?burn", [1, 2, 11, 7]),
        ("Tennis?", [10, 11]),
    ],
)
def test_tokenize_examples(sentence, expected):
    ids = S.tokenize(sentence, VOCAB)
    assert isinstance(ids, np.ndarray)
    assert np.issubdtype(ids.dtype, np.integer)
    assert ids.shape == (len(expected),)
    assert ids.tolist() == expected


def test_tokenize_empty_sentence():
    ids = S.tokenize("", VOCAB)
    assert isinstance(ids, np.ndarray) and ids.shape == (0,)


def test_tokenize_uses_the_vocab_unk_id():
    vocab = {"<unk>": 3, "match": 0, "the": 1, "!": 2}
    assert S.tokenize("Strike the match!", vocab).tolist() == [3, 1, 0, 2]


def test_embed_matches_torch_embedding(rng):
    table = rng.normal(size=(len(VOCAB), D_IN))
    ids = np.array([2, 0, 2, 10, 7])  # repeats: same token, same vector
    X = S.embed(ids, table)
    expected = F.embedding(torch.as_tensor(ids), t(table))
    assert X.shape == (len(ids), D_IN)
    assert_close(X, expected)
    np.testing.assert_array_equal(X[0], X[2])
    assert_close(S.embed(list(ids), table), expected)  # a plain list of ids works too


def test_embed_of_tokenized_sentence(rng):
    table = rng.normal(size=(len(VOCAB), D_IN))
    X = S.embed(S.tokenize("Strike the match!", VOCAB), table)
    assert_close(X, table[[0, 1, 2, 3]])


def test_cosine_similarity_matches_torch(rng):
    for _ in range(10):
        a, b = rng.normal(size=(2, D_IN))
        got = S.cosine_similarity(a, b)
        assert isinstance(got, float)
        expected = F.cosine_similarity(t(a), t(b), dim=0).item()
        assert got == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_cosine_similarity_special_cases(rng):
    a = rng.normal(size=D_IN)
    assert S.cosine_similarity(a, a) == pytest.approx(1.0, abs=1e-12)
    assert S.cosine_similarity(a, 3.5 * a) == pytest.approx(1.0, abs=1e-12)
    assert S.cosine_similarity(a, -2.0 * a) == pytest.approx(-1.0, abs=1e-12)
    e0, e1 = np.eye(D_IN)[:2]
    assert S.cosine_similarity(e0, e1) == pytest.approx(0.0, abs=1e-12)
    assert S.cosine_similarity(e0 + e1, e0) == pytest.approx(1 / np.sqrt(2), abs=1e-12)
    zero = np.zeros(D_IN)
    assert S.cosine_similarity(a, zero) == pytest.approx(
        F.cosine_similarity(t(a), t(zero), dim=0).item(), abs=1e-12)
    assert S.cosine_similarity(zero, zero) == 0.0 and S.cosine_similarity(zero, a) == 0.0


def test_cosine_similarity_clamps_the_product_of_lengths():
    """eps bounds |a| |b| (the docstring's formula); torch clamps each length, so tiny vectors differ."""
    a, b = np.array([1e-5, 0.0, 0.0]), np.array([1e-5, 1e-5, 0.0])  # |a| |b| = 1.4e-10 < eps = 1e-8
    assert S.cosine_similarity(a, b) == pytest.approx(float(a @ b) / 1e-8, rel=1e-12)
    assert F.cosine_similarity(t(a), t(b), dim=0).item() == pytest.approx(1 / np.sqrt(2), rel=1e-12)


def test_same_word_same_vector_in_both_senses(rng):
    """The course's opening point: without context, both "match"es are identical (cos = 1)."""
    table = rng.normal(size=(len(VOCAB), D_IN))
    fire = S.embed(S.tokenize("strike the match so it will burn", VOCAB), table)
    sport = S.embed(S.tokenize("they won the tennis match", VOCAB), table)
    assert S.cosine_similarity(fire[2], sport[4]) == pytest.approx(1.0, abs=1e-12)


# ---------------------------------------------------------------- 02 relevance

def test_relevance_matches_torch_dot(rng):
    for _ in range(5):
        q, k = rng.normal(size=(2, D_IN))
        got = S.relevance(q, k)
        assert isinstance(got, float)
        assert got == pytest.approx(torch.dot(t(q), t(k)).item(), rel=1e-12, abs=1e-12)


def test_relevance_matrix_matches_torch(rng):
    X = rng.normal(size=(T_K, D_IN))
    R = S.relevance_matrix(X)
    assert R.shape == (T_K, T_K)
    assert_close(R, t(X) @ t(X).T)
    for i in range(T_K):
        for j in range(T_K):
            assert R[i, j] == pytest.approx(S.relevance(X[i], X[j]), rel=1e-12, abs=1e-12)


def test_scaled_relevance_matrix_divides_by_sqrt_d(rng):
    X = rng.normal(size=(T_K, D_IN))  # T != d: dividing by sqrt(T) fails
    R = S.scaled_relevance_matrix(X)
    assert R.shape == (T_K, T_K)
    assert_close(R, t(X) @ t(X).T / np.sqrt(D_IN))


def test_bilinear_relevance_matches_torch(rng):
    W_q, W_k = rng.normal(size=(2, D_IN, D_K))
    for _ in range(5):
        x_i, x_j = rng.normal(size=(2, D_IN))
        got = S.bilinear_relevance(x_i, x_j, W_q, W_k)
        assert isinstance(got, float)
        expected = torch.dot(t(x_i) @ t(W_q), t(x_j) @ t(W_k)).item()
        assert got == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_bilinear_relevance_is_asymmetric(rng):
    W_q, W_k = rng.normal(size=(2, D_IN, D_K))
    burn, match = rng.normal(size=(2, D_IN))
    forward = S.bilinear_relevance(match, burn, W_q, W_k)
    backward = S.bilinear_relevance(burn, match, W_q, W_k)
    assert abs(forward - backward) > 1e-3 * (abs(forward) + abs(backward))
    # ...and symmetric when W_q == W_k (then it is a plain dot product in the projected space)
    assert S.bilinear_relevance(match, burn, W_q, W_q) == pytest.approx(
        S.bilinear_relevance(burn, match, W_q, W_q), rel=1e-12)


# ---------------------------------------------------------------- 03 softmax

@pytest.mark.parametrize("axis", [0, 1, 2, -1, -2])
def test_softmax_matches_torch_on_every_axis(rng, axis):
    scores = rng.normal(scale=3.0, size=(T_Q, T_K, D_K))
    got = S.softmax(scores, axis=axis)
    assert got.shape == scores.shape
    assert_close(got, torch.softmax(t(scores), dim=axis))


def test_softmax_default_axis_is_last(rng):
    scores = rng.normal(size=(T_Q, T_K))
    assert_close(S.softmax(scores), torch.softmax(t(scores), dim=-1))


def test_softmax_of_large_scores_is_finite(rng):
    scores = rng.normal(size=(T_Q, T_K)) * 10 + 1000.0  # exp(1000) overflows
    got = S.softmax(scores)
    assert np.isfinite(got).all()
    assert_close(got, torch.softmax(t(scores), dim=-1), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("mask_shape", [(T_Q, T_K), (T_K,), (1, T_K)])
def test_masked_softmax_matches_torch(rng, mask_shape):
    scores = rng.normal(scale=2.0, size=(T_Q, T_K))
    mask = random_mask(rng, mask_shape)
    got = S.masked_softmax(scores, mask)
    expected = torch.softmax(t(scores).masked_fill(~torch.as_tensor(mask), float("-inf")), dim=-1)
    assert got.shape == (T_Q, T_K)
    assert_close(got, expected)
    full = np.broadcast_to(mask, (T_Q, T_K))
    assert (got[~full] == 0.0).all()  # exactly zero, not just small
    assert_close(got.sum(axis=-1), np.ones(T_Q))


def test_masked_softmax_along_axis_0(rng):
    scores = rng.normal(size=(T_K, T_Q))
    mask = random_mask(rng, (T_Q, T_K)).T  # every column has an allowed entry
    got = S.masked_softmax(scores, mask, axis=0)
    expected = torch.softmax(t(scores).masked_fill(~torch.as_tensor(mask), float("-inf")), dim=0)
    assert_close(got, expected)
    assert (got[~mask] == 0.0).all()


def test_masked_softmax_without_mask_is_softmax(rng):
    scores = rng.normal(size=(T_Q, T_K))
    assert_close(S.masked_softmax(scores, None), torch.softmax(t(scores), dim=-1))


def test_masked_softmax_fully_masked_row_is_zero(rng):
    scores = rng.normal(size=(T_Q, T_K))
    mask = random_mask(rng, (T_Q, T_K))
    mask[1] = False
    got = S.masked_softmax(scores, mask)
    assert not np.isnan(got).any()
    np.testing.assert_array_equal(got[1], np.zeros(T_K))
    expected = torch.softmax(t(scores).masked_fill(~torch.as_tensor(mask), float("-inf")), dim=-1)
    assert_close(got[[0, 2]], expected[[0, 2]])


@pytest.mark.parametrize("T", [1, 2, 5, 7])
def test_causal_mask_matches_torch_tril(T):
    mask = S.causal_mask(T)
    assert isinstance(mask, np.ndarray) and mask.dtype == np.bool_ and mask.shape == (T, T)
    np.testing.assert_array_equal(mask, torch.tril(torch.ones(T, T, dtype=torch.bool)).numpy())


# ---------------------------------------------------------------- 04 context vectors

@pytest.mark.parametrize("masked", [False, True])
def test_attention_weights_match_torch(rng, masked):
    Q, K = rng.normal(size=(T_Q, D_K)), rng.normal(size=(T_K, D_K))
    mask = random_mask(rng, (T_Q, T_K)) if masked else None
    A = S.attention_weights(Q, K, mask)
    assert A.shape == (T_Q, T_K)
    assert_close(A, torch_weights(Q, K, mask))
    # the torch reference of notebook 05 returns the same weights
    _, ref_weights = S.scaled_dot_product_attention(t(Q), t(K), t(rng.normal(size=(T_K, D_V))),
                                                    None if mask is None else torch.as_tensor(mask))
    assert_close(A, ref_weights)
    # the fused kernel's weights: attend to the identity, out = A @ I = A
    assert_close(A, fused_sdpa(Q, K, np.eye(T_K), mask))
    if masked:
        assert (A[~mask] == 0.0).all()


def test_attention_weights_with_causal_mask(rng):
    Q, K = rng.normal(size=(T_K, D_K)), rng.normal(size=(T_K, D_K))
    A = S.attention_weights(Q, K, S.causal_mask(T_K))
    assert_close(A, torch_weights(Q, K, np.tril(np.ones((T_K, T_K), bool))))
    assert (np.triu(A, k=1) == 0.0).all()
    assert A[0, 0] == pytest.approx(1.0, abs=1e-15)


@pytest.mark.parametrize("masked", [False, True])
def test_context_vectors_match_torch(rng, masked):
    Q, K, V = rng.normal(size=(T_Q, D_K)), rng.normal(size=(T_K, D_K)), rng.normal(size=(T_K, D_V))
    mask = random_mask(rng, (T_Q, T_K)) if masked else None
    A = S.attention_weights(Q, K, mask)
    C = S.context_vectors(A, V)
    assert C.shape == (T_Q, D_V)
    assert_close(C, t(A) @ t(V))
    ref_out, _ = S.scaled_dot_product_attention(t(Q), t(K), t(V), None if mask is None else torch.as_tensor(mask))
    assert_close(C, ref_out)
    assert_close(C, fused_sdpa(Q, K, V, mask))


def test_context_vectors_of_arbitrary_weights(rng):
    A, V = rng.random(size=(T_Q, T_K)), rng.normal(size=(T_K, D_V))
    assert_close(S.context_vectors(A, V), t(A) @ t(V))


@pytest.mark.parametrize("mask_kind", ["none", "causal", "random"])
def test_self_attention_matches_torch(rng, mask_kind):
    X = rng.normal(size=(T_K, D_IN))
    W_q, W_k = rng.normal(size=(2, D_IN, D_K)) / np.sqrt(D_IN)
    W_v = rng.normal(size=(D_IN, D_V)) / np.sqrt(D_IN)
    mask = {"none": None, "causal": S.causal_mask(T_K), "random": random_mask(rng, (T_K, T_K))}[mask_kind]
    C, A = S.self_attention(X, W_q, W_k, W_v, mask)
    assert C.shape == (T_K, D_V) and A.shape == (T_K, T_K)
    q, k, v = t(X) @ t(W_q), t(X) @ t(W_k), t(X) @ t(W_v)
    tmask = None if mask is None else torch.as_tensor(mask)
    ref_out, ref_weights = S.scaled_dot_product_attention(q, k, v, tmask)
    assert_close(C, ref_out)
    assert_close(A, ref_weights)
    assert_close(C, F.scaled_dot_product_attention(q, k, v, attn_mask=tmask))
    assert_close(A, F.scaled_dot_product_attention(q, k, torch.eye(T_K, dtype=torch.float64), attn_mask=tmask))
    assert_close(A.sum(axis=-1), np.ones(T_K))


# ---------------------------------------------------------------- 04 the design exercise

def _match_weights(W_q, W_k, words, table, vocab, column_order):
    """torch's softmax of q_match . k_j / sqrt(d_k) over the sentence, columns in ``column_order``."""
    X = t(table[[vocab[w] for w in words]][:, column_order])
    q, K = X[words.index("match")] @ t(W_q), X @ t(W_k)
    return torch.softmax(K @ q / np.sqrt(W_k.shape[1]), dim=0).numpy()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_strike_over_burn_projections_gives_strike_twice_the_weight(seed):
    from course.build_embeddings import read_features
    from course.data import FEATURE_NAMES, load_embeddings

    vocab, table = load_embeddings()
    features = read_features()
    without_noise = np.stack([features.get(w, np.zeros(len(FEATURE_NAMES))) for w in vocab])  # (V, 8)
    order = np.random.default_rng(seed).permutation(len(FEATURE_NAMES)) if seed else np.arange(len(FEATURE_NAMES))
    W_q, W_k = S.strike_over_burn_projections([FEATURE_NAMES[i] for i in order])
    assert W_q.shape == W_k.shape == (len(FEATURE_NAMES), 1)
    fire = "strike the match so it will burn".split()
    for source in (table, without_noise):
        weights = _match_weights(W_q, W_k, fire, source, vocab, order)
        assert weights[fire.index("strike")] >= 2 * weights[fire.index("burn")], weights
        assert weights.sum() == pytest.approx(1.0)
    past = "he struck the match and it burned .".split()
    weights = _match_weights(W_q, W_k, past, table, vocab, order)
    assert weights[past.index("struck")] > weights[past.index("burned")], weights
