"""layer_probe_accuracy: every valid probe convention gets the same predictions on the check data.

The contract leaves open whether the ridge penalises the bias, how the system is solved and in
which precision. The hidden data are drawn so that each held-out example is MARGIN clear of the
class boundaries under both bias conventions (grader/exercises/nb11_probing.py); here, over many
secrets: the margin holds, float32 moves the scores far less than it, and every correct variant
(solutions/variants/nb11_probing.py) gives the reference's accuracies on every layer.
"""
from functools import lru_cache

import numpy as np
import pytest
import torch

from grader import reference as hidden
from grader.core import build_calls, run_call
from grader.exercises import EXERCISES
from grader.exercises.nb11_probing import MARGIN, probe_margins

pytestmark = pytest.mark.usefixtures("torch_single_thread")

EXERCISE = EXERCISES["layer_probe_accuracy"]
SECRETS = [f"probe-secret-{i}" for i in range(300)]
# one_per_layer only judges that there is one accuracy in [0, 1] per layer, not its value.
VALUE_CHECKS = [c for c in EXERCISE.checks if c.name != "one_per_layer" and c.raises is None]  # checks with accuracies to compare


def _layers(call):
    """(layers as (N, d) float64 arrays, labels, n_train, ridge) of one probe call."""
    layers, labels = call.args
    labels = np.asarray(labels)
    n_train = int(call.kwargs.get("train_fraction", 0.8) * len(labels))
    return [np.asarray(h, dtype=np.float64) for h in layers], labels, n_train, call.kwargs.get("ridge", 1e-3)


def _float32_scores_error(h, labels, n_train, ridge):
    """Largest change of a held-out score when the (bias-penalised) probe is solved in float32."""
    def scores(dtype):
        X = torch.cat([torch.as_tensor(h, dtype=dtype), torch.ones(len(h), 1, dtype=dtype)], dim=1)
        Y = torch.nn.functional.one_hot(torch.as_tensor(labels)).to(dtype)
        A = X[:n_train]
        W = torch.linalg.solve(A.T @ A + ridge * torch.eye(X.shape[1], dtype=dtype), A.T @ Y[:n_train])
        return (X[n_train:] @ W).double()

    return float((scores(torch.float32) - scores(torch.float64)).abs().max())


@lru_cache(maxsize=1)
def _all_calls():
    """(where, call) for the public checks once and the hidden ones under every secret."""
    calls = [(check.name, call) for check in VALUE_CHECKS if not check.hidden
             for call in build_calls(check, EXERCISE.name, None)]
    for secret in SECRETS:
        calls += [(f"{secret} {check.name}", call) for check in VALUE_CHECKS if check.hidden
                  for call in build_calls(check, EXERCISE.name, secret)]
    return calls


@pytest.mark.slow
def test_held_out_examples_are_clear_of_the_boundaries():
    smallest, worst_float32, layers_seen = np.inf, 0.0, 0
    for where, call in _all_calls():
        layers, labels, n_train, ridge = _layers(call)
        for h in layers:
            margins = probe_margins(h[:n_train], labels[:n_train], h[n_train:], int(labels.max()) + 1, ridge)
            assert margins.min() >= MARGIN, f"{where}: a held-out example is {margins.min():.2g} from a boundary"
            smallest = min(smallest, float(margins.min()))
            worst_float32 = max(worst_float32, _float32_scores_error(h, labels, n_train, ridge))
            layers_seen += 1
    assert layers_seen > 2 * len(SECRETS)
    assert worst_float32 < MARGIN / 10, f"float32 moves a score by {worst_float32:.2g}, too close to MARGIN"
    print(f"\n{layers_seen} layers, smallest margin {smallest:.4g}, largest float32 change {worst_float32:.2g}")


@pytest.mark.slow
def test_every_correct_convention_agrees_with_the_reference():
    variants = hidden.variants(EXERCISE.name)
    assert {"bias_not_penalised", "centred_free_intercept", "pinv", "float32_inverse",
            "float32_free_bias_lstsq"} <= {v.id for v in variants}
    truth = hidden.reference(EXERCISE.name)
    for where, call in _all_calls():
        _, labels, n_train, _ = _layers(call)
        n_test = len(labels) - n_train
        expected = np.round(np.asarray(run_call(truth, call)) * n_test)  # correct predictions per layer
        for variant in variants:
            got = np.round(np.asarray(run_call(variant.impl, call)) * n_test)
            assert np.array_equal(got, expected), (
                f"{where}: {variant.id} gets {got} of {n_test} right, the reference {expected}")


def test_without_the_margin_conventions_disagree():
    """The margin is needed: on raw draws like the hidden ones (3 classes, ridge 0.1, a layer
    far from the origin with no signal), the two bias conventions often predict differently."""
    rng = np.random.default_rng(0)
    disagreements = 0
    for _ in range(300):
        n, d, n_train = 40, 5, 28
        labels = rng.integers(0, 3, size=n)
        labels[:3] = [0, 1, 2]
        h = rng.normal(scale=2.0, size=d) + rng.normal(size=(n, d))
        disagreements += probe_margins(h[:n_train], labels[:n_train], h[n_train:], 3, 0.1).min() == 0.0
    assert disagreements >= 10
