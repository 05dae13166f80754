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


def batch(*parts, elsewhere: bool = False):
    """``(*inputs, labels)`` as tensors: float inputs in float64, integer labels in int64;
    ``elsewhere``: on another device than the model (:func:`elsewhere_class`)."""
    import torch

    out = []
    for part in parts:
        array = np.asarray(part)
        dtype = np.int64 if np.issubdtype(array.dtype, np.integer) else np.float64
        tensor = torch.from_numpy(np.array(array, dtype=dtype))
        out.append(tensor.as_subclass(elsewhere_class()) if elsewhere else tensor)
    return tuple(out)


@lru_cache(maxsize=None)
def elsewhere_class():
    """Tensors on "another device" than the model, on a machine that has only a CPU.

    Like a batch on the CPU for a model on a GPU (or the reverse), such a tensor works with tensors
    of its own device, and any operation that mixes it with the model's tensors fails with PyTorch's
    own message ("Expected all tensors to be on the same device"). Moving it to the model's device
    (``.to(device)``, ``.to(device=...)``, ``.cpu()``, ``torch.as_tensor(t, device=device)``) gives a
    plain tensor; ``.to(dtype)`` alone keeps it where it is. Its ``.device`` says ``meta``, a
    device that is not the model's. So an answer that forgets to move the batch fails here as it
    would on a real GPU, whatever machine grades it."""
    import torch

    model_device = torch.device("cpu")
    convert = torch._tensor._convert  # what Tensor.__torch_function__ uses to keep a subclass
    # Answers about the tensor itself (no data of another device is mixed in): as on any device.
    metadata = {"size", "dim", "numel", "__len__", "__repr__", "__format__", "is_floating_point", "element_size",
                "nelement", "ndimension", "__bool__", "tolist", "item", "__index__", "__int__", "__float__",
                "__hash__", "__deepcopy__", "__reduce_ex__", "stride", "storage_offset", "is_contiguous", "get_device"}

    def target(func, args, kwargs):
        """The device a move asks for, or None when the call is not a move."""
        name = getattr(func, "__name__", "")
        if name in ("cpu", "cuda", "mps"):
            return torch.device("cpu" if name == "cpu" else name)
        if name in ("to", "as_tensor", "tensor", "asarray"):
            for value in [*args[1:], kwargs.get("device"), kwargs.get("other")]:
                if isinstance(value, (str, torch.device)):
                    try:
                        return torch.device(value)
                    except (RuntimeError, TypeError):
                        continue
                if isinstance(value, torch.Tensor) and not isinstance(value, Elsewhere):
                    return value.device
        return None

    def plain(value):
        return value.as_subclass(torch.Tensor) if isinstance(value, Elsewhere) else value

    class Elsewhere(torch.Tensor):
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            name = getattr(func, "__name__", "")
            with torch._C.DisableTorchFunctionSubclass():
                if name == "__get__":  # a property: x.device, x.shape, x.T...
                    attribute = getattr(getattr(func, "__self__", None), "__name__", "")
                    if attribute == "device":
                        return torch.device("meta")
                    result = func(*args, **kwargs)
                    return convert(result, cls) if isinstance(result, torch.Tensor) else result
                device = target(func, args, kwargs)
                if device is not None:  # a move: to the model's device it becomes a plain tensor
                    result = func(*[plain(a) for a in args], **{k: plain(v) for k, v in kwargs.items()})
                    return result.as_subclass(torch.Tensor) if isinstance(result, torch.Tensor) else result
                if name in metadata:
                    return func(*args, **kwargs)
                flat = [*args, *kwargs.values()]
                flat += [x for a in flat if isinstance(a, (list, tuple)) for x in a]
                if any(isinstance(a, torch.Tensor) and not isinstance(a, Elsewhere) for a in flat):
                    raise RuntimeError("Expected all tensors to be on the same device, but found at least two devices, "
                                       "cpu and the batch's (the batch is on another device than the model: move "
                                       "each of its tensors with .to(device), device = the model's)")
                return convert(func(*args, **kwargs), cls)

    return Elsewhere


def train_setup(weights, biases, batch_parts, dropout=0.0, training=True, optimizer="sgd", lr=0.1, momentum=0.0,
                elsewhere=False):
    """The arguments of ``train_step``: (model, batch, optimizer bound to the model, loss_fn);
    ``elsewhere``: the batch is on another device than the model."""
    import torch

    model = classifier(weights, biases, dropout, training)
    if optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    elif optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=lr)
    else:
        raise ValueError(f"unknown optimizer {optimizer!r}")
    return Spread((model, batch(*batch_parts, elsewhere=elsewhere), opt, torch.nn.CrossEntropyLoss()))


def eval_setup(weights, biases, batches, dropout=0.0, training=True, elsewhere=False):
    """The arguments of ``evaluate``: (model, list of batches); ``elsewhere``: the batches are on
    another device than the model."""
    return Spread((classifier(weights, biases, dropout, training),
                   [batch(*parts, elsewhere=elsewhere) for parts in batches]))


FACTORIES: dict[str, Callable] = {
    "classifier": classifier,
    "train_setup": train_setup,
    "eval_setup": eval_setup,
}
