"""The course's data: a tiny vocabulary, readable word vectors and the "match" corpus.

Nothing here is downloaded or learned from text. Every number is hand-designed:

- ``assets/vocab.txt``: one token per line, line number = id (``<pad>`` = 0, ``<unk>`` = 1).
- ``assets/word_features.tsv``: for each word, a few tags from 8 named semantic directions
  (``FEATURE_NAMES``), e.g. ``match -> fire sport object:0.5``.
- ``assets/embeddings.tsv``: the (V, 8) table that ``python -m course.build_embeddings``
  makes from those tags (tag weights plus small seeded noise). Its columns are the 8
  directions, so a student can read what each vector means.
- ``match_corpus``: a word-sense task generated from sentence templates with slot fillers.
  Every sentence contains the word "match" once; the label says which sense it has
  (0 = fire, as in "strike the match", 1 = sport, as in "the tennis match").
- ``pos_tags``: the part of speech of every word of the corpus (``POS_TAGS``, 8 coarse classes),
  the syntactic label that notebook 11 probes for.
- Three harder tasks for notebook 10, each built so that one piece of the Transformer is needed:
  ``template_split`` (whole templates held out: generalisation), ``word_order_corpus`` (minimal
  pairs, the same words in another order: positions) and ``two_hop_corpus`` (the sense of a second
  "match" is found through the first one: two rounds of attention). All are seeded.
"""
from __future__ import annotations

import functools
import itertools
import pathlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch is imported lazily in batchify: numpy-only users skip it
    import torch

ASSETS: pathlib.Path = pathlib.Path(__file__).resolve().parent / "assets"
VOCAB_PATH = ASSETS / "vocab.txt"
FEATURES_PATH = ASSETS / "word_features.tsv"
EMBEDDINGS_PATH = ASSETS / "embeddings.tsv"

PAD, UNK = "<pad>", "<unk>"

# The 8 semantic directions, in column order of the embedding table.
FEATURE_NAMES: list[str] = [
    "fire", "sport", "object", "person", "action", "place_time", "quality", "function",
]

FIRE, SPORT = 0, 1  # labels of the two senses of "match"
SENSES: tuple[str, str] = ("fire", "sport")


# ---------------------------------------------------------------- vocabulary and vectors

def load_vocab() -> dict[str, int]:
    """Return ``{token: id}`` read from ``assets/vocab.txt`` (id = line number)."""
    words = VOCAB_PATH.read_text(encoding="utf-8").split("\n")
    words = [w for w in words if w]
    return {word: i for i, word in enumerate(words)}


def load_embeddings() -> tuple[dict[str, int], np.ndarray]:
    """Return ``(vocab, table)``: ``table[vocab[w]]`` is the float64 vector of ``w``, shape (V, 8).

    Column ``k`` of the table is the direction ``FEATURE_NAMES[k]``.
    """
    vocab = load_vocab()
    lines = EMBEDDINGS_PATH.read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t")
    if header != ["word", *FEATURE_NAMES]:
        raise ValueError(f"{EMBEDDINGS_PATH}: header {header} does not match FEATURE_NAMES")
    table = np.zeros((len(vocab), len(FEATURE_NAMES)), dtype=np.float64)
    for line in lines[1:]:
        word, *values = line.split("\t")
        table[vocab[word]] = [float(v) for v in values]
    if len(lines) - 1 != len(vocab):
        raise ValueError(f"{EMBEDDINGS_PATH} has {len(lines) - 1} rows, vocab has {len(vocab)}")
    return vocab, table


def encode(words: Sequence[str], vocab: dict[str, int]) -> np.ndarray:
    """Map tokenised words to an int64 id array of shape (T,); unknown words get the ``<unk>`` id.

    ``words`` must already be tokens (lower case, punctuation split off), as in ``MatchExample.words``.
    """
    unk_id = vocab[UNK]
    return np.array([vocab.get(word, unk_id) for word in words], dtype=np.int64)


# ---------------------------------------------------------------- the "match" corpus

@dataclass(frozen=True)
class MatchExample:
    """One sentence of the word-sense task.

    words: the tokens (lower case, punctuation as separate tokens, no padding).
    match_index: position of the word "match" in ``words``.
    label: 0 = fire sense (FIRE), 1 = sport sense (SPORT).
    """

    words: tuple[str, ...]
    match_index: int
    label: int

    @property
    def sentence(self) -> str:
        return " ".join(self.words)


