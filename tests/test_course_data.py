"""Tests for course/data.py and the shipped assets: vocabulary, embeddings, "match" corpus."""
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from course import build_embeddings
from course.data import (
    EMBEDDINGS_PATH, FEATURE_NAMES, FIRE, PAD, SPORT, UNK, MatchExample, batchify,
    corpus_capacity, encode, load_embeddings, load_vocab, match_corpus,
)

NOTES_SENTENCES = ["strike the match so it will burn", "they won the tennis match"]
FUNCTION_WORDS = ["the", "a", "so", "it", "will", "to", "of", "and", "with", "was"]
# topic words of each sense, used to find distractor sentences
FIRE_WORDS = {"fire", "flame", "smoke", "lit", "light", "burning", "candle", "candles",
              "campfire", "flares", "fireworks", "stove", "lamp", "pipe"}
SPORT_WORDS = {"tennis", "football", "chess", "rugby", "boxing", "cricket", "game", "team",
               "club", "players", "fans", "crowd", "referee", "coach", "goalkeeper", "won"}


@pytest.fixture(scope="module")
def table():
    return load_embeddings()


@pytest.fixture(scope="module")
def corpus():
    return match_corpus()


def vec(table, word):
    vocab, weights = table
    return weights[vocab[word]]


def cosine(a, b):
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


# ---------------------------------------------------------------- vocabulary

def test_vocab_ids_and_special_tokens():
    vocab = load_vocab()
    assert vocab[PAD] == 0 and vocab[UNK] == 1
    assert sorted(vocab.values()) == list(range(len(vocab)))
    assert 100 <= len(vocab) <= 160
    assert {".", ",", "!", "?"} <= set(vocab)
    assert all(w == w.lower() for w in vocab)


def test_vocab_covers_the_notes_sentences():
    vocab = load_vocab()
    for sentence in NOTES_SENTENCES:
        assert set(sentence.split()) <= set(vocab), sentence


def test_encode_maps_unknown_words_to_unk():
    vocab = load_vocab()
    ids = encode(["strike", "the", "zebra", "match"], vocab)
    assert ids.dtype == np.int64
    assert ids.tolist() == [vocab["strike"], vocab["the"], vocab[UNK], vocab["match"]]
    assert encode([], vocab).shape == (0,)


# ---------------------------------------------------------------- embeddings

def test_embedding_table_shape_dtype_and_header(table):
    vocab, weights = table
    assert weights.shape == (len(vocab), 8) and weights.dtype == np.float64
    assert len(FEATURE_NAMES) == 8 and len(set(FEATURE_NAMES)) == 8
    header = EMBEDDINGS_PATH.read_text(encoding="utf-8").splitlines()[0]
    assert header.split("\t") == ["word", *FEATURE_NAMES]


def test_shipped_embeddings_equal_the_generator_output(table):
    words, generated = build_embeddings.build_table()
    assert words == list(load_vocab())
    assert EMBEDDINGS_PATH.read_text(encoding="utf-8") == build_embeddings.render_tsv(words, generated)
    np.testing.assert_array_equal(table[1], generated)


def test_generator_rejects_unknown_tag():
    with pytest.raises(ValueError, match="unknown tag"):
        build_embeddings.parse_tags("fire sparkle:0.5")
    np.testing.assert_array_equal(build_embeddings.parse_tags("sport object:0.5"),
                                  [0, 1, 0.5, 0, 0, 0, 0, 0])


def test_pad_is_zero_and_vectors_are_distinct(table):
    vocab, weights = table
    assert not weights[vocab[PAD]].any()
    assert len(np.unique(weights, axis=0)) == len(vocab)


def test_match_carries_fire_sport_and_object(table):
    match = dict(zip(FEATURE_NAMES, vec(table, "match")))
    assert match["fire"] > 0.8 and match["sport"] > 0.8 and match["object"] > 0.3


def test_relevance_of_burn_and_tennis_to_match_beats_the(table):
    match = vec(table, "match")
    burn, tennis, the = (vec(table, w) @ match for w in ["burn", "tennis", "the"])
    for relevant in (burn, tennis):
        assert relevant > 0.8
        assert relevant >= 3 * abs(the) and relevant - the > 0.6


