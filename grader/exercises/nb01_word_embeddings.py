"""Checks for notebook 01: tokenize, embed, cosine_similarity."""
from __future__ import annotations

import numpy as np

from ..core import Call, Check, Comparison, Exercise
from ._common import distinct_shape

NOTEBOOK = "01_word_embeddings"

# Public tokenize checks: each sentence tokenised by hand. The ids are read from the
# vocabulary at check time, so the expected values follow the course's vocab file.
HAND_TOKENS = {
    "Strike the match!": ["strike", "the", "match", "!"],
    "Strike the match so it will burn.": ["strike", "the", "match", "so", "it", "will", "burn", "."],
    "They won the tennis match.": ["they", "won", "the", "tennis", "match", "."],
    "the zebra ate my match": ["the", "<unk>", "<unk>", "my", "match"],
    # runs of punctuation: every mark is a token of its own, in order
    "Strike the match!?": ["strike", "the", "match", "!", "?"],
    "It will burn...": ["it", "will", "burn", ".", ".", "."],
    "They won ?! the tennis match": ["they", "won", "?", "!", "the", "tennis", "match"],
}


def _course_vocab() -> dict[str, int]:
    from course.data import load_vocab

    return load_vocab()


def _course_table():
    from course.data import load_embeddings

    return load_embeddings()


def _hand_tokenized(sentence, vocab):
    return np.array([vocab[token] for token in HAND_TOKENS[sentence]], dtype=np.int64)


def _tokenize_calls(*sentences):
    def calls(rng):
        vocab = _course_vocab()
        return [Call(args=(sentence, vocab)) for sentence in sentences]

    return calls


def _int_array(outputs, calls) -> Comparison:
    for i, out in enumerate(outputs):
        if not isinstance(out, np.ndarray):
            return Comparison(False, f"call {i}: expected a numpy array of ids, got {type(out).__name__}")
        if not np.issubdtype(out.dtype, np.integer):
            return Comparison(False, f"call {i}: expected an integer array (ids index the embedding table), "
                                     f"got dtype {out.dtype}")
        if out.ndim != 1:
            return Comparison(False, f"call {i}: expected a 1-D array of shape (T,), got shape {out.shape}")
    return Comparison(True)


# Hidden tokenize inputs: made-up vocabularies with shuffled ids (so "<unk>" is neither 0
# nor 1), sentences with capitals, punctuation glued to words and unknown words.
KNOWN_WORDS = ("apple", "river", "stone", "cloud", "violin", "garden", "tiger", "lamp", "orbit", "pepper",
               "quartz", "meadow", "harbor", "falcon", "copper", "willow", "ember", "canyon", "lantern", "moss")
UNKNOWN_WORDS = ("zebra", "nimbus", "kettle", "prism", "saffron", "tundra", "walnut", "glacier")
PUNCTUATION = (".", ",", "!", "?")


def _random_vocab(rng, n_words):
    tokens = ["<pad>", "<unk>", *PUNCTUATION, *rng.choice(KNOWN_WORDS, size=n_words, replace=False)]
    ids = rng.permutation(len(tokens))
    vocab = {str(token): int(i) for token, i in zip(tokens, ids)}
    if vocab["<unk>"] in (0, 1):  # hard-coded 0 or 1 for unknown words must show
        other = next(t for t, i in vocab.items() if i >= 2)
        vocab["<unk>"], vocab[other] = vocab[other], vocab["<unk>"]
    return vocab


def _case(rng, word):
    return [word, word.capitalize(), word.upper()][int(rng.integers(3))]


def _random_sentence(rng, known, T, unknown=UNKNOWN_WORDS):
    """T words: a capitalised known first word, at least one unknown word, glued punctuation."""
    words = [str(w) for w in rng.choice(known, size=T)]
    words[int(rng.integers(1, T))] = str(rng.choice(unknown))
    words = [_case(rng, w) for w in words]
    words[0] = words[0].capitalize()
    if T > 3 and rng.random() < 0.7:  # a comma glued to a word in the middle
        words[int(rng.integers(1, T - 1))] += ","
    words[-1] += str(rng.choice([".", "!", "?"]))
    return " ".join(words)


