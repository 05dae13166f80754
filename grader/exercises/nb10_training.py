"""Checks for notebook 10: pick_device, train_step, evaluate.

Training checks build their model, batch and optimizer on the student side from plain data
(:mod:`grader.fixtures`): a tiny float64 classifier whose weights the check chooses, so
every expected value is reproducible. Public verdicts come from hand-computed values, a
closed-form SGD step written in numpy, or a forward pass of the same tiny model.
"""
from __future__ import annotations

import math

import numpy as np

from ..core import Build, Call, Check, Comparison, DeviceValue, Exercise, compare
from ._common import distinct_shape

NOTEBOOK = "10_gpu_and_training"


# ---------------------------------------------------------------------------------- pick_device

def _device_type(out) -> str | None:
    device = out.get("device") if isinstance(out, dict) else None
    return device.type if isinstance(device, DeviceValue) else None


def _is_device(outputs, calls) -> Comparison:
    for out in outputs:
        if _device_type(out) is None:
            got = out.get("device") if isinstance(out, dict) else out
            return Comparison(False, f"expected a torch.device, got {type(got).__name__} {got!r}"[:160])
    return Comparison(True)


def _this_machine(outputs, calls) -> Comparison:
    """The device follows what the answer was shown: cuda, then mps, then cpu. A call with simulated
    ``hardware`` is judged on that; otherwise on what the grading machine has (the sandbox's worker
    reports it before any student code runs)."""
    checked = _is_device(outputs, calls)
    if not checked.ok:
        return checked
    for out, call in zip(outputs, calls):
        shown = call.hardware if call.hardware is not None else out
        cuda, mps = bool(shown["cuda"]), bool(shown["mps"])
        expected = "cuda" if cuda else "mps" if mps else "cpu"
        got = _device_type(out)
        if got != expected:
            seen = f"CUDA {'is' if cuda else 'is not'} available, MPS {'is' if mps else 'is not'}"
            where = "with" if call.hardware is not None else "here"
            return Comparison(False, f"{where} {seen}, the answer is torch.device({expected!r}); got torch.device({got!r})")
    return Comparison(True)


# neither, mps only, cuda only, both; and MPS built into PyTorch but not usable (an old macOS): the CPU
HARDWARE = [{"cuda": c, "mps": m} for c in (False, True) for m in (False, True)] + [
    {"cuda": False, "mps": False, "mps_built": True}]


def _simulated(hardware: list[dict]) -> list[Call]:
    return [Call(post="device", hardware=dict(h)) for h in hardware]


def _hidden_simulated(rng) -> list[Call]:
    order = rng.permutation(len(HARDWARE))
    return _simulated([HARDWARE[i] for i in order] + [HARDWARE[int(rng.integers(len(HARDWARE)))]])


pick_device = Exercise(
    name="pick_device",
    notebook=NOTEBOOK,
    kind="function",
    signature=(),
    where="the `pick_device` cell of 10_gpu_and_training",
    checks=[
        Check("is_a_device", "pick_device() returns a torch.device, not a string",
              lambda rng: [Call(post="device")], judge=_is_device,
              hint="Wrap the name: return torch.device(\"cpu\"), not \"cpu\"."),
        Check("this_machine", "pick_device() picks cuda if available, else mps if available, else cpu",
              lambda rng: [Call(post="device")], judge=_this_machine,
              hint="Ask torch.cuda.is_available() (with the parentheses), then torch.backends.mps.is_available(), "
                   "and fall back to the CPU."),
        Check("every_machine", "on simulated machines: neither accelerator -> cpu, MPS only -> mps, CUDA only -> "
                               "cuda, both -> cuda (CUDA comes first), MPS built into PyTorch but not usable -> cpu",
              lambda rng: _simulated(HARDWARE), judge=_this_machine,
              hint="Ask torch.cuda.is_available() first (with the parentheses), then torch.backends.mps.is_available() "
                   "(is_built() only says PyTorch was compiled with MPS, not that this Mac can use it); "
                   "only when neither is there, torch.device(\"cpu\")."),
        Check("hidden_repeatable", "called twice (in two processes), it gives the right torch.device both times",
              lambda rng: [Call(post="device"), Call(post="device", process=1)], judge=_this_machine, points=2.0,
              hidden=True),
        Check("hidden_simulated", "simulated machines in a random order, asked again and again",
              _hidden_simulated, judge=_this_machine, points=2.0, hidden=True),
    ],
)


# ----------------------------------------------------------------------------------- train_step

