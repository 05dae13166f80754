"""Known mistakes for notebook 10: pick_device, train_step, evaluate."""
import torch

from . import bug


def _moved(model, batch):
    """The batch on the model's device: what every entry below does right (each holds one mistake)."""
    device = next(model.parameters()).device
    return [t.to(device) for t in batch]

# pick_device is judged on simulated machines (CUDA, MPS, both, neither: grader.core.simulated_hardware),
# so every one of these mistakes is visible whatever hardware grades it.


@bug("pick_device", "returns_string", "pick_device returns the device name as a string instead of a torch.device",
     "Return torch.device(\"cuda\") (or \"mps\", \"cpu\"), not the bare string: .to(device) accepts both, "
     "but device.type and comparisons with tensor.device need a torch.device.")
def pick_device_string():
    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"


@bug("pick_device", "always_cuda", "pick_device answers cuda on a machine without CUDA "
     "(often `torch.cuda.is_available` without the parentheses: a function is always true)",
     "Call the function: `if torch.cuda.is_available():`, with the parentheses.")
def pick_device_always_cuda():
    if torch.cuda.is_available:  # the function object itself: always true
        return torch.device("cuda")
    return torch.device("cpu")


@bug("pick_device", "mps_not_called", "pick_device answers mps on a machine without MPS "
     "(`torch.backends.mps.is_available` without the parentheses)",
     "Call the function: `torch.backends.mps.is_available()`, with the parentheses.")
def pick_device_mps_not_called():
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available:  # the function object itself: always true
        return torch.device("mps")
    return torch.device("cpu")


@bug("pick_device", "always_cpu", "pick_device always answers cpu, even when an accelerator is available",
     "Check torch.cuda.is_available() first, then torch.backends.mps.is_available(), and only then fall back to the CPU.")
def pick_device_always_cpu():
    return torch.device("cpu")


@bug("pick_device", "mps_before_cuda", "pick_device asks for MPS before CUDA, so a machine with both gets mps",
     "The order is the contract: CUDA first (the fastest where it exists), then MPS, then the CPU.")
def pick_device_mps_first():
    if torch.backends.mps.is_available():
        return torch.device("mps")
    if torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


@bug("pick_device", "mps_built_not_available", "pick_device asks whether MPS is built into PyTorch "
     "(torch.backends.mps.is_built()) instead of whether this machine can use it",
     "is_built() is true for every macOS build of PyTorch, even where MPS cannot run (an old macOS, no Apple "
     "silicon): ask torch.backends.mps.is_available().")
def pick_device_mps_built():
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_built():
        return torch.device("mps")
    return torch.device("cpu")


@bug("pick_device", "mps_forgotten", "pick_device never asks for MPS: a Mac with Apple silicon gets the CPU",
     "After CUDA, check torch.backends.mps.is_available() before falling back to the CPU.")
def pick_device_no_mps():
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@bug("train_step", "returns_tensor", "train_step returns the loss tensor instead of a Python float",
     "Return loss.item(): a plain float, detached from the graph (a tensor keeps the whole graph alive).")
def train_step_returns_tensor(model, batch, optimizer, loss_fn):
    *inputs, labels = _moved(model, batch)
    model.train()
    optimizer.zero_grad()
    loss = loss_fn(model(*inputs), labels)
    loss.backward()
    optimizer.step()
    return loss


@bug("train_step", "no_zero_grad", "train_step never clears the gradients, so each step adds the previous steps' gradients",
     "PyTorch accumulates into .grad: call optimizer.zero_grad() before loss.backward() in every step.")
def train_step_no_zero_grad(model, batch, optimizer, loss_fn):
    *inputs, labels = _moved(model, batch)
    model.train()
    loss = loss_fn(model(*inputs), labels)
    loss.backward()
    optimizer.step()
    return loss.item()


@bug("train_step", "no_step", "train_step never changes the weights: optimizer.step() is missing, or "
     "optimizer.zero_grad() comes after loss.backward() and wipes the gradients before the step",
     "The order is zero_grad(), forward, loss.backward(), optimizer.step(): backward computes the gradients, "
     "step applies them, and zero_grad() between the two leaves step nothing to apply.")
