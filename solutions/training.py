"""Notebook 10: running and training the encoder on whatever hardware there is."""
import torch
from torch import nn


def pick_device() -> torch.device:
    """The fastest device available: CUDA, then Apple's MPS, then the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def _to(batch, device: torch.device) -> list:
    return [t.to(device) if isinstance(t, torch.Tensor) else t for t in batch]


def train_step(model: nn.Module, batch, optimizer: torch.optim.Optimizer, loss_fn) -> float:
    """One optimisation step on one batch; returns the loss as a Python float.

    ``batch`` is a sequence ``(*inputs, labels)``: the model is called as ``model(*inputs)``
    and the loss as ``loss_fn(logits, labels)``. Tensors are moved to the model's device.
    """
    device = next(model.parameters()).device
    *inputs, labels = _to(batch, device)
    model.train()
    optimizer.zero_grad()
    loss = loss_fn(model(*inputs), labels)
    loss.backward()
    optimizer.step()
    return loss.item()


def evaluate(model: nn.Module, batches) -> float:
    """Accuracy (fraction of correct argmax predictions over all examples) of an iterable of
    ``(*inputs, labels)`` batches, in eval mode (no dropout) and without gradients; restores the
    model's previous mode. Raises ``ValueError`` when the batches hold no example."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    correct, total = 0, 0
    try:
        with torch.no_grad():  # nothing to learn here: no graph, less memory
            for batch in batches:
                *inputs, labels = _to(batch, device)
                predictions = model(*inputs).argmax(dim=-1)  # (B,): the class with the largest logit
                correct += (predictions == labels).sum().item()
                total += labels.numel()
    finally:
        model.train(was_training)
    if total == 0:
        raise ValueError("evaluate() got no examples")
    return correct / total
