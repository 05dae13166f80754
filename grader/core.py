"""The check model: what a check is, how one call into student code is made, how outputs compare.

A check is split in two halves so that grading can be trusted:

- the *trusted side* builds the inputs (:class:`Call` objects: plain numpy data) and
  judges the outputs (compares with the reference, tests a property, names a known bug);
- the *student side* only runs :func:`run_call`: build the student's object, call it,
  turn whatever came back into plain data (:func:`to_plain`).

In an instructor's grading run the student side is a sandboxed worker process
(:mod:`grader.isolation.sandbox`); in a student's notebook it is the student's own kernel.
This module is imported by both sides, so it must stay light (numpy; torch lazily).
"""
from __future__ import annotations

import contextlib
import hashlib
import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .config import DEFAULT_SCORING

# ---------------------------------------------------------------------------------------
# Calls: one invocation of student code, described as plain data.
# ---------------------------------------------------------------------------------------


@dataclass
class Build:
    """A helper object the student side constructs from grader code (a tiny model, an
    optimizer...), named in :data:`grader.fixtures.FACTORIES`. Plain data on the wire."""

    factory: str
    params: dict = field(default_factory=dict)


class Spread(tuple):
    """Returned by a factory whose objects belong together (a model and the optimizer bound
    to *its* parameters): each item becomes its own argument of the call."""


@dataclass
class Call:
    """One call into the student's answer.

    kind "function": ``answer(*args, **kwargs)``.
    kind "module": ``m = answer(**init)``; optionally ``m.load_state_dict(state)``;
    ``m.train(train)``; then ``getattr(m, method)(*args, **kwargs)``.
    ``torch_args`` turns numpy arrays in args into tensors (the PyTorch track).
    ``post`` names a post-processing step of :data:`POSTPROCESS` (e.g. "grad", "introspect").
    ``repeat`` > 1 (kind "function"): call the answer that many times on the same objects;
    the result is the list of what each call returned (two training steps in a row).
    ``hardware``: during the call, torch reports these accelerators as available (and no others),
    so that pick_device's order is judged on every combination, whatever the grading machine has.
    ``process``: in grading, the calls of each number after the first run in a fork of the answer's
    process taken once the answer is defined, before any call ran (see :func:`processes`).
    """

    kind: str = "function"
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    init: dict = field(default_factory=dict)
    state: dict | None = None
    method: str = "forward"
    train: bool = False
    seed: int = 0
    torch_args: bool = False
    dtype: str = "float64"
    post: str | None = None
    repeat: int = 1
    hardware: dict | None = None  # {"cuda": bool, "mps": bool, "mps_built": bool}: what torch reports (pick_device)
    process: int = 0  # another number: another process, forked before any call (a property pair: no memo links them)


# ---------------------------------------------------------------------------------------
# Student side: run one call, convert the result into plain data.
# ---------------------------------------------------------------------------------------


def _to_torch(value: Any, dtype: str):
    import torch

    if isinstance(value, np.ndarray):
        tensor = torch.from_numpy(np.array(value))  # a copy: the student may write into it
        return tensor.to(getattr(torch, dtype)) if tensor.is_floating_point() else tensor
    if isinstance(value, (list, tuple)):
        return type(value)(_to_torch(v, dtype) for v in value)
    if isinstance(value, dict):
        return {k: _to_torch(v, dtype) for k, v in value.items()}
    return value


def _materialise(value: Any, call: Call):
    """Replace :class:`Build` markers by real objects; copy arrays (answers may mutate inputs)."""
    if isinstance(value, Build):
        from . import fixtures

        return fixtures.FACTORIES[value.factory](**value.params)
    if isinstance(value, np.ndarray):
        return _to_torch(value, call.dtype) if call.torch_args else np.array(value)
    if isinstance(value, (list, tuple)):
        items = []
        for v in value:
            built = _materialise(v, call)
            if isinstance(built, Spread):
                items.extend(built)
            else:
                items.append(built)
        return type(value)(items)
    if isinstance(value, dict):
        return {k: _materialise(v, call) for k, v in value.items()}
    return value


