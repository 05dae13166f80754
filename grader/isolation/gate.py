"""The static gate: an answer's syntax tree, read on the trusted side before anything of it runs.

It refuses what no honest answer in this course needs and every escape hatch needs: introspection
of the running interpreter (``gc``, ``inspect``, frames, ``sys.modules``, the dunder attributes
that lead from a function to its closure, globals or code, or from a class to all classes), native
code (``ctypes``), new processes (``subprocess``, ``os.fork``, ``os.exec*``...), dynamic code
(``eval``, ``exec``, ``compile``, ``__import__``, ``importlib``), unpickling, and PyTorch's private
and lower layers (``torch._C``, ``torch.ops``, ``torch._refs``, ``torch.jit``, ``torch.compile``,
dispatch modes, ``torch.library``...). A refused answer is not run: its exercise gets 0, the
student reads what was refused and where, and every export marks it *flagged for review* (a
person may look: the gate can be wrong about an honest answer, though none in the course's
references, correct variants, bug zoo or notebooks trips it: tests/test_grader_gate.py).

The list comes from evidence, in both directions: what the red team used (tests/test_grader_redteam.py)
and what honest answers use (the same tests run the gate over every one of them). It is the first
of three layers; an answer that gets past it meets :mod:`grader.isolation.guard` (an audit hook and
a seccomp filter in the answer's process) and then :mod:`grader.isolation.tripwire`.
"""
from __future__ import annotations

import ast
import functools
import textwrap
from dataclasses import dataclass

# Modules no answer imports (a dotted name is refused with everything below it).
REFUSED_MODULES = frozenset({
    "gc", "inspect", "ctypes", "_ctypes", "cffi", "subprocess", "multiprocessing", "concurrent", "threading",
    "_thread", "importlib", "imp", "pkgutil", "runpy", "zipimport", "code", "codeop", "types", "marshal", "pickle",
    "_pickle", "dill", "cloudpickle", "shelve", "copyreg", "pty", "signal", "resource", "socket", "ssl", "http",
    "urllib", "requests", "mmap", "builtins", "__builtin__", "traceback", "linecache", "dis", "site", "sysconfig",
    "atexit", "faulthandler", "tracemalloc", "sys.monitoring", "posix", "nt", "_posixsubprocess",
    "grader", "solutions", "IPython", "ipykernel", "nbformat", "nbgrader", "unittest", "doctest",
    "pytest", "torch.jit", "torch.ops", "torch.library", "torch.overrides", "torch.fx", "torch.hub",
    "torch.package", "torch.export", "torch.compiler", "torch.multiprocessing", "torch.distributed",
    "torch.func", "torch.utils.cpp_extension", "numpy.ctypeslib", "numpy.f2py", "numpy.distutils",
})
# Attributes of a module no answer reads ("torch.compile"; a private "_..." one is refused anyway).
REFUSED_MODULE_ATTRIBUTES = {
    "torch": {"ops", "jit", "compile", "library", "overrides", "fx", "hub", "package", "export", "compiler",
              "multiprocessing", "distributed", "func", "load", "classes"},
    "numpy": {"load", "ctypeslib", "f2py"},
    "operator": {"attrgetter", "methodcaller"},
    "np": {"load", "ctypeslib", "f2py"},
    "sys": {"modules", "settrace", "setprofile", "gettrace", "getprofile", "meta_path", "path_hooks",
            "path_importer_cache", "path", "addaudithook", "audit", "exc_info", "exception", "last_traceback",
            "last_value", "last_type", "excepthook", "displayhook", "breakpointhook", "unraisablehook",
            "setrecursionlimit", "getrefcount", "monitoring", "setswitchinterval", "builtin_module_names",
            "stdlib_module_names", "call_tracing", "activate_stack_trampoline"},
    "os": {"system", "popen", "fork", "forkpty", "execv", "execve", "execl", "execle", "execlp", "execlpe", "execvp",
           "execvpe", "spawnv", "spawnve", "spawnl", "spawnle", "spawnlp", "spawnlpe", "spawnvp", "spawnvpe",
           "posix_spawn", "posix_spawnp", "kill", "killpg", "setsid", "setpgid", "setpgrp", "dup", "dup2",
           "close", "closerange", "open", "write", "read", "pipe", "pipe2", "fdopen", "ptrace", "unshare",
           "register_at_fork", "memfd_create", "fchdir", "chroot", "setuid", "setgid", "setresuid", "setresgid",
           "pidfd_open", "eventfd", "add_dll_directory", "putenv", "unsetenv", "environ", "environb", "getenv"},
}
# Any object: attributes that lead from what an answer holds to the interpreter's machinery.
REFUSED_ATTRIBUTES = frozenset({
    "f_back", "f_globals", "f_locals", "f_builtins", "f_code", "f_trace", "f_lasti", "tb_frame", "tb_next",
    "gi_frame", "gi_code", "cr_frame", "cr_code", "ag_frame", "ag_code", "co_code", "co_consts", "co_names",
    "cell_contents", "decompose", "ops",
})
# Dunder attributes an honest answer may read (every other ``__x__`` is refused).
ALLOWED_DUNDERS = frozenset({"__init__", "__version__", "__name__", "__qualname__", "__doc__", "__class__", "__len__",
                             "__call__", "__getitem__", "__setitem__", "__iter__", "__next__", "__repr__",
                             "__str__", "__enter__", "__exit__", "__contains__", "__add__", "__mul__",
                             "__matmul__", "__neg__", "__truediv__"})