def _tokenize_hidden(rng):
    calls = []
    for T, n_words in zip(distinct_shape(rng, 2, 4, 10), distinct_shape(rng, 2, 6, 15)):
        vocab = _random_vocab(rng, n_words)
        known = [w for w in vocab if w.isalpha()]
        calls += [Call(args=(_random_sentence(rng, known, T), vocab)) for _ in range(2)]
    return calls


def _punctuation_run(rng):
    """Two or three marks: one repeated ("...", "??") or mixed ("!?", "?!.")."""
    size = int(rng.integers(2, 4))
    if rng.random() < 0.5:
        return str(rng.choice(PUNCTUATION)) * size
    return "".join(str(m) for m in rng.choice([".", "!", "?"], size=size))


def _sentence_with_runs(rng, known, T):
    """T words with runs of punctuation: glued to a word in the middle, standing alone, and at the end."""
    words = [_case(rng, str(w)) for w in rng.choice(known, size=T)]
    words[0] = words[0].capitalize()
    words[int(rng.integers(1, T - 1))] += _punctuation_run(rng)
    words.insert(int(rng.integers(1, T)), _punctuation_run(rng))
    words[-1] += _punctuation_run(rng)
    return " ".join(words)


def _tokenize_hidden_runs(rng):
    calls = []
    for T, n_words in zip(distinct_shape(rng, 2, 4, 10), distinct_shape(rng, 2, 6, 15)):
        vocab = _random_vocab(rng, n_words)
        known = [w for w in vocab if w.isalpha()]
        calls += [Call(args=(_sentence_with_runs(rng, known, T), vocab)) for _ in range(2)]
    return calls


def _tokenize_hidden_course(rng):
    vocab = _course_vocab()
    known = [w for w in vocab if w.isalpha()]
    return [Call(args=(_random_sentence(rng, known, T), vocab)) for T in distinct_shape(rng, 3, 4, 12)]


tokenize = Exercise(
    name="tokenize",
    notebook=NOTEBOOK,
    kind="function",
    signature=("sentence", "vocab"),
    where="the `tokenize` cell of 01_word_embeddings",
    checks=[
        Check("strike_the_match", 'tokenize("Strike the match!", vocab) gives the ids of strike, the, match, !',
              _tokenize_calls("Strike the match!"), oracle=_hand_tokenized,
              hint='Lower-case first ("Strike" -> "strike"), then split "match!" into "match" and "!".'),
        Check("two_senses", 'the notes\' sentences "Strike the match so it will burn." and '
                            '"They won the tennis match." (same id for "match" in both)',
              _tokenize_calls("Strike the match so it will burn.", "They won the tennis match."),
              oracle=_hand_tokenized,
              hint='The final "." is a token of its own: "burn." must give the ids of "burn" and ".".'),
        Check("unknown_words", 'words missing from the vocabulary get the id of "<unk>": "the zebra ate my match"',
              _tokenize_calls("the zebra ate my match"), oracle=_hand_tokenized,
              hint='Look the id of unknown words up as vocab["<unk>"] (vocab.get(word, vocab["<unk>"])).'),
        Check("punctuation_runs", 'runs of punctuation give one token per mark: "Strike the match!?", '
                                  '"It will burn..." and "They won ?! the tennis match"',
              _tokenize_calls("Strike the match!?", "It will burn...", "They won ?! the tennis match"),
              oracle=_hand_tokenized,
              hint='Every punctuation mark is a token of its own, even in a run: "match!?" gives "match", "!", "?" '
                   'and "..." gives ".", ".", ".".'),
        Check("integer_ids", "the result is a 1-D numpy array of integers (ids index the embedding table)",
              _tokenize_calls("Strike the match!"), judge=_int_array,
              hint="Build the array with dtype=np.int64 (np.zeros makes floats, which cannot index a table)."),
        Check("hidden_sentences", "random sentences with capitals, glued punctuation and unknown words, "
                                  "with two made-up vocabularies",
              _tokenize_hidden, points=2.0, hidden=True),
        Check("hidden_punctuation_runs", "random sentences with runs of punctuation (repeated and mixed marks, "
                                         "glued to words and standing alone), with two made-up vocabularies",
              _tokenize_hidden_runs, points=2.0, hidden=True),
        Check("hidden_course_vocab", "random sentences over the course vocabulary, with unknown words",
              _tokenize_hidden_course, points=2.0, hidden=True),
    ],
)