def run_call(answer: Any, call: Call, guard: Callable[[], Any] = contextlib.nullcontext) -> Any:
    """Run ``call`` against ``answer`` (a function or an nn.Module class); return plain data.

    Used on both sides: on the student's answer (student side) and on the reference
    and the bug zoo (trusted side), so that all three see exactly the same inputs.
    ``guard()`` is entered around the code that is the answer's (building the module, calling
    it), not around the grader's own steps: the sandbox's tripwire for forbidden built-ins.
    """
    args = _materialise(call.args, call)
    kwargs = _materialise(call.kwargs, call)
    if call.post == "grad":
        for value in args:
            if getattr(value, "is_floating_point", lambda: False)():
                value.requires_grad_(True)
    if call.kind == "function":
        if call.torch_args or call.post:
            import torch

            seed_torch(call.seed)
        with simulated_hardware(call.hardware), guard():
            if call.repeat > 1:
                result = [answer(*args, **kwargs) for _ in range(call.repeat)]
            else:
                result = answer(*args, **kwargs)
        target = None
    elif call.kind == "module":
        import torch

        seed_torch(call.seed)
        with guard():
            target = answer(**call.init)
        target = target.to(getattr(torch, call.dtype))
        if call.state is not None:
            state = {k: torch.from_numpy(np.array(v)) for k, v in call.state.items()}
            target.load_state_dict(state, strict=True)
        target.train(call.train)
        seed_torch(call.seed)
        with guard():
            if call.post == "introspect":
                result = None
            elif call.post == "grad":
                result = getattr(target, call.method)(*args, **kwargs)
            else:
                with torch.no_grad():
                    result = getattr(target, call.method)(*args, **kwargs)
    else:
        raise ValueError(f"unknown call kind {call.kind!r}")
    if call.post:
        return to_plain(POSTPROCESS[call.post](result, target, args, kwargs))
    return to_plain(result)


def seed_torch(seed: int) -> None:
    """``torch.manual_seed`` for the CPU generator (what dropout in a check uses). The full call also
    queues a seed for CUDA, formatting a stack trace each time on a machine without it: a fifth of
    the trusted side's time per student, for nothing."""
    import torch

    torch.random.default_generator.manual_seed(seed)
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.manual_seed_all(seed)


# What torch reports while a call simulates hardware (None: the truth). See install_simulation().
_SIMULATED: dict = {"hardware": None, "installed": False}


def _probes(torch) -> list[tuple[object, str, Callable]]:
    """(namespace, name, fake) for every probe a pick_device may ask; each fake answers from the
    simulated hardware, or asks the original when nothing is simulated."""
    def now():
        return _SIMULATED["hardware"]

    def cuda():
        return bool(now().get("cuda"))

    def mps():
        return bool(now().get("mps"))

    def accelerator():
        return torch.device("cuda") if cuda() else torch.device("mps") if mps() else None

    probes = [
        (torch.cuda, "is_available", lambda original: lambda: cuda()),
        (torch.cuda, "device_count", lambda original: lambda: int(cuda())),
        (torch.cuda, "current_device", lambda original: lambda: 0 if cuda() else original()),
        (torch.cuda, "get_device_name", lambda original: lambda *a, **k: "NVIDIA H100 80GB HBM3" if cuda() else original(*a, **k)),
    ]
    if getattr(torch.backends, "mps", None) is not None:
        probes += [(torch.backends.mps, "is_available", lambda original: lambda: mps()),
                   (torch.backends.mps, "is_built", lambda original: lambda: bool(now().get("mps_built", mps())))]
    if getattr(torch, "accelerator", None) is not None:
        probes += [(torch.accelerator, "is_available", lambda original: lambda: accelerator() is not None),
                   (torch.accelerator, "current_accelerator", lambda original: lambda *a, **k: accelerator()),
                   (torch.accelerator, "device_count", lambda original: lambda: int(accelerator() is not None))]
    return [(space, name, make) for space, name, make in probes if hasattr(space, name)]