# Builtins that run code from strings, reach namespaces or the import system, or read files.
REFUSED_BUILTINS = frozenset({"eval", "exec", "compile", "__import__", "globals", "locals", "vars",
                              "breakpoint", "open", "input", "help", "__build_class__",
                              "__loader__", "__spec__", "__builtins__", "exit", "quit"})
ATTRIBUTE_FUNCTIONS = frozenset({"getattr", "setattr", "delattr", "hasattr"})


@dataclass(frozen=True)
class Refusal:
    line: int
    what: str  # "import gc", "sys.modules", "a computed attribute name"
    why: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.what} ({self.why})"


def refusals(source: str, modules: tuple[str, ...] = ()) -> list[Refusal]:
    """What the gate refuses in ``source`` (an answer cell, or a ``.py`` answer), in line order.

    ``modules``: names the answer may use as modules without importing them (the notebook's
    imports cell binds ``np``, ``torch``, ``F``, ``nn``, ``math``...)."""
    return list(_refusals(source, tuple(modules)))


@functools.lru_cache(maxsize=4096)
def _refusals(source: str, modules: tuple[str, ...]) -> tuple[Refusal, ...]:
    """Memoised: one answer is read for every exercise that calls it, and a class shares its answers."""
    try:
        tree = ast.parse(textwrap.dedent(source))
    except SyntaxError:
        return ()  # the sandbox reports the syntax error, with its line
    return tuple(_Gate(set(modules) | {"np", "numpy", "torch", "F", "nn", "math", "os", "sys"}).run(tree))


def describe(found: list[Refusal]) -> str:
    """One student-facing sentence: what was refused, and what to do."""
    items = "; ".join(str(r) for r in found[:5]) + (f"; and {len(found) - 5} more" if len(found) > 5 else "")
    return (f"this answer was not run: it uses what no answer in this course needs ({items}). Remove it and "
            "write the computation with numpy or PyTorch's public functions. It is flagged for your "
            "instructor to review.")


def _dotted(node: ast.AST) -> list[str]:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return [node.id, *reversed(parts)]
    return []


def _module_refused(name: str) -> bool:
    parts = name.split(".")
    if any(p.startswith("_") and not (p.startswith("__") and p.endswith("__")) for p in parts[1:]):
        return True  # torch._C, numpy._core: private machinery
    return any(".".join(parts[:i]) in REFUSED_MODULES for i in range(1, len(parts) + 1))


