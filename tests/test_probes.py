"""course/probes.py: the logistic probe, the control task, the held-out word types and the baselines."""
import pytest
import torch
import torch.nn.functional as F

from course import probes
from course.data import FIRE, SPORT, MatchExample, load_vocab, match_corpus, pos_tags


def _ridge(states, labels, n_train, ridge=1e-3):
    """The one-hot least-squares probe of notebook 11, for comparison (one layer)."""
    X = torch.cat([states.double(), torch.ones(len(states), 1, dtype=torch.float64)], dim=1)
    Y = F.one_hot(labels[:n_train], int(labels.max()) + 1).double()
    W = torch.linalg.solve(X[:n_train].T @ X[:n_train] + ridge * torch.eye(X.shape[1], dtype=torch.float64), X[:n_train].T @ Y)
    return (X[n_train:] @ W).argmax(dim=1).eq(labels[n_train:]).double().mean().item()


def _example(sentence, label):
    words = tuple(sentence.split())
    return MatchExample(words=words, match_index=words.index("match"), label=label)


# ---------------------------------------------------------------- logistic probe

def test_logistic_probe_reads_a_class_that_least_squares_masks():
    """Three classes along one line (x = 0, 1, 2 with noise): linearly separable, but the middle
    class never gets the top least-squares score (masking), while softmax regression reads all three."""
    generator = torch.Generator().manual_seed(0)
    labels = torch.arange(300) % 3
    x = labels.double()[:, None] + 0.1 * torch.randn(300, 1, generator=generator, dtype=torch.float64)
    assert _ridge(x, labels, 240) == pytest.approx(2 / 3, abs=0.02)
    assert probes.logistic_probe_accuracy([x], labels) == [1.0]


def test_logistic_probe_layers_fraction_and_mask():
    generator = torch.Generator().manual_seed(1)
    labels = torch.arange(200) % 2
    separable = torch.randn(200, 3, generator=generator) + 8 * labels[:, None]
    constant = torch.ones(200, 3)
    # a constant layer says nothing: the probe predicts the training majority (class 1 in the first 150)
    train = torch.arange(200) < 150
    labels_skewed = labels.clone()
    labels_skewed[:150] = (torch.arange(150) % 3 != 0).long()
    accuracies = probes.logistic_probe_accuracy(torch.stack([separable, constant]), labels_skewed, train)
    assert accuracies[1] == pytest.approx((labels_skewed[150:] == 1).double().mean().item())
    as_list = probes.logistic_probe_accuracy([separable, constant], labels)
    as_tensor = probes.logistic_probe_accuracy(torch.stack([separable, constant]), labels)
    as_mask = probes.logistic_probe_accuracy([separable, constant], labels, torch.arange(200) < 160)
    assert as_list == as_tensor == as_mask
    assert as_list[0] == 1.0 and as_list[1] == 0.5


@pytest.mark.parametrize("train", [0.0, 1.0, torch.zeros(10, dtype=torch.bool), torch.ones(10, dtype=torch.bool)])
def test_logistic_probe_needs_both_parts(train):
    with pytest.raises(ValueError, match="both parts"):
        probes.logistic_probe_accuracy([torch.randn(10, 2)], torch.arange(10) % 2, train)


def test_logistic_probe_rejects_a_mask_of_the_wrong_length():
    with pytest.raises(ValueError, match="shape"):
        probes.logistic_probe_accuracy([torch.randn(10, 2)], torch.arange(10) % 2, torch.ones(9, dtype=torch.bool))


# ---------------------------------------------------------------- control task and held-out word types

WORDS = "the dog ran . a cat sat ! the bird flew . a fish swam !".split()
TAGS = torch.tensor([4, 0, 1, 6] * 4)  # DET NOUN VERB PUNCT


def test_control_labels_give_each_type_the_label_of_another_type():
    control = probes.control_labels(WORDS, TAGS, seed=0)
    of_type = {}
    for word, label in zip(WORDS, control.tolist()):
        assert of_type.setdefault(word, label) == label  # one label per word type
    types = sorted(set(WORDS))
    real = {word: int(TAGS[WORDS.index(word)]) for word in types}
    assert sorted(of_type.values()) == sorted(real.values())  # a permutation of the types' labels
    assert of_type != real
    assert torch.equal(control, probes.control_labels(WORDS, TAGS, seed=0))
    assert not all(torch.equal(control, probes.control_labels(WORDS, TAGS, seed=s)) for s in range(1, 4))


