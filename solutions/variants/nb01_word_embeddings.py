"""Correct answers in other styles for notebook 01."""
import math
import re
import string

import numpy as np

from . import variant


@variant("tokenize", "split_and_peel")
def tokenize_split_and_peel(sentence, vocab):
    """Split on spaces, then peel punctuation off both ends of each piece."""
    tokens = []
    for piece in sentence.lower().split():
        head = []
        while piece and piece[0] in string.punctuation:
            head.append(piece[0])
            piece = piece[1:]
        tail = []
        while piece and piece[-1] in string.punctuation:
            tail.insert(0, piece[-1])
            piece = piece[:-1]
        tokens += head + ([piece] if piece else []) + tail
    unk = vocab["<unk>"]
    return np.array([vocab[t] if t in vocab else unk for t in tokens], dtype=np.int64)


@variant("tokenize", "pad_punctuation")
def tokenize_pad_punctuation(sentence, vocab):
    """Put spaces around every punctuation mark, then split; int32 ids."""
    spaced = re.sub(r"([^\w\s])", r" \1 ", sentence).lower()
    return np.array([vocab.get(w, vocab["<unk>"]) for w in spaced.split()], dtype=np.int32)


@variant("tokenize", "char_loop")
def tokenize_char_loop(sentence, vocab):
    """One pass over the characters, building words by hand."""
    tokens, word = [], ""
    for ch in sentence:
        if ch.isalnum() or ch == "_":
            word += ch.lower()
            continue
        if word:
            tokens.append(word)
            word = ""
        if not ch.isspace():
            tokens.append(ch)
    if word:
        tokens.append(word)
    ids = np.empty(len(tokens), dtype=int)
    for t, token in enumerate(tokens):
        ids[t] = vocab.get(token, vocab["<unk>"])
    return ids


@variant("embed", "take")
def embed_take(token_ids, table):
    return np.take(table, token_ids, axis=0)


@variant("embed", "loop_stack")
def embed_loop_stack(token_ids, table):
    return np.stack([table[int(i)] for i in token_ids])


@variant("embed", "one_hot")
def embed_one_hot(token_ids, table):
    one_hot = np.eye(table.shape[0])[token_ids]  # (T, V)
    return one_hot @ table  # (T, V) @ (V, d) -> (T, d)


@variant("embed", "float32")
def embed_float32(token_ids, table):
    return table.astype(np.float32)[token_ids]


@variant("cosine_similarity", "loops")
def cosine_loops(a, b, eps=1e-8):
    dot = sum(x * y for x, y in zip(a, b))
    lengths = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / lengths if lengths > eps else 0.0  # the zero vector has no direction


@variant("cosine_similarity", "normalise_first")
def cosine_normalise_first(a, b, eps=1e-8):
    # torch's way: each length clamped on its own (0 for the zero vector, as the course asks)
    return float(np.dot(a / max(np.linalg.norm(a), eps), b / max(np.linalg.norm(b), eps)))


@variant("cosine_similarity", "einsum")
def cosine_einsum(a, b, eps=1e-8):
    return np.einsum("i,i->", a, b) / max(np.sqrt(np.einsum("i,i->", a, a) * np.einsum("i,i->", b, b)), eps)