def install_simulation() -> None:
    """Replace torch's hardware probes, for the rest of this process, by functions that answer from
    :func:`simulated_hardware` when it is active and ask the real probe otherwise. Installed before
    the answer is defined (the grading worker does), the probes an answer holds are the same objects
    in every call, simulated or not: there is no swap to notice."""
    import torch

    if _SIMULATED["installed"]:
        return
    for space, name, make in _probes(torch):
        original = getattr(space, name)
        fake = make(original)

        def probe(*args, _fake=fake, _original=original, **kwargs):
            return (_fake if _SIMULATED["hardware"] is not None else _original)(*args, **kwargs)

        for attribute in ("__name__", "__qualname__", "__module__", "__doc__"):
            setattr(probe, attribute, getattr(original, attribute, None))
        setattr(space, name, probe)
    _SIMULATED["installed"] = True


@contextlib.contextmanager
def simulated_hardware(hardware: dict | None):
    """While the answer runs, torch reports the given accelerators: ``{"cuda": bool, "mps": bool,
    "mps_built": bool}`` (MPS built into PyTorch but not usable: an old macOS). A no-op for ``None``.
    Installs :func:`install_simulation` first where the worker has not."""
    if hardware is None:
        yield
        return
    install_simulation()
    _SIMULATED["hardware"] = dict(hardware)
    try:
        yield
    finally:
        _SIMULATED["hardware"] = None


def _post_grad(result, module, args, kwargs):
    """Backpropagate sum(out * fixed weights) and return (out, grads of every float input)."""
    import torch

    out = result[0] if isinstance(result, (tuple, list)) else result
    weights = torch.linspace(-1, 1, out.numel(), dtype=out.dtype).reshape(out.shape)
    (out * weights).sum().backward()
    grads = [a.grad for a in args if isinstance(a, torch.Tensor) and a.is_floating_point()]
    if module is not None:
        grads += [p.grad for _, p in sorted(module.named_parameters())]
    return [out] + [g if g is not None else torch.zeros(()) for g in grads]


def _post_introspect(result, module, args, kwargs):
    """Names and shapes of parameters and buffers (is `pe` a buffer? are biases there?)."""
    params = {name: list(p.shape) for name, p in module.named_parameters()}
    buffers = {name: list(b.shape) for name, b in module.named_buffers()}
    return {"parameters": params, "buffers": buffers}


def _post_train_step(result, module, args, kwargs):
    """After a student's train_step: the returned loss and the model's new parameters."""
    model = args[0]
    return {"loss": result, "params": {name: p.detach() for name, p in sorted(model.named_parameters())}}


def _post_evaluate(result, module, args, kwargs):
    """After a student's evaluate: the accuracy and the mode of the model and of every submodule."""
    model = args[0]
    return {"accuracy": result, "training_after": [m.training for m in model.modules()]}


def _post_device(result, module, args, kwargs):
    """After a student's pick_device: the answer and what *this* process can see, so the
    verdict does not depend on the grading machine having the same hardware."""
    import torch

    mps = getattr(torch.backends, "mps", None)
    return {"device": result, "cuda": torch.cuda.is_available(), "mps": bool(mps is not None and mps.is_available())}


POSTPROCESS: dict[str, Callable] = {
    "grad": _post_grad,
    "introspect": _post_introspect,
    "train_step": _post_train_step,
    "evaluate": _post_evaluate,
    "device": _post_device,
}


@dataclass(frozen=True)
class DeviceValue:
    """A ``torch.device`` as plain data ("cuda", "cuda:0", "cpu"). Its own type on the wire, so that
    a dict returned by an answer can never pass for one."""

    name: str

    @property
    def type(self) -> str:
        return self.name.split(":", 1)[0]

    def __str__(self) -> str:
        return f"torch.device({self.name!r})"


def processes(calls: list[Call]) -> list[list[int]]:
    """The calls' indices grouped by :attr:`Call.process`, in order of first appearance."""
    groups: dict[int, list[int]] = {}
    for index, call in enumerate(calls):
        groups.setdefault(call.process, []).append(index)
    return list(groups.values())