def _sgd_linear(W, b, x, y, lr, steps, offset=None):
    """Plain SGD on a one-layer softmax classifier with cross-entropy, in closed form:
    dL/dlogits = (softmax - onehot) / B. Returns what the "train_step" post returns."""
    W, b = np.array(W, dtype=float), np.array(b, dtype=float)
    onehot = np.eye(W.shape[0])[y]
    losses = []
    for _ in range(steps):
        logits = x @ W.T + b + (0.0 if offset is None else offset)
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        losses.append(float(-(log_p * onehot).sum(axis=1).mean()))
        g = (np.exp(log_p) - onehot) / len(y)
        W, b = W - lr * g.T @ x, b - lr * g.sum(axis=0)
    return {"loss": losses if steps > 1 else losses[0], "params": {"layers.0.bias": b, "layers.0.weight": W}}


def _expect(expected):
    def judge(outputs, calls) -> Comparison:
        return compare(outputs, expected)

    return judge


def _expect_sgd(outputs, calls) -> Comparison:
    """Compare each call with the closed-form SGD run on the same (linear, dropout-free) setup."""
    expected = []
    for call in calls:
        p = call.args[0].params
        x, *offset, y = p["batch_parts"]
        expected.append(_sgd_linear(p["weights"][0], p["biases"][0], np.asarray(x), np.asarray(y), p["lr"],
                                    call.repeat, offset[0] if offset else None))
    return compare(outputs, expected)


def _loss_is_float(outputs, calls) -> Comparison:
    for out in outputs:
        losses = out["loss"] if isinstance(out.get("loss"), list) else [out.get("loss")]
        for loss in losses:
            if type(loss) is not float:
                what = "a tensor" if isinstance(loss, np.ndarray) else type(loss).__name__
                return Comparison(False, f"train_step returned {what}, not a Python float")
    return Comparison(True)


def _loss_in_train_mode(outputs, calls) -> Comparison:
    """The returned loss is the loss of the batch *before* the update, with dropout on:
    recomputed here on the same tiny model with the same random seed."""
    import torch

    from .. import fixtures

    for i, (out, call) in enumerate(zip(outputs, calls)):
        build = call.args[0]
        model, batch, _, loss_fn = fixtures.FACTORIES[build.factory](**build.params)
        torch.manual_seed(call.seed)
        model.train()
        with torch.no_grad():
            expected = loss_fn(model(*batch[:-1]), batch[-1]).item()
        arrived = "training" if build.params["training"] else "eval"
        result = compare(out["loss"], expected, f"loss (model arriving in {arrived} mode)")
        if not result.ok:
            return result
    return Comparison(True)


def _layer_params(rng, sizes, scale=0.8):
    weights = [rng.normal(scale=scale, size=(b, a)) for a, b in zip(sizes[:-1], sizes[1:])]
    biases = [rng.normal(scale=0.3, size=b) for b in sizes[1:]]
    return weights, biases


def _dropout_setup(rng, training, **extra):
    """A 3 -> 5 -> 2 classifier with dropout 0.5 and a batch of 4: dropout changes the loss."""
    weights, biases = _layer_params(rng, [3, 5, 2])
    parts = (rng.normal(size=(4, 3)), np.array([0, 1, 1, 0]))
    return Build("train_setup", dict(weights=weights, biases=biases, batch_parts=parts, dropout=0.5,
                                     training=training, **extra))


_HAND_SETUP = dict(weights=[np.zeros((2, 2))], biases=[np.zeros(2)],
                   batch_parts=(np.eye(2), np.array([0, 1])), optimizer="sgd", lr=1.0)


def _two_steps(rng):
    weights, biases = _layer_params(rng, [3, 2])
    parts = (rng.normal(size=(4, 3)), np.array([1, 0, 1, 1]))
    return [Call(args=(Build("train_setup", dict(weights=weights, biases=biases, batch_parts=parts,
                                                 optimizer="sgd", lr=0.5)),), post="train_step", repeat=2)]


def _two_inputs(rng):
    weights, biases = _layer_params(rng, [3, 4])
    parts = (rng.normal(size=(5, 3)), rng.normal(scale=2.0, size=(5, 4)), np.array([3, 0, 2, 1, 3]))
    return [Call(args=(Build("train_setup", dict(weights=weights, biases=biases, batch_parts=parts,
                                                 optimizer="sgd", lr=0.3)),), post="train_step", repeat=2)]


CLIP_MARGIN = 20.0  # the hidden SGD step's gradient norm is at least this: clipping at 1 (or 5, 10) shows


