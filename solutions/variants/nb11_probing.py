"""Correct answers in other styles for notebook 11: the same ridge probe, solved three ways."""
import numpy as np
import torch

from . import variant


@variant("layer_probe_accuracy", "numpy_normal_equations")
def probe_numpy(hidden_states, labels, train_fraction=0.8, ridge=1e-3):
    y = np.asarray(labels).astype(np.int64)
    n, n_train = len(y), int(train_fraction * len(y))
    targets = np.eye(y.max() + 1)[y]
    accuracies = []
    for h in hidden_states:
        X = np.hstack([np.asarray(h, dtype=np.float64), np.ones((n, 1))])
        A, B = X[:n_train], targets[:n_train]
        W = np.linalg.solve(A.T @ A + ridge * np.eye(X.shape[1]), A.T @ B)
        accuracies.append(float(np.mean((X[n_train:] @ W).argmax(axis=1) == y[n_train:])))
    return accuracies


@variant("layer_probe_accuracy", "augmented_lstsq")
def probe_lstsq(hidden_states, labels, train_fraction=0.8, ridge=1e-3):
    # ridge = least squares on [X; sqrt(ridge) I] against [Y; 0]
    labels = torch.as_tensor(labels).long()
    n_train = int(train_fraction * len(labels))
    Y = torch.nn.functional.one_hot(labels).double()
    accuracies = []
    for h in hidden_states:
        h = torch.as_tensor(h).double()
        X = torch.cat([h, h.new_ones(len(h), 1)], dim=1)
        k = X.shape[1]
        A = torch.cat([X[:n_train], ridge ** 0.5 * torch.eye(k, dtype=torch.float64)])
        B = torch.cat([Y[:n_train], torch.zeros(k, Y.shape[1], dtype=torch.float64)])
        W = torch.linalg.lstsq(A, B).solution
        correct = (X[n_train:] @ W).argmax(dim=1) == labels[n_train:]
        accuracies.append(correct.sum().item() / correct.numel())
    return accuracies


@variant("layer_probe_accuracy", "cholesky_per_class")
def probe_cholesky(hidden_states, labels, train_fraction=0.8, ridge=1e-3):
    labels = torch.as_tensor(labels, dtype=torch.long)
    n_train = int(train_fraction * labels.numel())
    n_classes = int(labels.max()) + 1
    out = []
    for h in hidden_states:
        X = torch.nn.functional.pad(torch.as_tensor(h, dtype=torch.float64), (0, 1), value=1.0)
        train, test = X[:n_train], X[n_train:]
        L = torch.linalg.cholesky(train.T @ train + ridge * torch.eye(X.shape[1], dtype=torch.float64))
        scores = []
        for c in range(n_classes):  # one regression per class: target 1 for class c, 0 otherwise
            target = (labels[:n_train] == c).double().unsqueeze(1)
            w = torch.cholesky_solve(train.T @ target, L)
            scores.append(test @ w)
        predictions = torch.cat(scores, dim=1).argmax(dim=1)
        out.append(float((predictions == labels[n_train:]).float().mean()))
    return out
