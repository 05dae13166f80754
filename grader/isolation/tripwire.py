"""Student side of the forbidden-built-ins rule: catch a forbidden computation by use, not spelling.

Runs in the sandboxed child that runs the student's answer (never in a process that judges).
Before the setup and answer cells run, :meth:`Tripwire.install` replaces every callable named in
the exercise's forbidden families (:mod:`grader.isolation.forbidden`) wherever PyTorch exposes it: ``torch``,
``torch.nn.functional``, ``torch.special``, ``torch._C._nn``, ``torch._C._VariableFunctions``,
``torch.Tensor`` methods, calls through ``torch.ops.aten`` and the ``__init__``/``forward`` of
``torch.nn`` classes. An alias the answer takes at definition time (``sdpa = getattr(F, "scaled_" + "dot...")``)
is then a recorder too. While a check calls the student's code (:meth:`Tripwire.watcher`), a call
of a recorder, or a forbidden kernel reaching PyTorch's dispatcher by any route
(``torch.ops.aten._softmax``, ``F.group_norm`` standing in for a layer norm...), is recorded and
raises. Each record is written at once to a file descriptor that the worker reads after the
child ends, so an answer that catches the exception, or clears the recorder's memory, is still
reported. Outside the watched calls the recorders behave like the originals.
"""
from __future__ import annotations

import contextlib
import os
import sys

from .forbidden import FAMILIES, aten_matches, family_names


class ForbiddenCall(RuntimeError):
    """Raised inside the student's call; the exercise is marked forbidden whatever happens next."""


class Tripwire:
    def __init__(self, families: tuple[str, ...], report_fd: int | None = None):
        self.families = tuple(families)
        self.names = family_names(self.families)
        self.aten = tuple(p for key in self.families for p in FAMILIES[key].aten)
        self.modules = any(FAMILIES[key].modules for key in self.families)
        self.report_fd = report_fd
        self.armed = False
        self.hits: list[str] = []

    # -- recording -------------------------------------------------------------------------
    def record(self, name: str) -> None:
        if name not in self.hits:
            self.hits.append(name)
            if self.report_fd is not None:
                try:
                    os.write(self.report_fd, (name[:200] + "\n").encode())
                except OSError:
                    pass
        raise ForbiddenCall(f"{name} may not be used in this exercise: write it yourself")

    def _wrap(self, original, shown: str):
        wire = self

        def recorder(*args, **kwargs):
            if wire.armed:
                wire.record(shown)  # raises
            return original(*args, **kwargs)

        recorder.__name__ = getattr(original, "__name__", shown.rsplit(".", 1)[-1])
        recorder.__qualname__ = recorder.__name__
        recorder.__doc__ = getattr(original, "__doc__", None)
        return recorder

    # -- installing -------------------------------------------------------------------------
    def install(self) -> None:
        """Replace the forbidden callables everywhere PyTorch exposes them (no-op without families)."""
        if not self.families:
            return
        import torch
        import torch.nn.functional as F

        namespaces = [("torch", torch), ("F", F), ("torch.special", getattr(torch, "special", None)),
                      ("torch.sparse", getattr(torch, "sparse", None)), ("torch._C._nn", torch._C._nn),
                      ("torch._C._VariableFunctions", torch._C._VariableFunctions), ("torch.Tensor", torch.Tensor)]
        for label, space in namespaces:
            for name in self.names:
                original = getattr(space, name, None) if space is not None else None
                if callable(original) and not isinstance(original, type):
                    try:
                        setattr(space, name, self._wrap(original, f"{label}.{name}"))
                    except (AttributeError, TypeError):
                        pass
        for name in self.names:  # classes: nn.LayerNorm(...) or a subclass of it, built or called
            cls = getattr(torch.nn, name, None)
            if isinstance(cls, type) and issubclass(cls, torch.nn.Module):
                for method in ("__init__", "forward"):
                    if method in cls.__dict__:
                        setattr(cls, method, self._wrap(cls.__dict__[method], f"nn.{name}"))
        # torch.ops.aten.<op>(...) and .<overload>(...): the call methods of the op classes, checked by
        # name (replacing the ops themselves breaks PyTorch's own registries, which key on them).
        for cls in (torch._ops.OpOverloadPacket, torch._ops.OpOverload):
            cls.__call__ = self._op_call(cls.__call__)
        if self.modules:
            torch.nn.Module.__init__ = self._wrap(torch.nn.Module.__init__, "building an nn.Module")
        for module_name in ("torch.nn.modules.activation", "torch.nn.modules.normalization", "torch._refs",
                            "torch._refs.nn.functional", "torch._refs.special", "torch._decomp.decompositions"):
            module = sys.modules.get(module_name)  # their own aliases, and PyTorch's Python versions (_refs, _decomp)
            for name in self.names:
                original = getattr(module, name, None) if module is not None else None
                if callable(original) and not isinstance(original, type):
                    setattr(module, name, self._wrap(original, f"{module_name}.{name}"))

    # -- watching ---------------------------------------------------------------------------
    def watcher(self):
        """The context manager to put around each call into the student's code: recorders fire, and
        two watches see what no recorder holds: every call of PyTorch's Python API by any route
        (``_VariableFunctionsClass`` statics, ``torch._C._nn``, ``OpOverload._op``, ``.decompose()``:
        :func:`_api_watch`), and every kernel that reaches the dispatcher (:func:`_kernel_watch`).

        Everything the watches need is captured here, once (the names, the kernels, how to report):
        an answer that changes this object later (``armed``, ``names``, ``record``) silences the
        recorders at most, never the watches. Keep what this returns where the answer cannot reach it
        (the worker holds it in a local variable)."""
        if not self.families:
            return contextlib.nullcontext
        names, aten = frozenset(self.names), tuple(self.aten)
        report_fd, write, hits = self.report_fd, os.write, []

        def report(name: str):
            if name not in hits:
                hits.append(name)
                if report_fd is not None:
                    try:
                        write(report_fd, (name[:200] + "\n").encode())
                    except OSError:
                        pass
            raise ForbiddenCall(f"{name} may not be used in this exercise: write it yourself")

        api = _api_watch(names, aten, report)
        kernels = _kernel_watch(aten, report) if aten else None
        wire = self

        @contextlib.contextmanager
        def watching():
            wire.armed = True
            try:
                with api, (kernels if kernels is not None else contextlib.nullcontext()):
                    yield
            finally:
                wire.armed = False

        return watching


    def _op_call(self, original):
        wire = self
        watched = set(self.names)

        def call(op, /, *args, **kwargs):
            if wire.armed:
                name = getattr(op, "_qualified_op_name", None) or op._schema.name  # "aten::_softmax"
                short = name.split("::", 1)[-1]
                if short in watched or aten_matches(short, wire.aten):
                    wire.record(f"torch.ops.{name.replace('::', '.')}")
            return original(op, *args, **kwargs)

        return call


