"""Notebook 01: from words to vectors (numpy track).

A language model keeps one lookup vector per token. The same token gets the same
vector in every sentence: "match" in "strike the match" and in "the tennis match"
start out identical (cosine similarity 1). The rest of the course adds context.
"""
import re

import numpy as np

# A token is a run of letters/digits/underscore, or a single punctuation mark:
# "Strike the match!" -> ["strike", "the", "match", "!"].
TOKEN_PATTERN = re.compile(r"\w+|[^\w\s]")


def tokenize(sentence: str, vocab: dict[str, int]) -> np.ndarray:
    """Split a sentence into tokens and map them to ids.

    Lower-cases, splits punctuation off as its own token, and maps words that are
    not in ``vocab`` to the id of ``"<unk>"``.

    Returns an int array of shape ``(T,)``.
    """
    words = TOKEN_PATTERN.findall(sentence.lower())
    unk_id = vocab["<unk>"]
    return np.array([vocab.get(word, unk_id) for word in words], dtype=np.int64)


def embed(token_ids: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Look up one row of the embedding table per token.

    token_ids: ``(T,)`` ints; table: ``(V, d)``. Returns ``X`` of shape ``(T, d)``,
    with ``X[t] = table[token_ids[t]]``.
    """
    return table[np.asarray(token_ids, dtype=np.int64)]  # (T, d)


def cosine_similarity(a: np.ndarray, b: np.ndarray, eps: float = 1e-8) -> float:
    """cos(a, b) = a . b / max(|a| |b|, eps), a number in [-1, 1].

    ``eps`` guards the zero vector: the similarity of anything with the zero vector is 0
    (0 / eps), never NaN. ``torch.nn.functional.cosine_similarity`` gives 0 there too, but it
    clamps each length on its own, a . b / (max(|a|, eps) max(|b|, eps)), so the two differ for
    vectors whose lengths multiply to less than eps (e.g. two vectors of length 1e-5).
    """
    norms = np.linalg.norm(a) * np.linalg.norm(b)
    return float(np.dot(a, b) / max(norms, eps))