def train_step_no_step(model, batch, optimizer, loss_fn):
    *inputs, labels = _moved(model, batch)
    model.train()
    optimizer.zero_grad()
    loss = loss_fn(model(*inputs), labels)
    loss.backward()
    return loss.item()


@bug("train_step", "forgets_train_mode", "train_step never puts the model in training mode, so a model coming from "
     "evaluate() trains with dropout off",
     "Start the step with model.train(): the model may arrive in eval mode.")
def train_step_forgets_train(model, batch, optimizer, loss_fn):
    *inputs, labels = _moved(model, batch)
    optimizer.zero_grad()
    loss = loss_fn(model(*inputs), labels)
    loss.backward()
    optimizer.step()
    return loss.item()


@bug("train_step", "eval_mode", "train_step puts the model in eval mode, so dropout is off while training",
     "Use model.train() in train_step; model.eval() belongs in evaluate.")
def train_step_eval_mode(model, batch, optimizer, loss_fn):
    *inputs, labels = _moved(model, batch)
    model.eval()
    optimizer.zero_grad()
    loss = loss_fn(model(*inputs), labels)
    loss.backward()
    optimizer.step()
    return loss.item()



@bug("train_step", "loss_after_step", "train_step returns the loss recomputed after the update instead of the "
     "loss of the step",
     "Return loss.item() of the loss you called backward() on: that is the loss of this batch before the update "
     "(the number training curves plot).")
def train_step_loss_after_step(model, batch, optimizer, loss_fn):
    *inputs, labels = _moved(model, batch)
    model.train()
    optimizer.zero_grad()
    loss_fn(model(*inputs), labels).backward()
    optimizer.step()
    with torch.no_grad():
        return loss_fn(model(*inputs), labels).item()


@bug("train_step", "two_part_batch", "train_step unpacks the batch as `inputs, labels = batch`, which fails for "
     "a model with more than one input",
     "The batch is (*inputs, labels): unpack it as *inputs, labels = batch and call model(*inputs).")
def train_step_two_part_batch(model, batch, optimizer, loss_fn):
    inputs, labels = _moved(model, batch)
    model.train()
    optimizer.zero_grad()
    loss = loss_fn(model(inputs), labels)
    loss.backward()
    optimizer.step()
    return loss.item()


@bug("train_step", "ignores_device", "train_step uses the batch where it is instead of moving it to the model's device",
     "On a GPU the model's weights are on cuda and the batch arrives on the CPU: "
     "device = next(model.parameters()).device, then [t.to(device) for t in batch].")
def train_step_ignores_device(model, batch, optimizer, loss_fn):
    *inputs, labels = batch
    model.train()
    optimizer.zero_grad()
    loss = loss_fn(model(*inputs), labels)
    loss.backward()
    optimizer.step()
    return loss.item()


@bug("train_step", "clips_gradient_norm", "train_step clips the gradient norm at 1.0 (as some training loops do), "
     "so a steep batch moves the weights far less than one optimizer step",
     "The exercise is one plain optimizer step: loss.backward(), then optimizer.step(). Gradient clipping "
     "(torch.nn.utils.clip_grad_norm_) is a choice of a training loop, not part of the step.")
def train_step_clips(model, batch, optimizer, loss_fn):
    *inputs, labels = _moved(model, batch)
    model.train()
    optimizer.zero_grad()
    loss = loss_fn(model(*inputs), labels)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    return loss.item()


@bug("evaluate", "divides_by_zero", "evaluate divides by zero when there are no examples instead of raising ValueError",
     "Check the count before dividing: if total == 0, raise ValueError(\"evaluate() got no examples\").")
@torch.no_grad()
def evaluate_divides_by_zero(model, batches):
    was_training = model.training
    model.eval()
    correct = total = 0
    for *inputs, labels in (_moved(model, b) for b in batches):
        correct += (model(*inputs).argmax(dim=-1) == labels).sum().item()
        total += labels.numel()
    model.train(was_training)
    return correct / total