def to_plain(value: Any) -> Any:
    """Turn a returned value into plain data: numpy arrays (exact ``np.ndarray``, never a
    subclass), Python scalars, strings, lists and dicts. Anything else is an error the
    student must see ("returned a <type>")."""
    if value is None or isinstance(value, (bool, str, DeviceValue)):
        return value
    if isinstance(value, (int, float)) and type(value) in (int, float, bool):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return np.array(value, subok=False, copy=True)
    mod = type(value).__module__ or ""
    if mod.startswith("torch"):
        import torch

        if isinstance(value, torch.Tensor):
            tensor = value.detach().cpu()
            if tensor.dtype == torch.bfloat16 or tensor.dtype == torch.float16:
                tensor = tensor.float()
            return np.array(tensor.numpy(), subok=False, copy=True)
        if isinstance(value, torch.device):
            return DeviceValue(str(value))
    if type(value) in (list, tuple):
        return [to_plain(v) for v in value]
    if type(value) is dict:
        return {str(k): to_plain(v) for k, v in value.items()}
    raise TypeError(f"returned a {type(value).__module__}.{type(value).__qualname__}, which is not an array, number or tuple")


# ---------------------------------------------------------------------------------------
# Trusted side: compare plain outputs.
# ---------------------------------------------------------------------------------------


@dataclass
class Comparison:
    ok: bool
    message: str = ""
    metrics: dict = field(default_factory=dict)


# Tolerance for float outputs, as (rtol, atol): a value passes when
# |actual - expected| <= atol + rtol * |expected|, element by element.
#
# One tolerance for every float output, whatever its dtype: a correct answer may compute in
# float32 inside (x.float() ... .to(x.dtype), float32 weight copies, a float32 constant) and
# return float64, so an output's dtype promises nothing about its precision. The numbers come
# from what separates correct answers from the bug zoo (tools/tolerance_margins.py prints it,
# tests/test_grader_margins.py keeps it true); over five secrets:
# - correct answers in float32 use at most 0.19 of it: a 3-layer TransformerEncoder computed in
#   float32 (errors up to 2.2e-6 on outputs near 0.02); attention, LayerNorm, positional encodings
#   and the rest stay under 0.1. atol 1e-6 would put that encoder at 0.89; the old float64 rule,
#   rtol 1e-7 / atol 1e-9, failed float32-inside answers at 7e-8;
# - the closest bug, FeedForward with the tanh GELU (2e-4 to 7e-4 off), uses 36x it or more;
#   every other bug about 1e4x or more, or is rejected outright (exception, shape, NaN, property).
# Where float32 itself cannot represent the inputs, the inputs are made exact rather than the
# tolerance looser: softmax's scores near 800 sit on a 2**-10 grid (nb03). A check may still set
# its own (``Check.tolerance``). Integers, booleans and strings compare exactly.
FLOAT_TOLERANCE = (1e-5, 1e-5)


def tolerance_for(expected: np.ndarray) -> tuple[float, float]:
    """(rtol, atol) for comparing with ``expected``: exact for integers, else :data:`FLOAT_TOLERANCE`."""
    return FLOAT_TOLERANCE if np.issubdtype(expected.dtype, np.floating) else (0.0, 0.0)


def _tolerance_used(diff: np.ndarray, allowed: np.ndarray) -> float | None:
    """max |a - e| / (atol + rtol * |e|): below 1 passes; how close to the line the worst element
    is. None for exact comparisons and infinite errors (there is no margin to speak of)."""
    if diff.size == 0:
        return 0.0
    if not (allowed > 0).all():
        return None
    used = float(np.max(diff / allowed))
    return used if math.isfinite(used) else None


