"""Checks for notebook 11: layer_probe_accuracy (a linear probe per layer).

Public checks use layers built so that the right accuracy is obvious by hand: separable
classes (1.0), a constant layer (the majority-class rate of the held-out part), held-out
examples deliberately mislabelled (0.0), classes told apart only by an offset (needs a bias).
"""
from __future__ import annotations

import numpy as np

from ..core import Call, Check, Comparison, Exercise, compare
from ._common import distinct_shape

NOTEBOOK = "11_what_layers_learn"


def _expect(expected):
    def judge(outputs, calls) -> Comparison:
        return compare(outputs[0], expected, "accuracies")

    return judge


def _one_float_per_layer(n_layers: int):
    def judge(outputs, calls) -> Comparison:
        out = outputs[0]
        if not isinstance(out, list):
            what = f"an array of shape {out.shape}" if isinstance(out, np.ndarray) else f"{type(out).__name__} {out!r}"
            return Comparison(False, f"expected a list of {n_layers} accuracies (one per layer), got {what}"[:160])
        if len(out) != n_layers:
            return Comparison(False, f"expected {n_layers} accuracies (one per layer), got {len(out)}")
        for i, acc in enumerate(out):
            value = acc.item() if isinstance(acc, np.ndarray) and acc.size == 1 else acc
            if type(value) not in (int, float) or not 0.0 <= value <= 1.0:
                return Comparison(False, f"accuracy of layer {i} should be a number between 0 and 1, got {value!r}"[:160])
        return Comparison(True)

    return judge


def _probe_call(layers, labels, **kwargs):
    return Call(args=(layers, np.asarray(labels)), kwargs=kwargs, torch_args=True)


# Separable: class 0 sits near (2, 0.5), class 1 near (0.5, 2), with a drift along (1, -1).
_Y10 = np.array([0, 1, 1, 0, 1, 0, 0, 1, 0, 1])
_SEPARABLE = np.where(_Y10[:, None] == 0, [[2.0, 0.5]], [[0.5, 2.0]]) + 0.1 * np.arange(10)[:, None] * np.array([[1.0, -1.0]])
# Constant: 15 examples, 12 for training (7 of class 0), the held-out 3 are [0, 1, 0]: 2/3.
_Y15 = np.array([0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 0, 1, 0])
# Held out: x = +1 for class 1 and -1 for class 0 in training; the 2 held-out examples are flipped.
_Y_ALT = np.array([0, 1, 0, 1, 0, 1, 0, 1, 0, 1])
_FLIPPED = np.where(_Y_ALT == 1, 1.0, -1.0) * np.where(np.arange(10) < 8, 1.0, -1.0)
# Offset only: class 0 near x = 1, class 1 near x = 3 (both positive): the threshold needs a bias.
_OFFSET = np.where(_Y10 == 1, 3.0, 1.0) + 0.05 * np.arange(10)
# train_fraction = 0.5 of 8: the first 4 follow x = +-1, the last 4 are flipped.
_Y8 = np.array([0, 1, 1, 0, 0, 1, 1, 0])
_HALF_FLIPPED = np.where(_Y8 == 1, 1.0, -1.0) * np.where(np.arange(8) < 4, 1.0, -1.0)


# The contract leaves the probe's conventions open: the bias may be penalised by the ridge or
# not, the system solved by solve, lstsq, pinv or an inverse, in float64 or float32. These
# move the held-out scores a little (up to ~0.3 between bias conventions on a bad draw; ~1e-5
# for float32), so a held-out example near a class boundary would be predicted differently by
# two correct answers. Every held-out example is therefore drawn clear of the boundaries: its
# top two class scores differ by at least MARGIN under both bias conventions, which agree on
# the class. tests/test_grader_probe_margin.py checks this over many secrets.
MARGIN = 0.01


def _probe_scores(train, targets, test, ridge, penalise_bias):
    """Held-out class scores of the ridge probe, (N_test, C), in float64."""
    A = np.hstack([train, np.ones((len(train), 1))])  # (n_train, d + 1): bias column
    penalty = ridge * np.eye(A.shape[1])
    if not penalise_bias:
        penalty[-1, -1] = 0.0
    W = np.linalg.solve(A.T @ A + penalty, A.T @ targets)  # (d + 1, C)
    return np.hstack([test, np.ones((len(test), 1))]) @ W


def probe_margins(train, train_labels, test, n_classes, ridge):
    """For each held-out example: the gap between its top two class scores, the smaller one of
    the two bias conventions, and 0 where the two conventions predict different classes."""
    targets = np.eye(n_classes)[train_labels]
    both = [_probe_scores(train, targets, test, ridge, penalise) for penalise in (True, False)]
    gaps = [np.diff(np.sort(scores, axis=1)[:, -2:], axis=1)[:, 0] for scores in both]
    same = both[0].argmax(axis=1) == both[1].argmax(axis=1)
    return np.where(same, np.minimum(*gaps), 0.0)