# Slot fillers. A filler may be several words or empty (""), so one template gives
# sentences of different lengths and "match" at different positions.
SLOTS: dict[str, tuple[str, ...]] = {
    "who": ("he", "she", "they", "we", "the girl", "the boy", "my father", "the old man"),
    "when": ("", "at night ,", "in the dark ,", "after dinner ,", "this morning ,", "before bed ,"),
    "when_end": ("", "at night", "in the dark", "after dinner", "this morning", "before bed"),
    "adj": ("", "dry", "wet", "last", "long", "small"),
    "art": ("the", "a"),  # both senses use both articles: "a match" must not mean fire
    # fire sense
    "strike": ("strike", "light"),
    "burn": ("burn", "light", "catch fire"),
    "struck": ("struck", "used", "lit"),
    "fire_thing": ("candle", "stove", "fire", "lamp", "campfire", "pipe"),
    "to_light": ("to light", "and lit"),
    "burned": ("burned", "flared", "glowed"),
    "burn_end": ("", "and the smoke rose", "down to his fingers", "with a bright flame",
                 "for a few seconds"),
    "sport_person": ("referee", "coach", "players", "goalkeeper"),
    "crowd": ("team", "fans", "club"),
    # sport sense
    "sport": ("tennis", "football", "chess", "rugby", "boxing", "cricket"),
    "won": ("won", "lost", "played", "drew"),
    "team": ("team", "club", "players", "champions"),
    "fans": ("fans", "crowd"),
    "sport_adj": ("", "big", "final", "long", "home", "last"),
    "ended": ("ended", "was decided", "finished"),
    "score_end": ("in the last minute", "by two points", "after a long game", "on penalties",
                  "with a late goal"),
    "lit_thing": ("flares", "candles", "a fire", "fireworks"),
    "lit_v": ("lit", "tried to light", "wanted to light"),
    "went": ("went", "came"),
    "around": ("before", "during", "after"),
    "stopped": ("stopped", "delayed"),
    "smoke": ("the smoke", "a fire near the stadium", "smoke from the flares",
              "the burning flares"),
    "mstart": ("over", "won", "point"),
    "cheered": ("cheered", "sang", "shouted"),
    "place": ("stand", "bench", "stadium"),
}

# Each sense has plain templates and distractors: fire sentences with sport words and
# sport sentences with fire words, so no single keyword gives the label away.
TEMPLATES: dict[int, tuple[str, ...]] = {
    FIRE: (
        "{when} {strike} the {adj} match so it will {burn} .",
        "{who} {struck} {art} {adj} match {to_light} the {fire_thing} .",
        "{who} lit the {fire_thing} with a {adj} match {when_end} .",
        "{who} watched as the match {burned} {burn_end} .",
        "match in hand , {who} lit the {fire_thing} {when_end} .",
        "to light the {fire_thing} , {who} {struck} {art} {adj} match .",
        "the {adj} match {burned} {burn_end} {when_end} .",
        # distractors: sport words in fire sentences
        "after the {sport} game , {who} struck a match to light the {fire_thing} .",
        "the {sport_person} struck a {adj} match {to_light} the {fire_thing} {when_end} .",
        "the {crowd} needed one more {adj} match to light the {fire_thing} .",
    ),
    SPORT: (
        "{who} {won} {art} {sport} match {when_end} .",
        "{when} the {sport} match {ended} {score_end} .",
        "{when} the {team} {won} the {sport_adj} match .",
        "match {mstart} , the {fans} {cheered} for the {team} {when_end} .",
        "the {sport_person} watched the {sport_adj} match from the {place} .",
        "{who} watched the {sport_adj} {sport} match on television {when_end} .",
        "{who} {went} to {art} {sport_adj} {sport} match with a friend .",
        # distractors: fire words in sport sentences
        "the {fans} {lit_v} {lit_thing} {around} the {sport} match .",
        "{when} the {sport} match was {stopped} because of {smoke} .",
        "{when} the {team} was on fire and won the {sport_adj} match !",
        "after the {sport} match , {who} lit the {fire_thing} .",
    ),
}

MIN_LEN = 5  # shortest sentence the templates are allowed to give


def _fill(template: str) -> Iterator[tuple[str, ...]]:
    """Yield the token tuple of every way to fill the template's slots."""
    parts = template.split()
    slot_names = [p[1:-1] for p in parts if p.startswith("{")]
    for fillers in itertools.product(*(SLOTS[name] for name in slot_names)):
        chosen = iter(fillers)
        words: list[str] = []
        for part in parts:
            words.extend(next(chosen).split() if part.startswith("{") else [part])
        yield tuple(words)


