"""Correct answers in other styles for notebook 11: the same ridge probe, solved three ways."""
import numpy as np
import torch

from . import variant


@variant("layer_probe_accuracy", "numpy_normal_equations")
def probe_numpy(hidden_states, labels, train_fraction=0.8, ridge=1e-3):
    y = np.asarray(labels).astype(np.int64)
    n, n_train = len(y), int(train_fraction * len(y))
    if n_train in (0, n):
        raise ValueError("train_fraction leaves an empty part")
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
    if not 0 < n_train < len(labels):
        raise ValueError(f"train_fraction={train_fraction} leaves nothing to fit or to score")
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
    if n_train == 0 or n_train == labels.numel():
        raise ValueError("no training or no held-out examples")
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


# The contract leaves open whether the ridge also penalises the bias (sklearn's Ridge does not),
# how the system is solved, and in which precision. Each of these is a correct probe: the hidden
# data keep every held-out example clear of the class boundaries, so all of them agree.

@variant("layer_probe_accuracy", "bias_not_penalised")
def probe_bias_not_penalised(hidden_states, labels, train_fraction=0.8, ridge=1e-3):
    labels = torch.as_tensor(labels, dtype=torch.long)
    n_train = int(train_fraction * labels.numel())
    if min(n_train, labels.numel() - n_train) < 1:
        raise ValueError("both parts need an example")
    Y = torch.nn.functional.one_hot(labels).double()
    accuracies = []
    for h in hidden_states:
        X = torch.cat([torch.as_tensor(h).double(), torch.ones(len(labels), 1, dtype=torch.float64)], dim=1)
        penalty = ridge * torch.eye(X.shape[1], dtype=torch.float64)
        penalty[-1, -1] = 0.0  # the bias column is not shrunk
        W = torch.linalg.solve(X[:n_train].T @ X[:n_train] + penalty, X[:n_train].T @ Y[:n_train])
        accuracies.append((X[n_train:] @ W).argmax(dim=1).eq(labels[n_train:]).double().mean().item())
    return accuracies


@variant("layer_probe_accuracy", "centred_free_intercept")
def probe_centred(hidden_states, labels, train_fraction=0.8, ridge=1e-3):
    # Centre on the training means, fit without a bias, then put the intercept back:
    # the same as an unpenalised bias column.
    y = np.asarray(labels).astype(np.int64)
    n_train = int(train_fraction * len(y))
    if not 0 < n_train < len(y):
        raise ValueError("empty split")
    targets = np.eye(y.max() + 1)[y]
    accuracies = []
    for h in hidden_states:
        X = np.asarray(h, dtype=np.float64)
        x_mean, y_mean = X[:n_train].mean(axis=0), targets[:n_train].mean(axis=0)
        Xc, Yc = X[:n_train] - x_mean, targets[:n_train] - y_mean
        W = np.linalg.solve(Xc.T @ Xc + ridge * np.eye(X.shape[1]), Xc.T @ Yc)
        scores = (X[n_train:] - x_mean) @ W + y_mean
        accuracies.append(float(np.mean(scores.argmax(axis=1) == y[n_train:])))
    return accuracies


@variant("layer_probe_accuracy", "pinv")
def probe_pinv(hidden_states, labels, train_fraction=0.8, ridge=1e-3):
    y = np.asarray(labels).astype(np.int64)
    n_train = int(train_fraction * len(y))
    if n_train <= 0 or n_train >= len(y):
        raise ValueError("train_fraction must leave examples on both sides")
    targets = np.eye(y.max() + 1)[y]
    accuracies = []
    for h in hidden_states:
        X = np.column_stack([np.asarray(h, dtype=np.float64), np.ones(len(y))])
        A = X[:n_train]
        W = np.linalg.pinv(A.T @ A + ridge * np.eye(X.shape[1])) @ A.T @ targets[:n_train]
        accuracies.append(float(np.mean((X[n_train:] @ W).argmax(axis=1) == y[n_train:])))
    return accuracies


@variant("layer_probe_accuracy", "float32_inverse")
def probe_float32_inverse(hidden_states, labels, train_fraction=0.8, ridge=1e-3):
    # Everything in float32, with an explicit inverse of the normal equations.
    labels = torch.as_tensor(labels, dtype=torch.long)
    n_train = int(train_fraction * labels.numel())
    if not (0 < n_train < labels.numel()):
        raise ValueError("empty training or held-out part")
    Y = torch.nn.functional.one_hot(labels).float()
    accuracies = []
    for h in hidden_states:
        X = torch.nn.functional.pad(torch.as_tensor(h).float(), (0, 1), value=1.0)
        A = X[:n_train]
        W = torch.linalg.inv(A.T @ A + ridge * torch.eye(X.shape[1])) @ A.T @ Y[:n_train]
        accuracies.append(float((X[n_train:] @ W).argmax(dim=1).eq(labels[n_train:]).float().mean()))
    return accuracies


@variant("layer_probe_accuracy", "float32_free_bias_lstsq")
def probe_float32_free_bias(hidden_states, labels, train_fraction=0.8, ridge=1e-3):
    # float32, unpenalised bias, least squares on the augmented system [X; sqrt(ridge) I_d 0].
    labels = torch.as_tensor(labels, dtype=torch.long)
    n_train = int(train_fraction * labels.numel())
    if not (0 < n_train < labels.numel()):
        raise ValueError("empty training or held-out part")
    Y = torch.nn.functional.one_hot(labels).float()
    accuracies = []
    for h in hidden_states:
        h = torch.as_tensor(h).float()
        d = h.shape[1]
        X = torch.cat([h, torch.ones(len(h), 1)], dim=1)
        rows = torch.cat([ridge ** 0.5 * torch.eye(d), torch.zeros(d, 1)], dim=1)  # no row for the bias
        A = torch.cat([X[:n_train], rows])
        B = torch.cat([Y[:n_train], torch.zeros(d, Y.shape[1])])
        W = torch.linalg.lstsq(A, B).solution
        accuracies.append(float((X[n_train:] @ W).argmax(dim=1).eq(labels[n_train:]).float().mean()))
    return accuracies