def _api_watch(names: frozenset, aten: tuple, report):
    """A torch function mode: every function of PyTorch's Python API the student's code calls, by
    whatever route it was reached, is seen here by its name before it runs (only while it is on
    the mode stack: inside a check's call)."""
    from torch.overrides import TorchFunctionMode

    # bound now, with the builtins it uses: rebinding the module's names or builtins later changes nothing
    matches, attribute, size = aten_matches, getattr, len
    verdicts: dict = {}  # per function: forbidden or not (thousands of calls, a few dozen functions)

    class ApiWatch(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            forbidden = verdicts.get(func)
            if forbidden is None:
                if size(verdicts) > 50_000:  # bound methods made afresh per call would only grow it
                    verdicts.clear()
                name = attribute(func, "__name__", "") or ""
                short = name.split(".", 1)[0]  # "_softmax.default" -> "_softmax"
                forbidden = verdicts.setdefault(func, f"torch.{name}" if short in names or matches(short, aten) else "")
            if forbidden:
                report(forbidden)  # raises
            return func(*args, **(kwargs or {}))

    return ApiWatch()


def _kernel_watch(aten: tuple, report):
    """A dispatch mode that sees every kernel the student's code reaches, whatever its Python route."""
    from torch.utils._python_dispatch import TorchDispatchMode

    matches = aten_matches
    verdicts: dict = {}

    class KernelWatch(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            forbidden = verdicts.get(func)
            if forbidden is None:
                op = func._schema.name.split("::", 1)[-1]  # "aten::_softmax" -> "_softmax"
                forbidden = verdicts.setdefault(func, f"the kernel aten.{op}" if matches(op, aten) else "")
            if forbidden:
                report(forbidden)  # raises
            return func(*args, **(kwargs or {}))

    return KernelWatch()