@functools.lru_cache(maxsize=8)
def _sentence_pools(max_len: int) -> dict[int, tuple[tuple[tuple[str, ...], ...], ...]]:
    """For each label, one pool per template of its unique sentences of MIN_LEN..max_len tokens.

    A sentence is kept only in the first template that makes it (dedupe), and a sentence
    that both senses could make would be a contradiction in the data, so it is an error.
    """
    pools: dict[int, tuple[tuple[tuple[str, ...], ...], ...]] = {}
    seen: dict[tuple[str, ...], int] = {}
    for label, templates in TEMPLATES.items():
        label_pools = []
        for template in templates:
            pool = []
            for words in _fill(template):
                if not MIN_LEN <= len(words) <= max_len:
                    continue
                if words in seen:
                    if seen[words] != label:
                        raise RuntimeError(f"sentence {' '.join(words)!r} has both senses")
                    continue
                seen[words] = label
                pool.append(words)
            label_pools.append(tuple(pool))
        pools[label] = tuple(label_pools)
    return pools


def corpus_capacity(max_len: int = 16) -> dict[str, int]:
    """How many unique sentences of each sense the templates give for this ``max_len``."""
    pools = _sentence_pools(max_len)
    return {SENSES[label]: sum(map(len, pools[label])) for label in (FIRE, SPORT)}


def _draw(pools: Sequence[Sequence[tuple[str, ...]]], n: int,
          rng: np.random.Generator) -> list[tuple[str, ...]]:
    """Draw ``n`` distinct sentences, spread evenly over templates (round robin).

    Taking templates in turn, rather than sampling all sentences uniformly, keeps a
    template with many fillers from crowding out the short or tricky ones.
    """
    shuffled = [[pool[i] for i in rng.permutation(len(pool))] for pool in pools]
    order = rng.permutation(len(pools))
    chosen: list[tuple[str, ...]] = []
    for rank in itertools.count():
        for t in order:
            if len(chosen) == n:
                return chosen
            if rank < len(shuffled[t]):
                chosen.append(shuffled[t][rank])
    raise AssertionError("unreachable")


def _example(words: tuple[str, ...], label: int) -> MatchExample:
    return MatchExample(words=words, match_index=words.index("match"), label=label)


def match_corpus(n_train: int = 2000, n_test: int = 500, seed: int = 0,
                 max_len: int = 16) -> dict[str, list[MatchExample]]:
    """Generate the word-sense task: is "match" the fire sense (0) or the sport sense (1)?

    Returns ``{"train": [...], "test": [...]}`` of ``MatchExample``. Each split is half
    fire, half sport (the odd one out is sport), shuffled. Sentences are unique and no
    sentence is in both splits. Same ``seed`` -> identical output.

    Raises ValueError when more unique sentences are asked for than the templates give
    (see ``corpus_capacity(max_len)``).
    """
    if n_train < 0 or n_test < 0:
        raise ValueError(f"n_train and n_test must be >= 0, got {n_train} and {n_test}")
    pools = _sentence_pools(max_len)
    rng = np.random.default_rng(seed)
    splits: dict[str, list[MatchExample]] = {"train": [], "test": []}
    for label in (FIRE, SPORT):
        # FIRE takes the smaller half, SPORT the larger one
        n_tr = n_train // 2 if label == FIRE else n_train - n_train // 2
        n_te = n_test // 2 if label == FIRE else n_test - n_test // 2
        available = sum(map(len, pools[label]))
        if n_tr + n_te > available:
            raise ValueError(
                f"match_corpus needs {n_tr + n_te} unique {SENSES[label]}-sense sentences "
                f"(n_train={n_train}, n_test={n_test}) but the templates give only "
                f"{available} with max_len={max_len}; ask for fewer or raise max_len "
                f"(corpus_capacity(max_len) tells the limits).")
        drawn = _draw(pools[label], n_tr + n_te, rng)
        drawn = [drawn[i] for i in rng.permutation(len(drawn))]  # same mix of templates in both splits
        splits["train"] += [_example(w, label) for w in drawn[:n_tr]]
        splits["test"] += [_example(w, label) for w in drawn[n_tr:]]
    for name in splits:
        splits[name] = [splits[name][i] for i in rng.permutation(len(splits[name]))]
    return splits


def template_of(words: Sequence[str], max_len: int = 16) -> tuple[int, int]:
    """``(label, template index)`` of a sentence of ``match_corpus``: the template of
    ``TEMPLATES[label]`` that makes it (the first one, as the generator keeps it).

    Raises KeyError for a sentence that no template makes.
    """
    index = _template_index(max_len)
    return index[tuple(words)]