def test_notes_sentence_relevance_row_ranks_content_words_first(table):
    # relevance("word" | "match") over "strike the match so it will burn"
    match = vec(table, "match")
    scores = {w: vec(table, w) @ match for w in ["strike", "the", "so", "it", "will", "burn"]}
    assert min(scores["strike"], scores["burn"]) > 3 * max(
        abs(scores[w]) for w in ["the", "so", "it", "will"])


def test_cosines_group_words_by_sense(table):
    burn = vec(table, "burn")
    assert cosine(burn, vec(table, "fire")) > 0.7
    assert cosine(burn, vec(table, "flame")) > 0.7
    assert cosine(burn, vec(table, "tennis")) < 0.2
    assert cosine(vec(table, "tennis"), vec(table, "football")) > 0.9


@pytest.mark.parametrize("word", FUNCTION_WORDS)
def test_function_words_are_small_and_on_the_function_axis(table, word):
    v = vec(table, word)
    assert np.linalg.norm(v) < 0.5
    assert FEATURE_NAMES[int(np.argmax(np.abs(v)))] == "function"


# ---------------------------------------------------------------- corpus

def test_corpus_sizes_and_balance(corpus):
    assert len(corpus["train"]) == 2000 and len(corpus["test"]) == 500
    for split in corpus.values():
        labels = [ex.label for ex in split]
        assert set(labels) == {FIRE, SPORT}
        assert abs(np.mean(labels) - 0.5) <= 0.01


def test_odd_sizes_stay_balanced():
    small = match_corpus(n_train=7, n_test=3, seed=5)
    assert sorted(ex.label for ex in small["train"]) == [0, 0, 0, 1, 1, 1, 1]
    assert sorted(ex.label for ex in small["test"]) == [0, 1, 1]


def test_corpus_is_deterministic_and_seed_sensitive(corpus):
    assert match_corpus() == corpus
    other = match_corpus(seed=1)
    assert other["train"] != corpus["train"]
    assert {ex.words for ex in other["train"]} != {ex.words for ex in corpus["train"]}


def test_sentences_are_unique_and_train_test_disjoint(corpus):
    train = [ex.words for ex in corpus["train"]]
    test = [ex.words for ex in corpus["test"]]
    assert len(set(train)) == len(train) and len(set(test)) == len(test)
    assert not set(train) & set(test)


def test_examples_are_well_formed(corpus):
    vocab = load_vocab()
    for ex in corpus["train"] + corpus["test"]:
        assert isinstance(ex, MatchExample) and isinstance(ex.words, tuple)
        assert ex.words[ex.match_index] == "match" and ex.words.count("match") == 1
        assert 5 <= len(ex.words) <= 16
        assert set(ex.words) <= set(vocab), ex.sentence
        assert PAD not in ex.words and UNK not in ex.words


def test_match_appears_at_start_middle_and_end(corpus):
    positions = {"start": 0, "middle": 0, "end": 0}
    for ex in corpus["train"]:
        last_word = len(ex.words) - 2  # the sentence ends with punctuation
        key = "start" if ex.match_index == 0 else "end" if ex.match_index == last_word else "middle"
        positions[key] += 1
    assert min(positions.values()) >= 50, positions


def test_lengths_vary_and_respect_max_len(corpus):
    lengths = {len(ex.words) for ex in corpus["train"]}
    assert min(lengths) <= 7 and max(lengths) == 16
    short = match_corpus(n_train=200, n_test=50, max_len=9)
    assert max(len(ex.words) for ex in short["train"] + short["test"]) <= 9


def test_distractors_need_context(corpus):
    train = corpus["train"]
    sport_with_fire = [ex for ex in train if ex.label == SPORT and FIRE_WORDS & set(ex.words)]
    fire_with_sport = [ex for ex in train if ex.label == FIRE and SPORT_WORDS & set(ex.words)]
    assert len(sport_with_fire) >= 100 and len(fire_with_sport) >= 100
    # no single word's presence predicts the sense well
    for word in FIRE_WORDS | SPORT_WORDS | {"a", "the", "to"}:
        accuracy = np.mean([(word in ex.words) == (ex.label == FIRE) for ex in train])
        assert 0.2 < accuracy < 0.8, word


def test_notes_sentences_are_in_the_corpus_space():
    words_to_label = {ex.words: ex.label for split in match_corpus(4000, 4000).values()
                      for ex in split}
    capacity = corpus_capacity()
    assert capacity["fire"] >= 4000 and capacity["sport"] >= 4000
    assert words_to_label.get(tuple("strike the match so it will burn .".split()), FIRE) == FIRE
    assert words_to_label.get(tuple("they won the tennis match .".split()), SPORT) == SPORT