def compare(actual: Any, expected: Any, path: str = "output",
            tolerance: tuple[float, float] | None = None) -> Comparison:
    """Compare plain outputs; say where and by how much they differ.

    ``tolerance`` (rtol, atol) replaces :func:`tolerance_for` for floats (a check's own).
    Metrics: max_abs_error, max_rel_error and tolerance_used (see :func:`_tolerance_used`).
    """
    if isinstance(expected, np.ndarray):
        if not isinstance(actual, np.ndarray):
            if isinstance(actual, (int, float)) and expected.ndim == 0:
                actual = np.array(actual)
            else:
                return Comparison(False, f"{path}: expected an array of shape {expected.shape}, got {_describe(actual)}")
        if actual.shape != expected.shape:
            return Comparison(
                False,
                f"{path}: expected shape {expected.shape}, got {actual.shape}",
                {"expected_shape": list(expected.shape), "shape": list(actual.shape)},
            )
        if expected.dtype == bool or actual.dtype == bool:
            if actual.dtype != bool and expected.dtype == bool:
                return Comparison(False, f"{path}: expected a boolean array, got dtype {actual.dtype}")
            wrong = actual != expected
            if wrong.any():
                index = tuple(int(i) for i in np.argwhere(wrong)[0])
                return Comparison(False, f"{path}: {int(wrong.sum())} of {wrong.size} entries differ, first at {index}: "
                                         f"got {bool(actual[index])}, expected {bool(expected[index])}",
                                  {"mismatches": int(wrong.sum()), "first_mismatch": list(index)})
            return Comparison(True)
        if not (np.issubdtype(actual.dtype, np.number)):
            return Comparison(False, f"{path}: expected numbers, got dtype {actual.dtype}")
        a = actual.astype(np.float64)
        e = expected.astype(np.float64)
        exact = not np.issubdtype(expected.dtype, np.floating)
        rtol, atol = tolerance_for(expected) if exact or tolerance is None else tolerance
        nan_a, nan_e = np.isnan(a), np.isnan(e)
        if (nan_a != nan_e).any():
            index = tuple(int(i) for i in np.argwhere(nan_a != nan_e)[0])
            what = "NaN" if nan_a[index] else f"{a[index]:.6g}"
            return Comparison(False, f"{path}: got {what} at {index} where {e[index]:.6g} was expected",
                              {"nan_count": int(nan_a.sum()), "first_mismatch": list(index)})
        with np.errstate(invalid="ignore"):
            # equal values (matching infinities, NaN where NaN was expected) differ by 0; one
            # infinity against a finite value differs by inf
            diff = np.where((nan_a & nan_e) | (a == e), 0.0, np.abs(a - e))
        allowed = atol + rtol * np.abs(np.where(np.isfinite(e), e, 0.0))
        bad = diff > allowed
        with np.errstate(invalid="ignore", divide="ignore"):
            finite = np.where(np.isfinite(diff), diff, 0.0) if diff.size else diff
            max_abs = float(np.max(diff)) if diff.size else 0.0
            max_rel = float(np.max(finite / np.maximum(np.abs(e), 1e-12))) if diff.size else 0.0
        metrics = {"max_abs_error": max_abs, "max_rel_error": max_rel}
        used = None if exact else _tolerance_used(diff, allowed)
        if used is not None:
            metrics["tolerance_used"] = used
        if bad.any():
            index = tuple(int(i) for i in np.argwhere(bad)[0])
            metrics["first_mismatch"] = list(index)
            metrics["mismatches"] = int(bad.sum())
            return Comparison(False, f"{path}: {int(bad.sum())} of {bad.size} values differ "
                                     f"(max abs error {max_abs:.3g}), first at index {index}: "
                                     f"got {a[index]:.6g}, expected {e[index]:.6g}", metrics)
        return Comparison(True, metrics=metrics)
    if isinstance(expected, DeviceValue):
        ok = isinstance(actual, DeviceValue) and actual.type == expected.type
        return Comparison(ok, "" if ok else f"{path}: expected {expected}, got {_describe(actual)}")
    if isinstance(expected, bool) or expected is None or isinstance(expected, str):
        ok = type(actual) is type(expected) and actual == expected
        return Comparison(ok, "" if ok else f"{path}: expected {expected!r}, got {_describe(actual)}")
    if isinstance(expected, (int, float)):
        if isinstance(actual, np.ndarray) and actual.size == 1:
            actual = actual.item()
        if type(actual) not in (int, float) or isinstance(actual, bool):
            return Comparison(False, f"{path}: expected a number, got {_describe(actual)}")
        if isinstance(expected, int) and isinstance(actual, int):
            ok = actual == expected
            return Comparison(ok, "" if ok else f"{path}: expected {expected}, got {actual}")
        rtol, atol = tolerance or FLOAT_TOLERANCE
        if math.isnan(actual) and math.isnan(expected):  # as for arrays: NaN where NaN is expected agrees
            return Comparison(True, metrics={"max_abs_error": 0.0})
        if math.isinf(expected) and actual == expected:
            return Comparison(True, metrics={"max_abs_error": 0.0})
        diff = abs(actual - expected) if math.isfinite(actual) else math.inf
        allowed = atol + rtol * abs(expected)
        metrics = {"max_abs_error": diff}
        if math.isfinite(diff) and allowed > 0:
            metrics["tolerance_used"] = diff / allowed
        ok = diff <= allowed
        return Comparison(ok, "" if ok else f"{path}: expected {expected:.6g}, got {actual:.6g}", metrics)
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return Comparison(False, f"{path}: expected {len(expected)} values, got {_describe(actual)}")
        return _compare_items([(f"{path}[{i}]", a, e) for i, (a, e) in enumerate(zip(actual, expected))], tolerance)
    if isinstance(expected, dict):
        if not isinstance(actual, dict) or set(actual) != set(expected):
            return Comparison(False, f"{path}: expected keys {sorted(expected)}, got {_describe(actual)}")
        return _compare_items([(f"{path}[{key!r}]", actual[key], expected[key]) for key in expected], tolerance)
    raise TypeError(f"cannot compare expected value of type {type(expected)}")