@functools.lru_cache(maxsize=8)
def _template_index(max_len: int) -> dict[tuple[str, ...], tuple[int, int]]:
    return {words: (label, t) for label, pools in _sentence_pools(max_len).items()
            for t, pool in enumerate(pools) for words in pool}


def held_out_templates(seed: int = 0, per_sense: int = 2) -> dict[int, tuple[int, ...]]:
    """``{label: template indices}``: ``per_sense`` templates of each sense, chosen by ``seed``, that
    ``template_split`` keeps out of training."""
    rng = np.random.default_rng(seed)
    out = {}
    for label in (FIRE, SPORT):
        if not 0 < per_sense < len(TEMPLATES[label]):
            raise ValueError(f"per_sense must be between 1 and {len(TEMPLATES[label]) - 1}, got {per_sense}")
        out[label] = tuple(sorted(int(t) for t in rng.choice(len(TEMPLATES[label]), per_sense, replace=False)))
    return out


def template_split(n_train: int = 1600, n_val: int = 200, n_test: int = 200, n_held_out: int = 200,
                   seed: int = 0, per_sense: int = 2, max_len: int = 16) -> dict[str, list[MatchExample]]:
    """The "match" task with whole templates held out: does the model generalise beyond its templates?

    ``held_out_templates(seed, per_sense)`` picks ``per_sense`` templates of each sense. Returns
    ``{"train", "val", "test", "held_out"}``: the first three drawn from the other templates (as
    ``match_corpus`` draws, round robin over templates, no sentence twice), ``"held_out"`` only from
    the held-out ones, which never occur in training. Each split is half fire, half sport
    (the odd one out is sport), shuffled. Same ``seed`` -> identical output.
    """
    sizes = {"train": n_train, "val": n_val, "test": n_test}
    if min(*sizes.values(), n_held_out) < 0:
        raise ValueError(f"split sizes must be >= 0, got {sizes} and n_held_out={n_held_out}")
    pools = _sentence_pools(max_len)
    held = held_out_templates(seed, per_sense)
    rng = np.random.default_rng(seed + 1)
    splits: dict[str, list[MatchExample]] = {name: [] for name in (*sizes, "held_out")}
    for label in (FIRE, SPORT):
        half = {name: n // 2 if label == FIRE else n - n // 2 for name, n in sizes.items()}
        n_out = n_held_out // 2 if label == FIRE else n_held_out - n_held_out // 2
        seen = [pool for t, pool in enumerate(pools[label]) if t not in held[label]]
        unseen = [pool for t, pool in enumerate(pools[label]) if t in held[label]]
        for want, group, what in ((sum(half.values()), seen, "training"), (n_out, unseen, "held-out")):
            if want > sum(map(len, group)):
                raise ValueError(f"template_split needs {want} {SENSES[label]}-sense sentences from its {what} "
                                 f"templates, which give only {sum(map(len, group))}; ask for fewer")
        drawn = _draw(seen, sum(half.values()), rng)
        drawn = [drawn[i] for i in rng.permutation(len(drawn))]
        start = 0
        for name, n in half.items():
            splits[name] += [_example(w, label) for w in drawn[start:start + n]]
            start += n
        splits["held_out"] += [_example(w, label) for w in _draw(unseen, n_out, rng)]
    for name in splits:
        splits[name] = [splits[name][i] for i in rng.permutation(len(splits[name]))]
    return splits


# ---------------------------------------------------------------- minimal pairs: only word order decides

# Each pair: the same words, in another order, with "match" in the other sense. "they lit the candle
# before the match" (the match is a game: sport) and "they lit the match before the candle" (fire).
# The two sentences have the same bag of words, so a model that ignores word order scores exactly
# one half on the pairs: whatever it says of one sentence, it says of the other.
PAIR_TEMPLATES: tuple[tuple[str, str], ...] = (  # (fire sense, sport sense)
    ("{who} {light_v} the match {around} the {fire_thing} {when_end} .",
     "{who} {light_v} the {fire_thing} {around} the match {when_end} ."),
    ("{around} the {fire_thing} , {who} {light_v} the match {when_end} .",
     "{around} the match , {who} {light_v} the {fire_thing} {when_end} ."),
)
PAIR_SLOTS: dict[str, tuple[str, ...]] = {
    "who": SLOTS["who"], "fire_thing": SLOTS["fire_thing"], "when_end": SLOTS["when_end"],
    "light_v": ("lit", "tried to light", "wanted to light"),
    "around": ("before", "after"),
}


@functools.lru_cache(maxsize=1)
def _all_pairs() -> tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]:
    pairs = []
    for fire, sport in PAIR_TEMPLATES:
        names = [p[1:-1] for p in fire.split() if p.startswith("{")]
        for fillers in itertools.product(*(PAIR_SLOTS[name] for name in names)):
            values = dict(zip(names, fillers))
            pairs.append(tuple(tuple(t.format(**values).split()) for t in (fire, sport)))
    return tuple(pairs)