def gradient_norm(params: dict) -> float:
    """The norm of the gradient of the loss, all parameters together, for one train_setup (no
    dropout): what an answer that clips the gradient norm would cut down."""
    import torch

    from .. import fixtures

    model, batch, _, loss_fn = fixtures.train_setup(**{**params, "elsewhere": False})
    loss_fn(model(*batch[:-1]), batch[-1]).backward()
    return float(torch.sqrt(sum((p.grad ** 2).sum() for p in model.parameters())))


def _steep(rng, d_in, n_classes, batch_size, two_inputs):
    """An SGD setup without dropout whose gradient norm is at least CLIP_MARGIN: labels the model
    finds unlikely, inputs scaled up (and the first layer's weights down) until the gradient is steep
    (a step that clips the norm at 1 then moves the weights at least 20 times too little)."""
    d_hidden = int(rng.integers(2, 9))
    weights, biases = _layer_params(rng, [d_in, d_hidden, n_classes])
    x = rng.normal(size=(batch_size, d_in))
    logits = np.tanh(x @ weights[0].T + biases[0]) @ weights[1].T + biases[1]
    y = logits.argmin(axis=1)  # the least likely class of each example: the loss is steep there
    offset = rng.normal(size=(batch_size, n_classes)) if two_inputs else None
    for _ in range(12):
        parts = (x, offset, y) if two_inputs else (x, y)
        params = dict(weights=weights, biases=biases, batch_parts=parts, optimizer="sgd", lr=0.05, momentum=0.9)
        if gradient_norm(params) >= CLIP_MARGIN:
            return params
        # inputs twice as large and first-layer weights half as large: the same hidden units (tanh does
        # not saturate), a gradient of the first layer four times as large; steeper logits too
        x, weights = x * 2.0, [weights[0] / 2.0, weights[1] * 1.5]
    raise AssertionError("no steep enough batch found (a grader bug: please report it)")


def _train_hidden(rng):
    d_in, d_hidden, n_classes, batch = distinct_shape(rng, 4, 2, 10)
    weights, biases = _layer_params(rng, [d_in, d_hidden, n_classes])
    x, y = rng.normal(size=(batch, d_in)), rng.integers(0, n_classes, size=batch)
    adam = dict(weights=weights, biases=biases, batch_parts=(x, y), dropout=0.3, training=True,
                optimizer="adam", lr=0.05)
    d_in, n_classes, batch = distinct_shape(rng, 3, 2, 10)
    steep = _steep(rng, d_in, n_classes, batch, two_inputs=True)
    return [Call(args=(Build("train_setup", adam),), post="train_step", repeat=2, seed=int(rng.integers(1000))),
            Call(args=(Build("train_setup", {**steep, "training": False, "elsewhere": True}),), post="train_step",
                 repeat=2, seed=int(rng.integers(1000)))]


def _elsewhere(rng):
    weights, biases = _layer_params(rng, [3, 2])
    parts = (rng.normal(size=(4, 3)), np.array([1, 0, 1, 1]))
    return [Call(args=(Build("train_setup", dict(weights=weights, biases=biases, batch_parts=parts, optimizer="sgd",
                                                 lr=0.5, elsewhere=True)),), post="train_step", repeat=2)]