def test_too_many_sentences_raise_a_clear_error():
    capacity = corpus_capacity(16)
    with pytest.raises(ValueError, match="unique .*sentences"):
        match_corpus(n_train=2 * max(capacity.values()) + 2, n_test=0)
    with pytest.raises(ValueError, match="max_len=6"):
        match_corpus(n_train=2000, n_test=500, max_len=6)
    with pytest.raises(ValueError):
        match_corpus(n_train=-1)


def test_capacity_is_exactly_reachable():
    capacity = corpus_capacity(8)
    n = 2 * min(capacity.values())
    full = match_corpus(n_train=n, n_test=0, max_len=8)
    assert len({ex.words for ex in full["train"]}) == n
    with pytest.raises(ValueError):
        match_corpus(n_train=n + 2, n_test=0, max_len=8)


# ---------------------------------------------------------------- batching

def test_batchify_shapes_padding_and_mask():
    vocab = load_vocab()
    examples = [
        MatchExample(tuple("they won the tennis match .".split()), 4, SPORT),
        MatchExample(tuple("strike the match so it will burn .".split()), 2, FIRE),
        MatchExample(tuple("match over , the fans cheered .".split()), 0, SPORT),
    ]
    batches = list(batchify(examples, vocab, batch_size=2))
    assert len(batches) == 2
    token_ids, pad_mask, match_index, labels = batches[0]
    assert token_ids.shape == (2, 8) and pad_mask.shape == (2, 8)
    assert str(token_ids.dtype) == "torch.int64" and str(pad_mask.dtype) == "torch.bool"
    assert token_ids[0].tolist() == encode(examples[0].words, vocab).tolist() + [0, 0]
    assert pad_mask[0].tolist() == [True] * 6 + [False] * 2
    assert pad_mask[1].all()
    assert match_index.tolist() == [4, 2] and labels.tolist() == [SPORT, FIRE]
    assert token_ids[match_index.new_tensor([0, 1]), match_index].tolist() == [vocab["match"]] * 2
    last_ids, last_mask, _, last_labels = batches[1]
    assert last_ids.shape == (1, 7) and last_mask.all() and last_labels.tolist() == [SPORT]


def test_batchify_shuffle_is_seeded_and_covers_everything(corpus):
    vocab = load_vocab()
    examples = corpus["test"][:50]

    def label_order(**kwargs):
        return [y for *_, labels in batchify(examples, vocab, 16, **kwargs) for y in labels.tolist()]

    plain = label_order()
    assert plain == [ex.label for ex in examples]
    assert label_order(shuffle=True, seed=3) == label_order(shuffle=True, seed=3)
    shuffled_ids = [tuple(row[mask].tolist()) for ids, mask, *_ in
                    batchify(examples, vocab, 16, shuffle=True, seed=3) for row, mask in zip(ids, mask)]
    assert shuffled_ids != [tuple(encode(ex.words, vocab).tolist()) for ex in examples]
    assert sorted(shuffled_ids) == sorted(tuple(encode(ex.words, vocab).tolist()) for ex in examples)
    with pytest.raises(ValueError):
        next(batchify(examples, vocab, 0))


def test_importing_data_does_not_import_torch():
    code = "import sys, course.data; assert 'torch' not in sys.modules"
    repo_root = pathlib.Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=repo_root)


# ---------------------------------------------------------------- the three tasks of notebook 10, section 7

from collections import Counter  # noqa: E402

from course import data  # noqa: E402


def _pairs_in(split):
    """The sentences of a split grouped by their bag of words: {sorted words: [labels]}."""
    groups = {}
    for ex in split:
        groups.setdefault(tuple(sorted(ex.words)), []).append(ex.label)
    return groups


def test_every_minimal_pair_has_the_same_words_and_opposite_senses():
    pairs = data.word_order_pairs(seed=0)
    assert len(pairs) == 3456  # 2 families x 8 who x 3 verbs x 2 (before/after) x 6 things x 6 endings
    for fire, sport in pairs:
        assert (fire.label, sport.label) == (FIRE, SPORT)
        assert Counter(fire.words) == Counter(sport.words)
        assert fire.words != sport.words
        assert fire.words[fire.match_index] == sport.words[sport.match_index] == "match"
        assert fire.words.count("match") == 1
    assert len({ex.words for pair in pairs for ex in pair}) == 2 * len(pairs), "no sentence twice"