def word_order_pairs(seed: int = 0) -> list[tuple[MatchExample, MatchExample]]:
    """Every minimal pair ``(fire example, sport example)`` of ``PAIR_TEMPLATES``, in an order shuffled by ``seed``."""
    pairs = _all_pairs()
    order = np.random.default_rng(seed).permutation(len(pairs))
    return [(_example(pairs[i][0], FIRE), _example(pairs[i][1], SPORT)) for i in order]


def word_order_corpus(n_train: int = 1000, n_val: int = 200, n_test: int = 400,
                      seed: int = 0) -> dict[str, list[MatchExample]]:
    """The minimal-pair task: ``{"train", "val", "test"}``, each made of whole pairs (both sentences
    of a pair in the same split, so each split is half fire, half sport, and has the same bag of
    words in each sense), shuffled. Sizes count sentences and must be even. Same ``seed`` ->
    identical output."""
    return _split_pairs(word_order_pairs(seed), {"train": n_train, "val": n_val, "test": n_test}, seed,
                        "word_order_corpus")


# ---------------------------------------------------------------- two hops: "the match" refers back

# A minimal pair of PAIR_TEMPLATES, then a second clause that mentions "the match" again in words
# that fit both senses. The model reads the SECOND "match": its own neighbours are the same in both
# sentences of a pair, so its sense is found only by going to the first "match" (hop 1) and reading
# the order of the words around that one (hop 2).
SECOND_MENTIONS: tuple[str, ...] = (
    ", and the match was long .",
    ", and the match was over .",
    ", and {who} watched the match .",
    ", and {who} needed the match .",
    ", and {around} the {fire_thing} , the match was over .",
    ", and {around} the {fire_thing} , {who} watched the match .",
)


def two_hop_pairs(seed: int = 0) -> list[tuple[MatchExample, MatchExample]]:
    """Minimal pairs ``(fire example, sport example)`` whose ``match_index`` is the SECOND "match".

    Each pair of ``word_order_pairs(seed)`` loses its final "." and gets one of ``SECOND_MENTIONS``
    (the same for both sentences, its slots filled at random), so both sentences still have the
    same bag of words, and the second "match" has the same neighbours in both.
    """
    rng = np.random.default_rng(seed + 2)
    out = []
    for fire, sport in word_order_pairs(seed):
        mention = SECOND_MENTIONS[rng.integers(len(SECOND_MENTIONS))].format(
            **{name: PAIR_SLOTS[name][rng.integers(len(PAIR_SLOTS[name]))] for name in ("who", "around", "fire_thing")})
        pair = []
        for ex in (fire, sport):
            words = ex.words[:-1] + tuple(mention.split())
            pair.append(MatchExample(words=words, match_index=len(words) - 1 - words[::-1].index("match"),
                                     label=ex.label))
        out.append((pair[0], pair[1]))
    return out


def two_hop_corpus(n_train: int = 1000, n_val: int = 200, n_test: int = 400,
                   seed: int = 0) -> dict[str, list[MatchExample]]:
    """The two-hop task: ``{"train", "val", "test"}`` of whole ``two_hop_pairs(seed)`` (sizes count
    sentences and must be even), shuffled. Same ``seed`` -> identical output."""
    return _split_pairs(two_hop_pairs(seed), {"train": n_train, "val": n_val, "test": n_test}, seed,
                        "two_hop_corpus")