def _clear_of_boundaries(layer, labels, n_train, n_classes, ridge, draw):
    """Redraw the held-out examples of one layer (same labels) until each is MARGIN clear of the
    probe's class boundaries; the training part, hence the probe, stays as drawn."""
    layer = layer.copy()
    train, train_labels = layer[:n_train], labels[:n_train]

    def margin(x):
        return probe_margins(train, train_labels, x[None], n_classes, ridge)[0]

    for i in range(n_train, len(labels)):
        best, best_margin = layer[i], margin(layer[i])
        for _ in range(200):  # about 1 example in 50 needs a redraw, rarely more than one
            if best_margin >= MARGIN:
                break
            candidate = draw(labels[i])
            candidate_margin = margin(candidate)
            if candidate_margin > best_margin:
                best, best_margin = candidate, candidate_margin
        layer[i] = best
    return layer


def _hidden(rng):
    calls = []
    for n_classes, stacked, kwargs in ((2, False, {}), (3, True, {"train_fraction": 0.7, "ridge": 0.1})):
        n_layers, d = distinct_shape(rng, 2, 2, 9)
        n = int(rng.integers(30, 61))
        n_train = int(kwargs.get("train_fraction", 0.8) * n)
        labels = rng.integers(0, n_classes, size=n)
        labels[:n_classes] = np.arange(n_classes)  # every class appears in the training part
        centres = rng.normal(size=(n_classes, d))
        offset = rng.normal(scale=2.0, size=d)  # far from the origin: the bias column matters
        layers = []
        for strength in np.linspace(0.0, 2.5, n_layers):
            def draw(label, strength=strength):
                return offset + strength * centres[label] + rng.normal(size=d)

            layer = offset + strength * centres[labels] + rng.normal(size=(n, d))
            layers.append(_clear_of_boundaries(layer, labels, n_train, n_classes, kwargs.get("ridge", 1e-3), draw))
        calls.append(_probe_call(np.stack(layers) if stacked else layers, labels, **kwargs))
    return calls


layer_probe_accuracy = Exercise(
    name="layer_probe_accuracy",
    notebook=NOTEBOOK,
    kind="function",
    signature=("hidden_states", "labels", "train_fraction", "ridge"),
    where="the `layer_probe_accuracy` cell of 11_what_layers_learn",
    checks=[
        Check("separable_layer", "one layer whose two classes are linearly separable: held-out accuracy [1.0]",
              lambda rng: [_probe_call([_SEPARABLE], _Y10)], judge=_expect([1.0]),
              hint="Fit the probe (ridge regression onto one-hot labels, with a column of ones) on the first "
                   "int(train_fraction * N) examples, predict the argmax class on the rest, return a list."),
        Check("constant_layer", "a constant layer says nothing: the probe predicts the training majority class (0), "
                                "so the accuracy is its rate in the held-out part, 2 of 3: [0.667]",
              lambda rng: [_probe_call([np.full((15, 2), 2.0)], _Y15)], judge=_expect([2 / 3]),
              hint="Score only the held-out examples (the last N - int(train_fraction * N))."),
        Check("held_out", "the 2 held-out examples are deliberately mislabelled, so the honest accuracy is [0.0] "
                          "(1.0 would mean the probe was scored on its own training examples)",
              lambda rng: [_probe_call([_FLIPPED[:, None]], _Y_ALT)], judge=_expect([0.0]),
              hint="Predict and score X[n_train:], not X[:n_train]: accuracy on training examples measures memory."),
        Check("bias_column", "classes told apart only by an offset (x near 1 vs near 3): a probe with a bias "
                             "column separates them: [1.0]",
              lambda rng: [_probe_call([_OFFSET[:, None]], _Y10)], judge=_expect([1.0]),
              hint="Append a column of ones to the features before fitting (torch.cat([H, ones], dim=1)): "
                   "without it every decision boundary passes through the origin."),
        Check("one_per_layer", "three layers given as one (L, N, d) tensor: a list of 3 accuracies between 0 and 1",
              lambda rng: [_probe_call(np.stack([_SEPARABLE, _SEPARABLE[::-1].copy(), np.ones((10, 2))]), _Y10)],
              judge=_one_float_per_layer(3),
              hint="Loop over the layers (for h in hidden_states) and append one accuracy per layer."),
        Check("empty_split", "train_fraction=1.0 leaves no held-out example, 0.05 of 10 leaves no training "
                             "example: ValueError both times",
              lambda rng: [_probe_call([_SEPARABLE], _Y10, train_fraction=1.0),
                           _probe_call([_SEPARABLE], _Y10, train_fraction=0.05)], raises="ValueError",
              hint="n_train = int(train_fraction * N); if not 0 < n_train < N: raise ValueError(...) "
                   "before fitting anything."),
        Check("train_fraction", "train_fraction=0.5 on 8 examples: fit on the first 4, score the last 4 "
                                "(deliberately flipped): [0.0]",
              lambda rng: [_probe_call([_HALF_FLIPPED[:, None]], _Y8, train_fraction=0.5)], judge=_expect([0.0]),
              hint="Use the train_fraction argument: n_train = int(train_fraction * N)."),
        Check("hidden_random", "random layers of two shapes (2 and 3 classes, list and stacked tensor, "
                               "other train_fraction and ridge)", _hidden, points=2.0, hidden=True),
    ],
)

EXERCISES = [layer_probe_accuracy]