@bug("evaluate", "train_mode", "evaluate runs the model in training mode, so dropout changes the predictions",
     "Call model.eval() before predicting (and restore the previous mode afterwards).",
     mistake="dropout_in_eval")
@torch.no_grad()
def evaluate_train_mode(model, batches):
    correct = total = 0
    for *inputs, labels in (_moved(model, b) for b in batches):
        correct += (model(*inputs).argmax(dim=-1) == labels).sum().item()
        total += labels.numel()
    return correct / total


@bug("evaluate", "mode_not_restored", "evaluate leaves the model in eval mode instead of the mode it arrived in",
     "Save was_training = model.training before model.eval(), and call model.train(was_training) before returning.")
@torch.no_grad()
def evaluate_not_restored(model, batches):
    model.eval()
    correct = total = 0
    for *inputs, labels in (_moved(model, b) for b in batches):
        correct += (model(*inputs).argmax(dim=-1) == labels).sum().item()
        total += labels.numel()
    return correct / total


@bug("evaluate", "wrong_axis", "evaluate takes the argmax over the batch axis instead of the class axis",
     "logits have shape (batch, classes): the prediction of each example is logits.argmax(dim=-1).")
@torch.no_grad()
def evaluate_wrong_axis(model, batches):
    was_training = model.training
    model.eval()
    correct = total = 0
    for *inputs, labels in (_moved(model, b) for b in batches):
        correct += (model(*inputs).argmax(dim=0) == labels).sum().item()
        total += labels.numel()
    model.train(was_training)
    return correct / total


@bug("evaluate", "mean_over_batches", "evaluate averages the per-batch accuracies, so a small batch counts as much as a full one",
     "Add up correct predictions and examples over all batches and divide once at the end.")
@torch.no_grad()
def evaluate_mean_over_batches(model, batches):
    was_training = model.training
    model.eval()
    accuracies = []
    for *inputs, labels in (_moved(model, b) for b in batches):
        accuracies.append((model(*inputs).argmax(dim=-1) == labels).double().mean().item())
    model.train(was_training)
    return sum(accuracies) / len(accuracies)


@bug("evaluate", "returns_tensor", "evaluate returns the accuracy as a tensor instead of a Python float",
     "(predictions == labels).sum() is a tensor: add .item() when counting, so that correct / total is a float.")
@torch.no_grad()
def evaluate_returns_tensor(model, batches):
    was_training = model.training
    model.eval()
    correct, total = 0, 0
    for *inputs, labels in (_moved(model, b) for b in batches):
        correct = correct + (model(*inputs).argmax(dim=-1) == labels).sum()
        total += labels.numel()
    model.train(was_training)
    return correct / total


@bug("evaluate", "ignores_device", "evaluate uses the batches where they are instead of moving them to the model's device",
     "device = next(model.parameters()).device, then move the inputs and the labels of each batch: "
     "[t.to(device) for t in batch].")
@torch.no_grad()
def evaluate_ignores_device(model, batches):
    was_training = model.training
    model.eval()
    correct = total = 0
    for *inputs, labels in batches:
        correct += (model(*inputs).argmax(dim=-1) == labels).sum().item()
        total += labels.numel()
    model.train(was_training)
    if total == 0:
        raise ValueError("evaluate() got no examples")
    return correct / total


@bug("evaluate", "restores_one_flag", "evaluate restores the mode by setting model.training, which changes the "
     "model's own flag but not its submodules': its dropout layer stays in eval mode after evaluate",
     "model.train(was_training) sets the mode of every submodule; assigning model.training = ... sets one flag.")
@torch.no_grad()
def evaluate_restores_one_flag(model, batches):
    was_training = model.training
    model.eval()
    correct = total = 0
    for *inputs, labels in (_moved(model, b) for b in batches):
        correct += (model(*inputs).argmax(dim=-1) == labels).sum().item()
        total += labels.numel()
    model.training = was_training
    if total == 0:
        raise ValueError("evaluate() got no examples")
    return correct / total
