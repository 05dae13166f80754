"""Probing tools for notebook 11, beyond the graded ridge probe: a logistic probe, the baselines
a probe's accuracy must be read against, and the splits that make a probe test more than memory.

- ``logistic_probe_accuracy``: a linear probe trained by minimising the cross-entropy (softmax
  regression, L-BFGS), the other usual linear probe next to the exercise's ridge regression on
  one-hot targets. Both are linear maps from a vector to class scores; they differ in what they
  fit, and so in what they read.
- ``control_labels``: the control task of Hewitt and Liang (2019): each word type gets the label
  of another, randomly chosen, word type, so the labels are tied to the word and mean nothing.
- ``held_out_types``: a train/test split of tokens by *word type*, so that no word the probe is
  scored on was seen while fitting it.
- ``type_lookup_accuracy``: the baseline that reads nothing but the word: its most frequent label
  in the training part.
- ``bag_of_words``: the input-only baseline for a sentence label: word counts, word order ignored.
- ``position_features``: the baseline for a word label that knows where a word is, not which word.
- ``is_distractor``: a sentence of one sense that contains words of the other sense.

Every function works on CPU tensors and is deterministic (same inputs, same output).
"""
from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from course.data import FEATURES_PATH, MatchExample

__all__ = ["logistic_probe_accuracy", "control_labels", "held_out_types", "type_lookup_accuracy",
           "bag_of_words", "position_features", "is_distractor", "spread"]


def _as_layers(hidden_states) -> torch.Tensor:
    """A list of L tensors (N, d) or one tensor (L, N, d) -> one float64 tensor (L, N, d)."""
    if isinstance(hidden_states, torch.Tensor):
        states = hidden_states if hidden_states.dim() == 3 else hidden_states[None]
    else:
        states = torch.stack([torch.as_tensor(h) for h in hidden_states])
    return states.double()


def _train_mask(n: int, train) -> torch.Tensor:
    """``train`` as a boolean mask of length n: a mask itself, or a fraction (the first part trains)."""
    if isinstance(train, float):
        mask = torch.arange(n) < int(train * n)
    else:
        mask = torch.as_tensor(train, dtype=torch.bool)
        if mask.shape != (n,):
            raise ValueError(f"the train mask has shape {tuple(mask.shape)}, expected ({n},)")
    if mask.all() or not mask.any():
        raise ValueError(f"{int(mask.sum())} of {n} examples train the probe: both parts must be non-empty")
    return mask


def logistic_probe_accuracy(hidden_states, labels, train=0.8, weight_decay: float = 1e-3,
                            max_iter: int = 30, dtype: torch.dtype = torch.float32) -> list[float]:
    """Held-out accuracy of a softmax-regression probe on each layer, as a list of floats.

    hidden_states: L tensors (N, d) or one tensor (L, N, d); labels: (N,) ints in 0..C-1.
    train: a fraction (fit on the first ``int(train * N)`` examples, as the graded ridge probe) or
    a boolean mask (N,) of the examples to fit on; the others are scored.

    Each layer's vectors are standardised with the training part's mean and standard deviation,
    then ``W`` (d + 1, C), with a bias row, minimises
        mean cross-entropy(softmax(x W), y) + weight_decay * ||W without the bias||^2
    by L-BFGS (at most ``max_iter`` iterations, in ``dtype``: float32 is twice as fast as float64
    and, on standardised inputs, as accurate here). The layers are independent problems fitted
    together: their losses add up, so each layer's weights get the gradient of its own loss.
    """
    states = _as_layers(hidden_states).to(dtype)  # (L, N, d)
    labels = torch.as_tensor(labels, dtype=torch.int64)
    is_train = _train_mask(len(labels), train)
    n_classes = int(labels.max()) + 1
    x_train, x_test = states[:, is_train], states[:, ~is_train]  # (L, n, d), (L, m, d)
    mean = x_train.mean(dim=1, keepdim=True)
    std = x_train.std(dim=1, keepdim=True).clamp_min(1e-8)  # a constant feature stays 0
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    y_train = labels[is_train]
    n_layers, _, d = states.shape
    W = torch.zeros(n_layers, d, n_classes, dtype=dtype, requires_grad=True)
    b = torch.zeros(n_layers, 1, n_classes, dtype=dtype, requires_grad=True)
    optimizer = torch.optim.LBFGS([W, b], lr=1, max_iter=max_iter, tolerance_grad=1e-7,
                                  tolerance_change=1e-10, history_size=20, line_search_fn="strong_wolfe")

    def loss_fn():
        optimizer.zero_grad()
        logits = x_train @ W + b  # (L, n, C)
        loss = F.cross_entropy(logits.reshape(-1, n_classes), y_train.repeat(n_layers), reduction="sum")
        loss = loss / len(y_train) + weight_decay * W.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(loss_fn)
    with torch.no_grad():
        predicted = (x_test @ W + b).argmax(dim=-1)  # (L, m)
        return predicted.eq(labels[~is_train]).double().mean(dim=1).tolist()


def control_labels(words: Sequence[str], labels, seed: int = 0) -> torch.Tensor:
    """Hewitt and Liang's control task: every occurrence of a word type gets the label that
    ``labels`` gives (most often) to another word type, chosen by a seeded permutation of the
    sorted types. As many classes, as tied to the word, with no syntax in them: (N,) int64."""
    labels = torch.as_tensor(labels, dtype=torch.int64)
    counts: dict[str, Counter] = {}
    for word, label in zip(words, labels.tolist()):
        counts.setdefault(word, Counter())[label] += 1
    types = sorted(counts)
    usual = [counts[word].most_common(1)[0][0] for word in types]  # each type's own label
    order = torch.randperm(len(types), generator=torch.Generator().manual_seed(seed)).tolist()
    control_of = {word: usual[j] for word, j in zip(types, order)}
    return torch.tensor([control_of[word] for word in words])