def _split_pairs(pairs: Sequence[tuple[MatchExample, MatchExample]], sizes: dict[str, int], seed: int,
                 who: str) -> dict[str, list[MatchExample]]:
    if any(n < 0 or n % 2 for n in sizes.values()):
        raise ValueError(f"split sizes must be even and >= 0 (whole pairs), got {sizes}")
    if sum(sizes.values()) // 2 > len(pairs):
        raise ValueError(f"{who}: {sum(sizes.values()) // 2} pairs asked for, {len(pairs)} exist")
    rng = np.random.default_rng(seed + 1)
    splits, start = {}, 0
    for name, n in sizes.items():
        chosen = [ex for pair in pairs[start:start + n // 2] for ex in pair]
        splits[name] = [chosen[i] for i in rng.permutation(len(chosen))]
        start += n // 2
    return splits


def batchify(examples: Sequence[MatchExample], vocab: dict[str, int], batch_size: int,
             shuffle: bool = False, seed: int = 0,
             ) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Yield ``(token_ids, pad_mask, match_index, labels)`` batches as torch tensors.

    token_ids: (B, T) int64, padded with the ``<pad>`` id (0) up to the batch's longest sentence.
    pad_mask:  (B, T) bool, True for real tokens (True = "may attend", the course's mask convention).
    match_index: (B,) int64, position of "match" in each sentence.
    labels: (B,) int64, 0 = fire, 1 = sport.
    The last batch may be smaller than ``batch_size``.
    """
    import torch  # lazy: the numpy track never needs torch

    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = np.random.default_rng(seed).permutation(len(examples)) if shuffle \
        else np.arange(len(examples))
    pad_id = vocab[PAD]
    for start in range(0, len(examples), batch_size):
        batch = [examples[i] for i in order[start:start + batch_size]]
        longest = max(len(ex.words) for ex in batch)
        token_ids = torch.full((len(batch), longest), pad_id, dtype=torch.int64)  # (B, T)
        for row, ex in enumerate(batch):
            token_ids[row, :len(ex.words)] = torch.from_numpy(encode(ex.words, vocab))
        lengths = torch.tensor([len(ex.words) for ex in batch])
        pad_mask = torch.arange(longest)[None, :] < lengths[:, None]  # (B, T)
        match_index = torch.tensor([ex.match_index for ex in batch], dtype=torch.int64)
        labels = torch.tensor([ex.label for ex in batch], dtype=torch.int64)
        yield token_ids, pad_mask, match_index, labels


# ---------------------------------------------------------------- parts of speech (notebook 11)

# A coarse part-of-speech tag set (after Universal Dependencies) for the syntactic probe of
# notebook 11. OTHER gathers the small closed classes: conjunctions (and, so, as, because),
# auxiliaries (will, was, is), numbers (one, two), adverbs (down, over) and the infinitive "to".
POS_TAGS: tuple[str, ...] = ("NOUN", "VERB", "ADJ", "ADP", "DET", "PRON", "PUNCT", "OTHER")

_POS_WORDS: dict[str, str] = {
    "NOUN": "match fire candle candles stove lamp campfire pipe flame flares fireworks smoke "
            "fingers hand seconds girl boy father man friend referee coach players goalkeeper "
            "team fans club crowd champions tennis football chess rugby boxing cricket game "
            "minute points point goal penalties television stand bench stadium night dark dinner "
            "morning bed home ball day kitchen score wood",
    "VERB": "strike light burn catch struck used lit burned flared glowed rose won lost played "
            "drew ended decided finished watched went came needed tried wanted stopped delayed "
            "cheered sang shouted play win",
    "ADJ": "dry wet last long small big final late bright few old more burning hot",
    "ADP": "at in after before during with on by from for of near",  # "to" depends on its context
    "DET": "the a this",
    "PRON": "he she they we it his my i you what",
    "PUNCT": ". , ! ?",
    "OTHER": "and so as because will was is one two down over",
}
WORD_POS: dict[str, str] = {word: tag for tag, words in _POS_WORDS.items() for word in words.split()}


def pos_tags(words: Sequence[str]) -> list[int]:
    """The part of speech of each token, as indices into ``POS_TAGS`` (one per word).

    The tags are those of the words as the corpus's templates use them ("light" is always a
    verb there, "dark" a noun: "in the dark"). One word depends on its context: "to" is the
    infinitive marker (OTHER) before a verb ("to light"), a preposition (ADP) otherwise
    ("went to a match", "down to his fingers"). Raises KeyError for a word without a tag.
    """
    tags = []
    for i, word in enumerate(words):
        if word == "to":
            before_verb = i + 1 < len(words) and WORD_POS.get(words[i + 1]) == "VERB"
            tag = "OTHER" if before_verb else "ADP"
        elif word in WORD_POS:
            tag = WORD_POS[word]
        else:
            raise KeyError(f"pos_tags: no part of speech for {word!r} (WORD_POS lists the words of the vocabulary)")
        tags.append(POS_TAGS.index(tag))
    return tags