train_step = Exercise(
    name="train_step",
    notebook=NOTEBOOK,
    kind="function",
    signature=("model", "batch", "optimizer", "loss_fn"),
    where="the `train_step` cell of 10_gpu_and_training",
    checks=[
        Check("by_hand", "by hand: a zero-initialised linear model, x = [[1, 0], [0, 1]], labels [0, 1], SGD with "
                         "lr = 1: the loss is ln 2 = 0.6931 and W becomes [[0.25, -0.25], [-0.25, 0.25]]",
              lambda rng: [Call(args=(Build("train_setup", _HAND_SETUP),), post="train_step")],
              judge=_expect([{"loss": math.log(2.0), "params": {"layers.0.bias": np.zeros(2),
                                                               "layers.0.weight": np.array([[0.25, -0.25], [-0.25, 0.25]])}}]),
              hint="One step is: optimizer.zero_grad(), loss = loss_fn(model(*inputs), labels), loss.backward(), "
                   "optimizer.step(); return the loss computed before the update."),
        Check("returns_float", "train_step returns the loss as a Python float (loss.item()), not a tensor",
              lambda rng: [Call(args=(_dropout_setup(rng, False, optimizer="sgd", lr=0.3, momentum=0.5),),
                                post="train_step", repeat=2)],
              judge=_loss_is_float,
              hint="Return loss.item(): a float is detached from the graph and can be logged or plotted."),
        Check("two_steps", "two steps in a row on one batch (SGD on a 3 -> 2 linear model) match the closed-form "
                           "gradient steps: each step uses only its own gradients",
              _two_steps, judge=_expect_sgd,
              hint="PyTorch adds new gradients to .grad: clear them with optimizer.zero_grad() before loss.backward()."),
        Check("train_mode", "with dropout in the model, the loss is computed in training mode (dropout on), "
                            "also when the model arrives in eval mode (e.g. right after evaluate)",
              lambda rng: [Call(args=(_dropout_setup(rng, training),), post="train_step", seed=seed)
                           for training, seed in ((True, 3), (False, 4))],
              judge=_loss_in_train_mode,
              hint="Call model.train() at the start of the step: dropout must be active while training."),
        Check("two_inputs", "a batch (x, offset, labels) for a model with two inputs: the model is called as "
                            "model(x, offset), the loss with the last element",
              _two_inputs, judge=_expect_sgd,
              hint="Unpack the batch as *inputs, labels = batch and call model(*inputs)."),
        Check("batch_elsewhere", "the batch arrives on another device than the model (as a CPU batch for a "
                                 "model on a GPU): its tensors are moved to the model's device",
              _elsewhere, judge=_expect_sgd,
              hint="device = next(model.parameters()).device, then move every tensor of the batch: "
                   "[t.to(device) for t in batch]."),
        Check("hidden_random", "random classifiers: Adam with dropout, and SGD with momentum on a batch on "
                               "another device whose gradient is steep (nothing may clip it), two steps each",
              _train_hidden, points=2.0, hidden=True),
    ],
)


# ------------------------------------------------------------------------------------- evaluate

def _identity(batches, training, dropout=0.9):
    """Logits = inputs (an identity layer), with heavy dropout: in train mode predictions change."""
    return Build("eval_setup", dict(weights=[np.eye(3)], biases=[np.zeros(3)], batches=batches,
                                    dropout=dropout, training=training))


_ONE_HOT = np.eye(3)
# 4 of 4 right, then 0 of 2 right: accuracy 4/6 over examples (a mean over batches would say 1/2).
# No label is 0, the argmax of an all-zero row: with dropout on, dropped rows are all wrong.
_HAND_BATCHES = [(_ONE_HOT[[1, 2, 1, 2]], np.array([1, 2, 1, 2])), (_ONE_HOT[[1, 2]], np.array([2, 1]))]
# 3 examples and 3 classes per batch: the argmax along the wrong axis does not crash here
_SQUARE_BATCHES = [(np.array([[5.0, 1.0, 0.0], [4.0, 2.0, 0.0], [0.0, 1.0, 3.0]]), np.array([0, 0, 2])),
                   (np.array([[0.0, 3.0, 1.0], [2.0, 0.0, 1.0], [0.0, 1.0, 4.0]]), np.array([1, 1, 2]))]
# the offset (second input) moves the first example's prediction from class 0 to class 2
_OFFSET_BATCHES = [(_ONE_HOT[[0, 1, 2, 1]], np.array([[0.0, 0.0, 2.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.5, 0.0, 0.0]]),
                    np.array([0, 1, 2, 1]))]


def _accuracy_is(expected: float):
    def judge(outputs, calls) -> Comparison:
        for out in outputs:
            result = compare(out["accuracy"], expected, "accuracy")
            if not result.ok:
                return result
        return Comparison(True)

    return judge


def _mode_restored(outputs, calls) -> Comparison:
    """The model and every one of its submodules (the dropout layer inside it too) are back in the
    mode they arrived in: model.train(was_training) does it; model.training = ... sets one flag."""
    for out, call in zip(outputs, calls):
        before = call.args[0].params["training"]
        modes = out.get("training_after") if isinstance(out, dict) else None
        if not isinstance(modes, list) or not modes:
            return Comparison(False, "evaluate did not return what the check could read")
        name = "training" if before else "eval"
        if modes[0] is not before:
            return Comparison(False, f"the model arrived in {name} mode and was left in "
                                     f"{'training' if modes[0] else 'eval'} mode")
        if any(mode is not before for mode in modes[1:]):
            wrong = sum(mode is not before for mode in modes[1:])
            return Comparison(False, f"the model arrived in {name} mode; it says {name} again, but {wrong} of its "
                                     f"{len(modes) - 1} submodules (its dropout layer among them) were left in the "
                                     "other mode: setting model.training changes one flag, model.train(mode) all")
    return Comparison(True)