def _compare_items(items: list, tolerance: tuple[float, float] | None) -> Comparison:
    """Compare every item; report the first failure, with tolerance_used the largest over all
    items (how far the whole output is from passing, not just its first wrong part)."""
    metrics: dict = {}
    failure = None
    for path, a, e in items:
        result = compare(a, e, path, tolerance)
        if not result.ok and failure is None:
            failure = result
        metrics = _merge_metrics(metrics, result.metrics)
    if failure is None:
        return Comparison(True, metrics=metrics)
    if "tolerance_used" in metrics:
        failure.metrics = {**failure.metrics, "tolerance_used": metrics["tolerance_used"]}
    return failure


def _merge_metrics(a: dict, b: dict) -> dict:
    merged = dict(a)
    for key in ("max_abs_error", "max_rel_error", "tolerance_used"):
        if key in b:
            merged[key] = max(merged.get(key, 0.0), b[key])
    return merged


def _describe(value: Any) -> str:
    if isinstance(value, DeviceValue):
        return str(value)
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} (dtype {value.dtype})"
    if isinstance(value, list):
        return f"a sequence of {len(value)} values"
    if isinstance(value, dict):
        return f"a dict with keys {sorted(value)}"
    return f"{type(value).__name__} {value!r}"[:120]


# ---------------------------------------------------------------------------------------
# Checks, exercises and results.
# ---------------------------------------------------------------------------------------


@dataclass
class Check:
    """One graded check of one exercise.

    ``calls(rng)`` builds the inputs on the trusted side (``rng`` is seeded from the
    instructor's secret for hidden checks and fixed for public ones). The verdict is
    either a comparison with ``oracle`` (public checks: built from PyTorch's own
    functions or hand-computed values, so that they need no hidden reference), with the
    reference from ``solutions/`` (hidden checks, ``oracle=None``), or ``judge(outputs, calls)``
    for properties that need no reference at all.
    """

    name: str
    description: str
    calls: Callable[[np.random.Generator], list[Call]]
    points: float = 1.0
    hidden: bool = False
    oracle: Callable | None = None
    judge: Callable[[list, list[Call]], Comparison] | None = None
    hint: str = ""  # shown when the check fails and no known mistake matches
    tolerance: tuple[float, float] | None = None  # (rtol, atol) for floats; None: by the reference's dtype
    raises: str | tuple[str, ...] | None = None  # every call must raise this exception, or one of these

    @property
    def accepted_errors(self) -> tuple[str, ...]:
        """The exception names a ``raises`` check accepts (empty for other checks)."""
        if self.raises is None:
            return ()
        return (self.raises,) if isinstance(self.raises, str) else tuple(self.raises)

    @property
    def uses_reference(self) -> bool:
        return self.judge is None and self.oracle is None and self.raises is None


