"""Notebook 11: what do the layers learn? A linear probe per layer.

A probe asks whether a property (here: the sense of "match") can be read off a
layer's vectors by a linear map. It is fitted on part of the examples and scored
on the rest, so a high score means the information is linearly present, not memorised.
"""
import torch


def _probe_accuracy(features: torch.Tensor, labels: torch.Tensor, n_train: int, ridge: float) -> float:
    n_classes = int(labels.max().item()) + 1
    ones = torch.ones(features.size(0), 1, dtype=torch.float64)
    X = torch.cat([features.to(torch.float64), ones], dim=1)  # (N, d + 1): bias column
    Y = torch.nn.functional.one_hot(labels, n_classes).to(torch.float64)  # (N, C)
    X_train, Y_train = X[:n_train], Y[:n_train]
    # Ridge regression onto one-hot targets: W = (X^T X + ridge I)^-1 X^T Y, (d + 1, C).
    gram = X_train.T @ X_train + ridge * torch.eye(X.size(1), dtype=torch.float64)
    W = torch.linalg.solve(gram, X_train.T @ Y_train)
    predictions = (X[n_train:] @ W).argmax(dim=1)  # (N - n_train,)
    return (predictions == labels[n_train:]).double().mean().item()


def layer_probe_accuracy(
    hidden_states,
    labels,
    train_fraction: float = 0.8,
    ridge: float = 1e-3,
) -> list[float]:
    """Held-out accuracy of a linear probe on each layer's vectors.

    hidden_states: a sequence of L tensors (or one tensor ``(L, N, d)``), one ``(N, d)``
    matrix per layer (one vector per example); labels: ``(N,)`` ints in ``0..C-1``.
    The probe is ridge regression onto one-hot labels (closed form, deterministic),
    fitted on the first ``floor(train_fraction * N)`` examples and scored on the rest.
    Returns one accuracy per layer.
    """
    labels = torch.as_tensor(labels, dtype=torch.long)
    n_train = int(train_fraction * labels.numel())
    if not 0 < n_train < labels.numel():
        raise ValueError(f"train_fraction={train_fraction} leaves no training or no test examples")
    return [_probe_accuracy(torch.as_tensor(h).detach().cpu(), labels, n_train, ridge) for h in hidden_states]