# ---------------------------------------------------------------------------------------- embed

def _torch_embed(token_ids, table):
    import torch
    import torch.nn.functional as F

    return F.embedding(torch.from_numpy(np.asarray(token_ids, dtype=np.int64)), torch.from_numpy(table)).numpy()


def _notes_sentences(rng):
    vocab, table = _course_table()
    first = np.array([vocab[w] for w in "strike the match so it will burn".split()], dtype=np.int64)
    second = np.array([vocab[w] for w in "they won the tennis match".split()], dtype=np.int64)
    return [Call(args=(first, table)), Call(args=(second, table))]


def _same_vector_for_match(outputs, calls) -> Comparison:
    """The point of notebook 01: without context, "match" gets the same vector everywhere."""
    positions = (2, 4)  # where "match" is in the two sentences of _notes_sentences
    d = calls[0].args[1].shape[1]
    for out, call in zip(outputs, calls):
        T = len(call.args[0])
        if not isinstance(out, np.ndarray) or out.shape != (T, d):
            shape = out.shape if isinstance(out, np.ndarray) else type(out).__name__
            return Comparison(False, f"expected shape {(T, d)} (one row per token), got {shape}")
    first, second = (out[p] for out, p in zip(outputs, positions))
    if not np.array_equal(first, second):
        return Comparison(False, 'the rows for "match" differ between the two sentences; '
                                 "row t must be table[token_ids[t]]")
    return Comparison(True)


def _embed_hidden(rng):
    calls = []
    for _ in range(2):
        T, d = distinct_shape(rng, 2, 3, 10)
        V = int(rng.integers(10, 20))
        ids = rng.integers(0, V, size=T)
        ids[-1] = ids[0]  # a repeated token, as in real sentences
        calls.append(Call(args=(ids.astype(np.int64), rng.normal(size=(V, d)))))
    return calls


embed = Exercise(
    name="embed",
    notebook=NOTEBOOK,
    kind="function",
    signature=("token_ids", "table"),
    where="the `embed` cell of 01_word_embeddings",
    checks=[
        Check("by_hand", "ids [4, 0, 4, 2] in a (5, 3) table whose row k is [3k, 3k+1, 3k+2] "
                         "give rows [[12, 13, 14], [0, 1, 2], [12, 13, 14], [6, 7, 8]]",
              lambda rng: [Call(args=(np.array([4, 0, 4, 2], dtype=np.int64), np.arange(15.0).reshape(5, 3)))],
              oracle=_torch_embed,
              hint="Row t of the result is table[token_ids[t]], in sentence order, repeats included: table[token_ids]."),
        Check("course_vectors", 'the course\'s (144, 8) table: "strike the match so it will burn" and '
                                '"they won the tennis match" match torch.nn.functional.embedding',
              _notes_sentences, oracle=_torch_embed,
              hint="The result has shape (T, d): one row per token, in the order of the sentence."),
        Check("match_has_no_context", 'the vector of "match" is the same in both sentences (no context yet)',
              _notes_sentences, judge=_same_vector_for_match,
              hint="Index the table's rows with the ids (table[token_ids]); do not transpose or sort."),
        Check("hidden_random", "random tables and ids (with repeats) of two shapes", _embed_hidden,
              points=2.0, hidden=True),
    ],
    # F.embedding / nn.Embedding are the same lookup as table[token_ids] and teach nothing less,
    # and the static check also matches strings ("the embedding table" in a docstring), so
    # forbidding them would reject honest answers.
    forbidden=(),
)