def test_word_order_corpus_keeps_whole_pairs_in_one_split():
    splits = data.word_order_corpus(seed=0)
    assert {name: len(split) for name, split in splits.items()} == {"train": 1000, "val": 200, "test": 400}
    for split in splits.values():
        groups = _pairs_in(split)  # whole pairs: each bag of words has as many fire as sport sentences
        assert all(labels.count(FIRE) == labels.count(SPORT) for labels in groups.values())
        assert sum(ex.label for ex in split) == len(split) // 2
    words = {name: {ex.words for ex in split} for name, split in splits.items()}
    assert not (words["train"] & words["val"] or words["train"] & words["test"] or words["val"] & words["test"])
    assert data.word_order_corpus(seed=0) == splits and data.word_order_corpus(seed=1) != splits
    with pytest.raises(ValueError, match="even"):
        data.word_order_corpus(n_train=11)
    with pytest.raises(ValueError, match="pairs asked for"):
        data.word_order_corpus(n_train=10_000)


def test_two_hop_pairs_read_the_second_match_whose_neighbours_are_the_same():
    pairs = data.two_hop_pairs(seed=0)
    assert len(pairs) == len(data.word_order_pairs(seed=0))
    for fire, sport in pairs:
        assert (fire.label, sport.label) == (FIRE, SPORT)
        assert Counter(fire.words) == Counter(sport.words)
        for ex in (fire, sport):
            assert ex.words.count("match") == 2
            assert ex.words[ex.match_index] == "match" and "match" not in ex.words[ex.match_index + 1:]
        # everything from the comma that starts the second clause to the end is the same in both
        tail = len(fire.words) - fire.words.index(",", fire.words.index("match") + 1)
        assert fire.match_index == sport.match_index and fire.words[-tail:] == sport.words[-tail:]
        assert len(fire.words) - fire.match_index <= tail, "the read match is in the shared clause"
    # no word decides the sense: every word occurs equally often in both senses
    counts = [Counter(), Counter()]
    for pair in pairs:
        for ex in pair:
            counts[ex.label].update(ex.words)
    assert counts[FIRE] == counts[SPORT]


def test_two_hop_corpus_splits_whole_pairs():
    splits = data.two_hop_corpus(seed=0)
    assert {name: len(split) for name, split in splits.items()} == {"train": 1000, "val": 200, "test": 400}
    for split in splits.values():  # two pairs may share a bag of words: each bag has as many fire as sport
        assert all(labels.count(FIRE) == labels.count(SPORT) for labels in _pairs_in(split).values())
    assert data.two_hop_corpus(seed=0) == splits


def test_template_split_never_trains_on_a_held_out_template():
    for seed in (0, 1, 2):
        held = data.held_out_templates(seed)
        assert all(len(templates) == 2 for templates in held.values())
        splits = data.template_split(seed=seed)
        assert {name: len(split) for name, split in splits.items()} == \
            {"train": 1600, "val": 200, "test": 200, "held_out": 200}
        for name, split in splits.items():
            templates = {data.template_of(ex.words) for ex in split}
            if name == "held_out":
                assert templates <= {(label, t) for label, ts in held.items() for t in ts}
            else:
                assert not templates & {(label, t) for label, ts in held.items() for t in ts}
            assert sum(ex.label for ex in split) == len(split) // 2
            assert all(data.template_of(ex.words)[0] == ex.label for ex in split)
        sentences = [ex.words for split in splits.values() for ex in split]
        assert len(sentences) == len(set(sentences)), "no sentence in two splits"
    assert data.held_out_templates(0) != data.held_out_templates(1)
    assert data.template_split(seed=0) == data.template_split(seed=0)
    with pytest.raises(ValueError):
        data.held_out_templates(per_sense=0)
    with pytest.raises(KeyError):
        data.template_of(("no", "such", "sentence"))


def test_template_of_finds_the_template_of_the_course_notes_fire_sentence():
    assert data.template_of("strike the match so it will burn .".split()) == (FIRE, 0)
    assert data.template_of("they won the tennis match .".split()) == (SPORT, 0)
