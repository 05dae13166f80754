"""Objects a check asks the student side to build (see :class:`grader.core.Build`).

A check describes a tiny classifier, its batches and its optimizer as plain data; the
factories here turn that into torch objects in whichever process runs the call. Objects
that belong together (a model and the optimizer bound to *its* parameters) come back as
one :class:`grader.core.Spread`, whose items become separate arguments.

Imported by the grading worker and by notebooks: torch is imported only when a factory runs.
Factories never touch torch's global random state (the call seeds it for dropout).
"""
from __future__ import annotations

from functools import lru_cache
from typing import Callable

import numpy as np

from .core import Spread


@lru_cache(maxsize=None)
def _classifier_class():
    from torch import nn

    class TinyClassifier(nn.Module):
        """Linear layers with tanh between them and dropout on every layer's input.

        ``forward(x, offset=None)``: an optional second input, added to the logits, lets a
        check test batches of the form ``(x, offset, labels)`` (a model with two inputs).
        """

        def __init__(self, sizes, dropout):
            super().__init__()
            import torch

            self.layers = nn.ModuleList(
                nn.utils.skip_init(nn.Linear, a, b, dtype=torch.float64) for a, b in zip(sizes[:-1], sizes[1:])
            )
            self.dropout = nn.Dropout(dropout)

        def forward(self, x, offset=None):
            for i, layer in enumerate(self.layers):
                if i:
                    x = x.tanh()
                x = layer(self.dropout(x))
            return x if offset is None else x + offset

    return TinyClassifier


def classifier(weights, biases, dropout: float = 0.0, training: bool = True):
    """A float64 TinyClassifier with the given ``(out, in)`` weights and biases, in the given mode."""
    import torch

    weights = [np.asarray(w, dtype=np.float64) for w in weights]
    sizes = [weights[0].shape[1]] + [w.shape[0] for w in weights]
    model = _classifier_class()(sizes, dropout)
    with torch.no_grad():
        for layer, w, b in zip(model.layers, weights, biases):
            layer.weight.copy_(torch.from_numpy(w))
            layer.bias.copy_(torch.from_numpy(np.asarray(b, dtype=np.float64)))
    return model.train(training)


def batch(*parts):
    """``(*inputs, labels)`` as tensors: float inputs in float64, integer labels in int64."""
    import torch

    out = []
    for part in parts:
        array = np.asarray(part)
        dtype = np.int64 if np.issubdtype(array.dtype, np.integer) else np.float64
        out.append(torch.from_numpy(np.array(array, dtype=dtype)))
    return tuple(out)


def train_setup(weights, biases, batch_parts, dropout=0.0, training=True, optimizer="sgd", lr=0.1, momentum=0.0):
    """The arguments of ``train_step``: (model, batch, optimizer bound to the model, loss_fn)."""
    import torch

    model = classifier(weights, biases, dropout, training)
    if optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    elif optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=lr)
    else:
        raise ValueError(f"unknown optimizer {optimizer!r}")
    return Spread((model, batch(*batch_parts), opt, torch.nn.CrossEntropyLoss()))


def eval_setup(weights, biases, batches, dropout=0.0, training=True):
    """The arguments of ``evaluate``: (model, list of batches)."""
    return Spread((classifier(weights, biases, dropout, training), [batch(*parts) for parts in batches]))


FACTORIES: dict[str, Callable] = {
    "classifier": classifier,
    "train_setup": train_setup,
    "eval_setup": eval_setup,
}
