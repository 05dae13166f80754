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
