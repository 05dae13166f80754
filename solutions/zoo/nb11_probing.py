"""Known mistakes for notebook 11: layer_probe_accuracy."""
import torch

from . import bug


def _design(h, labels):
    """(N, d + 1) features with a bias column and (N, C) one-hot targets, in float64."""
    X = torch.as_tensor(h).detach().to(torch.float64)
    X = torch.cat([X, torch.ones(X.size(0), 1, dtype=torch.float64)], dim=1)
    Y = torch.nn.functional.one_hot(labels, int(labels.max()) + 1).to(torch.float64)
    return X, Y


def _ridge(X, Y, ridge):
    return torch.linalg.solve(X.T @ X + ridge * torch.eye(X.size(1), dtype=X.dtype), X.T @ Y)


@bug("layer_probe_accuracy", "scored_on_training", "the probe is scored on the examples it was fitted on, "
     "not on the held-out ones",
     "Fit on X[:n_train] and compute the accuracy on X[n_train:]: accuracy on training examples measures memory, "
     "not what the layer encodes.")
def probe_scored_on_training(hidden_states, labels, train_fraction=0.8, ridge=1e-3):
    labels = torch.as_tensor(labels, dtype=torch.long)
    n_train = int(train_fraction * labels.numel())
    accuracies = []
    for h in hidden_states:
        X, Y = _design(h, labels)
        W = _ridge(X[:n_train], Y[:n_train], ridge)
        accuracies.append((X[:n_train] @ W).argmax(1).eq(labels[:n_train]).double().mean().item())
    return accuracies


@bug("layer_probe_accuracy", "empty_split_unchecked", "an empty training or held-out part is not refused: "
     "the probe fits on nothing or scores nothing (NaN) instead of raising ValueError",
     "After n_train = int(train_fraction * N): if not 0 < n_train < N, raise ValueError with a message "
     "saying that train_fraction leaves no training or no held-out example.")
def probe_empty_split_unchecked(hidden_states, labels, train_fraction=0.8, ridge=1e-3):
    labels = torch.as_tensor(labels, dtype=torch.long)
    n_train = int(train_fraction * labels.numel())
    accuracies = []
    for h in hidden_states:
        X, Y = _design(h, labels)
        W = _ridge(X[:n_train], Y[:n_train], ridge)
        accuracies.append((X[n_train:] @ W).argmax(1).eq(labels[n_train:]).double().mean().item())
    return accuracies


@bug("layer_probe_accuracy", "no_bias", "the probe has no bias column, so every decision boundary passes through the origin",
     "Append a column of ones to each layer's features before fitting (and before predicting).")
def probe_no_bias(hidden_states, labels, train_fraction=0.8, ridge=1e-3):
    labels = torch.as_tensor(labels, dtype=torch.long)
    n_train = int(train_fraction * labels.numel())
    accuracies = []
    for h in hidden_states:
        X, Y = _design(h, labels)
        X = X[:, :-1]
        W = _ridge(X[:n_train], Y[:n_train], ridge)
        accuracies.append((X[n_train:] @ W).argmax(1).eq(labels[n_train:]).double().mean().item())
    return accuracies


@bug("layer_probe_accuracy", "single_number", "the probe returns one number (the last layer's accuracy) "
     "instead of one accuracy per layer",
     "Loop over the layers: `for h in hidden_states:` and return the list of their accuracies.")
def probe_single_number(hidden_states, labels, train_fraction=0.8, ridge=1e-3):
    labels = torch.as_tensor(labels, dtype=torch.long)
    n_train = int(train_fraction * labels.numel())
    X, Y = _design(hidden_states[-1], labels)
    W = _ridge(X[:n_train], Y[:n_train], ridge)
    return (X[n_train:] @ W).argmax(1).eq(labels[n_train:]).double().mean().item()


@bug("layer_probe_accuracy", "argmax_over_examples", "the predicted class is the argmax over the examples "
     "(dim 0) instead of over the classes (dim 1)",
     "The scores X_test @ W have shape (N_test, C): one row per example, one column per class. Each example's "
     "prediction is the best column of its row: scores.argmax(dim=1).")
def probe_argmax_over_examples(hidden_states, labels, train_fraction=0.8, ridge=1e-3):
    labels = torch.as_tensor(labels, dtype=torch.long)
    n_train = int(train_fraction * labels.numel())
    accuracies = []
    for h in hidden_states:
        X, Y = _design(h, labels)
        W = _ridge(X[:n_train], Y[:n_train], ridge)
        predictions = (X[n_train:] @ W).argmax(dim=0)
        accuracies.append((predictions == labels[n_train:]).double().mean().item())
    return accuracies


@bug("layer_probe_accuracy", "bias_fitted_not_used", "the bias is fitted but left out of the predictions "
     "(the held-out examples have no column of ones)",
     "Add the column of ones to the held-out examples too: the last row of W is the bias, and the scores are "
     "[X_test, 1] @ W.")
def probe_bias_fitted_not_used(hidden_states, labels, train_fraction=0.8, ridge=1e-3):
    labels = torch.as_tensor(labels, dtype=torch.long)
    n_train = int(train_fraction * labels.numel())
    accuracies = []
    for h in hidden_states:
        X, Y = _design(h, labels)
        W = _ridge(X[:n_train], Y[:n_train], ridge)
        predictions = (X[n_train:, :-1] @ W[:-1]).argmax(dim=1)
        accuracies.append((predictions == labels[n_train:]).double().mean().item())
    return accuracies