@dataclass
class Exercise:
    name: str
    notebook: str
    kind: str  # "function" | "module"
    signature: tuple[str, ...]  # parameter names, in order (without self)
    checks: list[Check]
    where: str = ""  # where to look in the notebook, for messages
    forbidden: tuple[str, ...] = ()  # keys of grader.isolation.forbidden.FAMILIES: built-ins that would solve the exercise
    time_limit: float = 20.0

    @property
    def forbidden_names(self) -> tuple[str, ...]:
        """The Python names of the forbidden families (what the static check looks for)."""
        from .isolation.forbidden import family_names

        return family_names(self.forbidden)

    @property
    def public_checks(self) -> list[Check]:
        return [c for c in self.checks if not c.hidden]

    @property
    def hidden_checks(self) -> list[Check]:
        return [c for c in self.checks if c.hidden]


def check_seed(secret: str, exercise: str, check: str) -> int:
    """The hidden checks' seed: reproducible for one secret, unpredictable without it."""
    digest = hashlib.sha256(f"{secret}\0{exercise}\0{check}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


PUBLIC_SEED = 20171206  # public checks are fixed: a student sees the same inputs every run


def build_calls(check: Check, exercise: str, secret: str | None) -> list[Call]:
    seed = check_seed(secret or "", exercise, check.name) if check.hidden else PUBLIC_SEED
    return check.calls(np.random.default_rng(seed))


@dataclass
class CheckResult:
    exercise: str
    name: str
    description: str
    points: float
    earned: float
    hidden: bool
    status: str  # passed | failed | error | timeout | crashed | not_attempted | missing
    message: str = ""
    diagnosis: str = ""  # the named known mistake, when the output matches one
    metrics: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def to_json(self) -> dict:
        return dict(self.__dict__)


@dataclass
class ExerciseResult:
    exercise: str
    notebook: str
    status: str  # graded | not_attempted | missing | error | timeout | crashed | forbidden
    checks: list[CheckResult] = field(default_factory=list)
    message: str = ""
    notes: list[str] = field(default_factory=list)  # warnings and stderr: reported, never penalised
    scoring: str = DEFAULT_SCORING  # how the checks become points (grader.config.SCORING)

    @property
    def points(self) -> float:
        return sum(c.points for c in self.checks)

    @property
    def complete(self) -> bool:
        """Every check passed."""
        return bool(self.checks) and all(c.passed for c in self.checks)

    @property
    def per_check(self) -> float:
        return sum(c.earned for c in self.checks)

    @property
    def all_or_nothing(self) -> float:
        return self.points if self.complete else 0.0

    @property
    def earned(self) -> float:
        """The exercise's points under its scoring policy: the one number every route reports."""
        return self.all_or_nothing if self.scoring == "all-or-nothing" else self.per_check

    def counted(self, check: CheckResult) -> float:
        """What ``check`` adds to :attr:`earned` (all or nothing: its points only when every check passed)."""
        return check.earned if self.scoring != "all-or-nothing" or self.complete else 0.0

    def to_json(self) -> dict:
        return {
            "exercise": self.exercise,
            "notebook": self.notebook,
            "status": self.status,
            "message": self.message,
            "notes": self.notes,
            "scoring": self.scoring,
            "points": self.points,
            "earned": self.earned,
            "per_check": self.per_check,
            "all_or_nothing": self.all_or_nothing,
            "checks": [{**c.to_json(), "counted": self.counted(c)} for c in self.checks],
        }