def test_held_out_types_hold_whole_types_out_of_each_label():
    is_train = probes.held_out_types(WORDS, TAGS, fraction=0.3, seed=0)
    trained = {w for w, t in zip(WORDS, is_train.tolist()) if t}
    scored = {w for w, t in zip(WORDS, is_train.tolist()) if not t}
    assert not trained & scored
    for tag in TAGS.unique().tolist():  # every tag here has two types or more: one each side at least
        types = {w for w, t in zip(WORDS, TAGS.tolist()) if t == tag}
        assert types & trained and types & scored
    assert len(scored) == 4  # one type of each label: max(1, round(0.3 * n)) with n = 2 or 4 types


def test_held_out_types_on_the_course_corpus():
    examples = match_corpus(n_train=200, n_test=0)["train"]
    words = [w for ex in examples for w in ex.words]
    tags = torch.tensor([t for ex in examples for t in pos_tags(ex.words)])
    is_train = probes.held_out_types(words, tags, seed=3)
    assert not {w for w, t in zip(words, is_train.tolist()) if t} & {w for w, t in zip(words, is_train.tolist()) if not t}
    assert 0.1 < (~is_train).double().mean().item() < 0.6
    # a type look-up is the majority class on held-out types, and near perfect on the usual split
    majority = (tags[~is_train] == tags[is_train].bincount().argmax()).double().mean().item()
    assert probes.type_lookup_accuracy(words, tags, is_train) == pytest.approx(majority)
    assert probes.type_lookup_accuracy(words, tags) > 0.95


def test_type_lookup_by_hand():
    words = ["to", "to", "to", "run", "to", "run"]
    labels = torch.tensor([1, 1, 0, 2, 0, 2])
    # training: to -> 1 (2 of 3), run -> 2; scored: "to" (label 0), "run" (label 2)
    assert probes.type_lookup_accuracy(words, labels, torch.tensor([True] * 4 + [False] * 2)) == 0.5


# ---------------------------------------------------------------- input-only baselines

def test_bag_of_words_counts_words_and_ignores_order_and_match():
    vocab = load_vocab()
    a = _example("the tennis match ended in the dark .", SPORT)
    b = _example("in the dark the tennis match ended .", SPORT)
    bag = probes.bag_of_words([a, b], vocab)
    assert bag.shape == (2, len(vocab))
    assert torch.equal(bag[0], bag[1])
    assert bag[0, vocab["the"]] == 2 and bag[0, vocab["match"]] == 0 and bag[0].sum() == 7


def test_position_features_say_where_not_which_word():
    a = _example("they won the tennis match .", SPORT)
    b = _example("strike the match .", FIRE)
    features = probes.position_features([a, b])
    assert features.shape == (6 + 4, 12)
    assert features.sum(dim=1).tolist() == [2.0] * 10
    assert features[5].nonzero().flatten().tolist() == [5, 6]  # "." of a: 6th from the start, last from the end
    assert features[9].nonzero().flatten().tolist() == [3, 6]  # "." of b: 4th from the start, last from the end
    assert not torch.equal(features[2], features[7])  # "the" in a and in b: other slots
    with pytest.raises(ValueError, match="longer"):
        probes.position_features([a], max_len=4)


def test_is_distractor_flags_the_other_senses_words():
    assert probes.is_distractor(_example("after the tennis game , he struck a match to light the fire .", FIRE))
    assert probes.is_distractor(_example("the fans lit flares before the football match .", SPORT))
    assert not probes.is_distractor(_example("he struck a match to light the candle .", FIRE))
    assert not probes.is_distractor(_example("they won the tennis match .", SPORT))


def test_spread():
    mean, low, high = probes.spread([[0.5, 1.0], [0.7, 0.0], [0.6, 0.5]])
    assert mean == pytest.approx([0.6, 0.5]) and low == [0.5, 0.0] and high == [0.7, 1.0]