def _accuracy_is_float(outputs, calls) -> Comparison:
    for out in outputs:
        accuracy = out.get("accuracy") if isinstance(out, dict) else out
        if type(accuracy) is not float:
            what = "a tensor" if isinstance(accuracy, np.ndarray) else type(accuracy).__name__
            return Comparison(False, f"evaluate returned {what}, not a Python float")
    return Comparison(True)


def _eval_hidden(rng):
    calls = []
    for training in (True, False):
        d_in, d_hidden, n_classes = distinct_shape(rng, 3, 2, 9)
        sizes = distinct_shape(rng, 3, 2, 9)  # batch sizes differ: a mean over batches is wrong
        weights, biases = _layer_params(rng, [d_in, d_hidden, n_classes], scale=1.5)
        batches = [(rng.normal(size=(b, d_in)), rng.integers(0, n_classes, size=b)) for b in sizes]
        build = Build("eval_setup", dict(weights=weights, biases=biases, batches=batches, dropout=0.5, training=training,
                                         elsewhere=training))
        calls.append(Call(args=(build,), post="evaluate", seed=int(rng.integers(1000))))
    return calls


def _eval_elsewhere(batches, training):
    return Build("eval_setup", {**_identity(batches, training).params, "elsewhere": True})


evaluate = Exercise(
    name="evaluate",
    notebook=NOTEBOOK,
    kind="function",
    signature=("model", "batches"),
    where="the `evaluate` cell of 10_gpu_and_training",
    checks=[
        Check("by_hand", "by hand: logits = inputs, batches of 4 (all right) and 2 (both wrong): accuracy 4/6 = 0.667, "
                         "with dropout 0.9 in the model (it must not be active)",
              lambda rng: [Call(args=(_identity(_HAND_BATCHES, True),), post="evaluate")],
              judge=_accuracy_is(4 / 6),
              hint="Count correct predictions and examples over all batches, divide once at the end; "
                   "call model.eval() first so dropout is off."),
        Check("restores_mode", "the model, and every submodule of it, is left in the mode it arrived in "
                               "(training, or eval)",
              lambda rng: [Call(args=(_identity(_HAND_BATCHES, training),), post="evaluate") for training in (True, False)],
              judge=_mode_restored,
              hint="Remember was_training = model.training before model.eval(), and call model.train(was_training) at "
                   "the end (it sets every submodule; assigning model.training sets only the model's own flag)."),
        Check("returns_float", "evaluate returns the accuracy as a Python float, not a tensor",
              lambda rng: [Call(args=(_identity(_HAND_BATCHES, True),), post="evaluate")],
              judge=_accuracy_is_float,
              hint="Count with .item() ((predictions == labels).sum().item()), so that correct / total is a float."),
        Check("square_batches", "batches of 3 examples with 3 classes: predictions are the argmax over classes "
                                "(the last axis): accuracy 5/6",
              lambda rng: [Call(args=(_identity(_SQUARE_BATCHES, False),), post="evaluate")],
              judge=_accuracy_is(5 / 6),
              hint="logits have shape (batch, classes): take logits.argmax(dim=-1), one prediction per example."),
        Check("two_inputs", "batches (x, offset, labels) for a model with two inputs, called as model(x, offset): "
                            "accuracy 3/4",
              lambda rng: [Call(args=(_identity(_OFFSET_BATCHES, True),), post="evaluate")],
              judge=_accuracy_is(3 / 4),
              hint="Unpack each batch as *inputs, labels = batch and call model(*inputs)."),
        Check("batch_elsewhere", "the batches arrive on another device than the model: inputs and labels are "
                                 "moved to the model's device (accuracy 4/6 as by hand)",
              lambda rng: [Call(args=(_eval_elsewhere(_HAND_BATCHES, True),), post="evaluate")], judge=_accuracy_is(4 / 6),
              hint="device = next(model.parameters()).device; move the inputs and the labels: "
                   "[t.to(device) for t in batch]."),
        Check("no_examples", "no batches at all: evaluate raises ValueError (an accuracy of nothing is not 0)",
              lambda rng: [Call(args=(_identity([], True),), post="evaluate")], raises="ValueError",
              hint="After the loop, if total == 0: raise ValueError(\"evaluate() got no examples\") "
                   "instead of dividing by zero."),
        Check("hidden_random", "random classifiers with dropout, batches of three different sizes, "
                               "arriving in training and in eval mode", _eval_hidden, points=2.0, hidden=True),
    ],
)

EXERCISES = [pick_device, train_step, evaluate]