class _Gate(ast.NodeVisitor):
    def __init__(self, modules: set[str]):
        self.modules = {m: m for m in modules}  # local name -> the module it is (an alias's real name)
        self.modules.update(np="numpy", F="torch.nn.functional", nn="torch.nn")
        self.found: list[Refusal] = []

    def run(self, tree: ast.AST) -> list[Refusal]:
        for node in ast.walk(tree):  # the imports first: `import torch as t` makes `t` a module
            if isinstance(node, ast.Import):
                for alias in node.names:
                    self.modules[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else alias.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    self.modules.setdefault(alias.asname or alias.name, f"{node.module}.{alias.name}")
        for node in ast.walk(tree):  # `t = torch`, `f = torch.nn.functional`: t and f are modules too
            if isinstance(node, (ast.Assign, ast.AnnAssign, ast.NamedExpr)) and node.value is not None:
                module = self._receiver_module(node.value)
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets if module is not None else []:
                    if isinstance(target, ast.Name):
                        self.modules[target.id] = module
        self.visit(tree)
        unique = {(r.line, r.what): r for r in self.found}
        return sorted(unique.values(), key=lambda r: (r.line, r.what))

    def refuse(self, node: ast.AST, what: str, why: str) -> None:
        self.found.append(Refusal(getattr(node, "lineno", 0), what, why))

    # -- imports ----------------------------------------------------------------------------
    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if _module_refused(alias.name):
                self.refuse(node, f"import {alias.name}", "a module that reaches the interpreter's or PyTorch's machinery")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            self.refuse(node, "a relative import", "an answer cell is not part of a package")
            return
        for alias in node.names:
            full = f"{node.module}.{alias.name}"
            if _module_refused(node.module) or _module_refused(full) or self._attribute_refused(node.module, alias.name):
                self.refuse(node, f"from {node.module} import {alias.name}",
                            "a module or name that reaches the interpreter's or PyTorch's machinery")

    # -- names and attributes ---------------------------------------------------------------
    def visit_Name(self, node: ast.Name) -> None:
        if node.id in REFUSED_BUILTINS:
            self.refuse(node, node.id, "runs code from strings or reaches namespaces, imports or files")
        elif node.id.startswith("__") and node.id.endswith("__") and node.id not in ("__name__", "__class__"):
            self.refuse(node, node.id, "the interpreter's own names")
        elif node.id in ATTRIBUTE_FUNCTIONS and not isinstance(getattr(node, "_gate_parent", None), ast.Call):
            self.refuse(node, node.id, "getattr and its kin are allowed only called directly")

    def visit_Call(self, node: ast.Call) -> None:
        node.func._gate_parent = node  # type: ignore[attr-defined]
        if isinstance(node.func, ast.Name) and node.func.id in ATTRIBUTE_FUNCTIONS and len(node.args) >= 2:
            self._computed(node, node.args[0], node.args[1])
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        self._check_attribute(node, node.value, node.attr)
        self.generic_visit(node)

    @staticmethod
    def _own(receiver: ast.AST) -> bool:
        """``self._heads``, ``self.attn._cache``: an attribute chain that starts at ``self`` or ``cls``."""
        chain = _dotted(receiver)
        return bool(chain) and chain[0] in ("self", "cls")

    def _receiver_module(self, node: ast.AST) -> str | None:
        """The module an expression is (``torch.nn`` for ``nn`` or ``torch.nn``), or None."""
        chain = _dotted(node)
        if not chain or chain[0] not in self.modules:
            return None
        return ".".join([self.modules[chain[0]], *chain[1:]])

    def _attribute_refused(self, module: str, name: str) -> bool:
        root = module.split(".")[0]
        refused = REFUSED_MODULE_ATTRIBUTES.get(module, set()) | (
            REFUSED_MODULE_ATTRIBUTES.get(root, set()) if module == root else set())
        return name in refused or (name.startswith("_") and not _is_dunder(name))

    def _check_attribute(self, node: ast.AST, receiver: ast.AST, name: str) -> None:
        module = self._receiver_module(receiver)
        if _is_dunder(name):
            if name not in ALLOWED_DUNDERS:
                self.refuse(node, f".{name}", "a dunder attribute that leads to the interpreter's machinery")
        elif name in REFUSED_ATTRIBUTES:
            self.refuse(node, f".{name}", "frames, code or PyTorch's operator internals")
        elif name.startswith("_") and module is None and not self._own(receiver):
            self.refuse(node, f".{name}", "a private attribute of an object the answer did not make")
        elif module is not None and (self._attribute_refused(module, name) or _module_refused(f"{module}.{name}")):
            self.refuse(node, f"{module}.{name}", "a private or low-level part of a library, or a way around these rules")

    def _computed(self, call: ast.Call, receiver: ast.AST, name: ast.AST) -> None:
        module = self._receiver_module(receiver)
        if isinstance(name, ast.Constant) and isinstance(name.value, str):
            self._check_attribute(call, receiver, name.value)
            return
        # f"{n}_proj": a name that ends with a constant that no dunder ends with, read from an object
        # (not a module), cannot lead anywhere the rules above refuse
        tail = _constant_tail(name)
        if module is None and tail is not None and tail and not tail.endswith("_") and tail not in REFUSED_ATTRIBUTES:
            return
        self.refuse(call, f"{call.func.id}(..., <a computed name>)",
                    "an attribute name built at run time could be any of the refused ones")


def _is_dunder(name: str) -> bool:
    return name.startswith("__") and name.endswith("__") and len(name) > 4


def _constant_tail(node: ast.AST) -> str | None:
    """The constant text a string expression ends with (``f"{n}_proj"`` -> "_proj"), or None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr) and node.values:
        last = node.values[-1]
        return last.value if isinstance(last, ast.Constant) and isinstance(last.value, str) else None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _constant_tail(node.right)
    return None