def held_out_types(words: Sequence[str], labels, fraction: float = 0.3, seed: int = 0) -> torch.Tensor:
    """A train mask (N,) that holds whole word types out: the tokens of about ``fraction`` of the
    types of each label are scored, those of the other types train the probe.

    Types are grouped by their most frequent label, and each group with two types or more gives
    at least one type to each side (``max(1, round(fraction * n))`` held out), so every label
    with two types or more is seen in training and scored.
    """
    labels = torch.as_tensor(labels, dtype=torch.int64)
    counts: dict[str, Counter] = {}
    for word, label in zip(words, labels.tolist()):
        counts.setdefault(word, Counter())[label] += 1
    by_label: dict[int, list[str]] = {}
    for word in sorted(counts):
        by_label.setdefault(counts[word].most_common(1)[0][0], []).append(word)
    generator = torch.Generator().manual_seed(seed)
    held_out: set[str] = set()
    for label in sorted(by_label):
        group = by_label[label]
        if len(group) < 2:
            continue
        n_out = min(len(group) - 1, max(1, round(fraction * len(group))))
        order = torch.randperm(len(group), generator=generator).tolist()
        held_out.update(group[i] for i in order[:n_out])
    return torch.tensor([word not in held_out for word in words])


def type_lookup_accuracy(words: Sequence[str], labels, train=0.8) -> float:
    """Accuracy of predicting each scored token's label as the most frequent label of its word
    type among the training tokens (the training part's most frequent label for a type never
    seen in training). It reads nothing but the word. ``train``: a fraction or a mask, as above."""
    labels = torch.as_tensor(labels, dtype=torch.int64)
    is_train = _train_mask(len(labels), train)
    counts: dict[str, Counter] = {}
    for word, label, fits in zip(words, labels.tolist(), is_train.tolist()):
        if fits:
            counts.setdefault(word, Counter())[label] += 1
    majority = int(labels[is_train].bincount().argmax())
    scored = [(word, label) for word, label, fits in zip(words, labels.tolist(), is_train.tolist()) if not fits]
    right = sum((counts[word].most_common(1)[0][0] if word in counts else majority) == label for word, label in scored)
    return right / len(scored)


def bag_of_words(examples: Sequence[MatchExample], vocab: dict[str, int], leave_out: Sequence[str] = ("match",)) -> torch.Tensor:
    """The input-only view of each sentence: how often each vocabulary word occurs in it, word
    order ignored (``leave_out``, "match" by default, is not counted; a word outside the vocabulary
    counts as ``<unk>``): (N, V) float64. Notebook 10's bag-of-words baseline fits on the same counts."""
    counts = torch.zeros(len(examples), len(vocab), dtype=torch.float64)
    for row, example in enumerate(examples):
        for word in example.words:
            if word not in leave_out:
                counts[row, vocab.get(word, vocab["<unk>"])] += 1
    return counts


def position_features(examples: Sequence[MatchExample], max_len: int | None = None) -> torch.Tensor:
    """Where each token is, and nothing about which word it is: for every token of every sentence,
    in order (as ``capstone.probe_data`` lists them), a one-hot of its position from the start
    followed by a one-hot of its position from the end: (M, 2 * max_len) float64. ``max_len``
    defaults to the longest sentence. A probe on these reads what the slot alone says (the last
    token is punctuation, the first is often a determiner or a pronoun)."""
    max_len = max(len(example.words) for example in examples) if max_len is None else max_len
    rows = []
    for example in examples:
        n = len(example.words)
        if n > max_len:
            raise ValueError(f"a sentence of {n} tokens is longer than max_len={max_len}")
        for i in range(n):
            row = torch.zeros(2 * max_len, dtype=torch.float64)
            row[i] = row[max_len + n - 1 - i] = 1.0
            rows.append(row)
    return torch.stack(rows)


@functools.lru_cache(maxsize=1)
def _sense_words() -> dict[str, int]:
    """{word: 0 (fire) or 1 (sport)} for every word whose larger sense tag in
    ``assets/word_features.tsv`` is at least 0.5 ("match" itself excluded)."""
    senses = {}
    for line in FEATURES_PATH.read_text(encoding="utf-8").splitlines()[1:]:
        word, *rest = line.split("\t")
        weights = {}
        for tag in (rest[0].split() if rest else []):
            name, _, value = tag.partition(":")
            weights[name] = float(value) if value else 1.0
        fire, sport = weights.get("fire", 0.0), weights.get("sport", 0.0)
        if word != "match" and max(fire, sport) >= 0.5:
            senses[word] = 0 if fire > sport else 1
    return senses


def is_distractor(example: MatchExample) -> bool:
    """True for a sentence of one sense that contains a word of the other sense ("after the tennis
    game , he struck a match ...", fire; "the fans lit flares before the match", sport): a word
    whose larger sense tag in the course's word features is the other sense's, at >= 0.5."""
    senses = _sense_words()
    return any(senses.get(word) == 1 - example.label for word in example.words)


def spread(curves) -> tuple[list[float], list[float], list[float]]:
    """``(mean, min, max)`` over runs of per-layer curves: ``curves`` is (runs, layers)."""
    values = torch.as_tensor(curves, dtype=torch.float64)
    return values.mean(dim=0).tolist(), values.min(dim=0).values.tolist(), values.max(dim=0).values.tolist()
