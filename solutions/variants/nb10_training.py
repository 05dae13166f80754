"""Correct answers in other styles for notebook 10."""
import torch

from . import variant


@variant("pick_device", "string_names")
def pick_device_names():
    name = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    return torch.device(name)


@variant("pick_device", "indexed")
def pick_device_indexed():
    if torch.cuda.is_available():
        return torch.device("cuda", 0)  # "cuda:0" is the same accelerator
    if hasattr(torch.backends, "mps") and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device(type="cpu")


@variant("pick_device", "accelerator_api")
def pick_device_accelerator():
    # PyTorch 2.6+: torch.accelerator knows the machine's accelerator; older versions ask each backend
    accelerator = getattr(torch, "accelerator", None)
    if accelerator is not None and accelerator.is_available():
        kind = accelerator.current_accelerator().type
        if kind in ("cuda", "mps"):
            return torch.device(kind)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    return torch.device("mps" if mps is not None and mps.is_available() else "cpu")


from torch.backends.mps import is_available as mps_available  # noqa: E402  (probes taken at import time)
from torch.cuda import is_available as cuda_available  # noqa: E402


@variant("pick_device", "probes_imported_early")
def pick_device_imported_probes():
    # the probes bound when the cell was run, not looked up at each call
    return torch.device("cuda" if cuda_available() else "mps" if mps_available() else "cpu")


@variant("train_step", "zero_grad_last")
def train_step_zero_grad_last(model, batch, optimizer, loss_fn):
    # the PyTorch quickstart's order: clear the gradients after the step, ready for the next one
    device = next(model.parameters()).device
    model.train()
    logits = model(*(x.to(device) for x in batch[:-1]))
    loss = loss_fn(logits, batch[-1].to(device))
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    return float(loss)


@variant("train_step", "model_zero_grad")
def train_step_model_zero_grad(model, batch, optimizer, loss_fn):
    device = next(iter(model.parameters())).device
    inputs, labels = tuple(t.to(device=device) for t in batch[:-1]), batch[-1].to(device=device)
    model.train(True)
    model.zero_grad(set_to_none=False)  # zeros instead of None: the same step
    with torch.enable_grad():
        loss = loss_fn(model(*inputs), labels)
        grads = torch.autograd.grad(loss, [p for p in model.parameters()])
    for p, g in zip(model.parameters(), grads):
        p.grad = g
    optimizer.step()
    return loss.detach().item()


@variant("train_step", "device_aware")
def train_step_device_aware(model, batch, optimizer, loss_fn):
    device = next(model.parameters()).device
    *inputs, labels = [t.to(device) for t in batch]
    model.train()
    optimizer.zero_grad(set_to_none=True)
    loss = loss_fn(model(*inputs), labels)
    loss.backward()
    optimizer.step()
    return loss.item()


@variant("evaluate", "context_managers")
def evaluate_context_managers(model, batches):
    was_training = model.training
    model.eval()
    hits, seen = torch.zeros((), dtype=torch.long), 0
    device = next(model.parameters()).device
    with torch.inference_mode():
        for batch in batches:
            batch = [t.to(device=device, copy=False) for t in batch]
            logits = model(*batch[:-1])
            hits += logits.argmax(-1).eq(batch[-1]).sum()
            seen += len(batch[-1])
    model.train(was_training)
    if not seen:
        raise ValueError("no examples to evaluate")
    return hits.item() / seen


@variant("evaluate", "per_module_modes")
def evaluate_per_module_modes(model, batches):
    modes = {m: m.training for m in model.modules()}
    device = next(model.parameters()).device
    model.eval()
    correct, total = 0, 0
    try:
        with torch.no_grad():
            for *inputs, labels in batches:
                inputs, labels = [x.to(device) for x in inputs], labels.to(device)
                predictions = torch.max(model(*inputs), dim=1).indices
                correct += int((predictions == labels).sum())
                total += labels.shape[0]
    finally:
        for module, mode in modes.items():
            module.training = mode
    if total == 0:
        raise ValueError("evaluate() needs at least one example")
    return correct / total


@variant("evaluate", "concatenate")
def evaluate_concatenate(model, batches):
    was_training = model.training
    device = next(model.parameters()).device
    model.eval()
    with torch.no_grad():
        moved = [[t.to(device) for t in batch] for batch in batches]
        pairs = [(model(*inputs).argmax(dim=-1), labels) for *inputs, labels in moved]
    model.train(was_training)
    predictions = torch.cat([p for p, _ in pairs])
    labels = torch.cat([y for _, y in pairs])
    return (predictions == labels).float().mean().item()


# --- float32 inside -----------------------------------------------------------------------


@variant("train_step", "float32_loss")
def train_step_float32_loss(model, batch, optimizer, loss_fn):
    # The loss (and the gradient flowing back into the float64 model) computed in float32.
    device = next(model.parameters()).device
    *inputs, labels = (t.to(device, non_blocking=True) for t in batch)
    model.train()
    optimizer.zero_grad()
    loss = loss_fn(model(*inputs).float(), labels)
    loss.backward()
    optimizer.step()
    return loss.item()


@variant("evaluate", "float32_counts")
def evaluate_float32_counts(model, batches):
    # float32 logits, counts and division: the accuracy carries float32 rounding (about 3e-8).
    was_training = model.training
    model.eval()
    correct = torch.zeros((), dtype=torch.float32)
    total = torch.zeros((), dtype=torch.float32)
    device = next(model.parameters()).device
    with torch.no_grad():
        for *inputs, labels in batches:
            inputs, labels = [x.to(device) for x in inputs], labels.to(device)
            predictions = model(*inputs).float().argmax(dim=-1)
            correct += (predictions == labels).float().sum()
            total += torch.tensor(labels.numel(), dtype=torch.float32)
    model.train(was_training)
    if total.item() == 0:
        raise ValueError("empty evaluation set")
    return (correct / total).item()