# ---------------------------------------------------------------------------- cosine_similarity

def _torch_cosine(a, b):
    import torch
    import torch.nn.functional as F

    return float(F.cosine_similarity(torch.from_numpy(a), torch.from_numpy(b), dim=0))


def _pairs(*pairs):
    return lambda rng: [Call(args=(np.array(a, dtype=np.float64), np.array(b, dtype=np.float64))) for a, b in pairs]


def _course_words(*pairs):
    def calls(rng):
        vocab, table = _course_table()
        return [Call(args=(table[vocab[a]], table[vocab[b]])) for a, b in pairs]

    return calls


def _cosine_hidden(rng):
    calls = []
    for d in distinct_shape(rng, 2, 3, 12):
        a, b = rng.normal(size=d), rng.normal(size=d)
        scale = float(rng.uniform(2.0, 5.0))
        calls += [
            Call(args=(a * scale, b)),
            Call(args=(a, -scale * a + 0.1 * b)),  # nearly opposite, lengths differ
            Call(args=(rng.normal(size=d) * 3.0, rng.normal(size=d) * 0.5)),
        ]
    return calls


cosine_similarity = Exercise(
    name="cosine_similarity",
    notebook=NOTEBOOK,
    kind="function",
    signature=("a", "b"),
    where="the `cosine_similarity` cell of 01_word_embeddings",
    checks=[
        Check("by_hand", "cos([1, 0], [1, 1]) = 1/sqrt(2) = 0.7071", _pairs(([1, 0], [1, 1])), oracle=_torch_cosine,
              hint="Divide the dot product by both lengths: a . b / (|a| |b|), with |a| = sqrt(a . a)."),
        Check("length_does_not_matter", "a vector and a longer copy of it point the same way: "
                                        "cos([1, 2, 2], [3, 6, 6]) = 1",
              _pairs(([1, 2, 2], [3, 6, 6])), oracle=_torch_cosine,
              hint="Cosine similarity ignores length: divide by np.linalg.norm(a) * np.linalg.norm(b)."),
        Check("opposite", "opposite directions give -1: cos([2, -1, 0, 3], [-4, 2, 0, -6])",
              _pairs(([2, -1, 0, 3], [-4, 2, 0, -6])), oracle=_torch_cosine,
              hint="Similarity is +1 for the same direction and -1 for the opposite one (1 - cos is a distance)."),
        Check("zero_vector", "the zero vector has no direction: cos(0, [1, 2, 2]), cos([1, 2, 2], 0) and "
                             "cos(0, 0) are all 0, not NaN",
              _pairs(([0, 0, 0], [1, 2, 2]), ([1, 2, 2], [0, 0, 0]), ([0, 0, 0], [0, 0, 0])), oracle=_torch_cosine,
              hint="A zero length makes a . b / (|a| |b|) = 0 / 0 = NaN: divide by max(|a| |b|, eps) instead."),
        Check("course_words", 'course vectors: "match" vs "fire", "tennis", "the" and itself '
                              "(compared with torch.nn.functional.cosine_similarity)",
              _course_words(("match", "fire"), ("match", "tennis"), ("match", "the"), ("match", "match")),
              oracle=_torch_cosine),
        Check("hidden_random", "random vectors of two sizes, scaled and nearly opposite pairs", _cosine_hidden,
              points=2.0, hidden=True),
    ],
    # The built-ins by name; the function's own name does not count (grader.isolation.static).
    forbidden=("cosine",),
)

EXERCISES = [tokenize, embed, cosine_similarity]
