"""Runtime guards of the answer's process that Python cannot remove: a seccomp filter and an audit hook.

Both are installed by the worker's child, after the instructor's setup cell and before the first
line of student code, and both last until the child ends:

- :func:`deny_syscalls` (seccomp, in the kernel): no SysV IPC or POSIX message queues (nothing an
  answer leaves behind for the next student's answer), no kernel keyring (shared by every process
  of the uid, on the whole machine, beyond the run), no ptrace or reading another process's
  memory, no new namespaces, mounts, BPF, perf or io_uring. Such a call fails with EPERM.
- :func:`install_audit_hook` (``sys.addaudithook``: a hook cannot be removed once added): no new
  process (``os.fork``, ``os.system``, ``subprocess``, ``os.exec*``, ``posix_spawn``), no native
  code (every ``ctypes`` event), no walk of the object graph (``gc.get_objects``,
  ``get_referrers``, ``get_referents``), no frame (``sys._getframe``, a traceback's, a generator's
  or a coroutine's frame, ``sys._current_frames``), no code object (``__code__``, which would
  rebuild the grader's own functions), no code compiled from a string, no tracing or profiling
  hooks, no second audit hook, no unpickling, no signal to another process. Such an event ends the process at once with :data:`EXIT_REFUSED`, after writing
  ``guard:<event>`` to the worker's report pipe: the exercise is flagged, however the answer
  catches exceptions. Nor may it rewrite the grader's own functions (``f.__code__ = ...``).

Some events are refused only when the answer's own code raises them (reading a code object or a
frame, compiling code, asking for the current frame): PyTorch, numpy and the standard library use
them for their own ends on honest paths (``inspect.signature`` reads ``__code__``,
``torch.manual_seed`` formats a stack, ``dataclasses`` compiles code). The answer's code is what
the worker compiled as ``<answer cell ...>``.
"""
from __future__ import annotations

import ctypes
import errno
import os
import platform
import struct
import sys

EXIT_REFUSED = 86  # the child's exit status when the audit hook stopped it
PREFIX = "guard:"  # how the hook's reports start on the worker's pipe

# ------------------------------------------------------------------------------ seccomp

# Syscalls an answer is denied, by architecture (Linux's unistd tables).
DENIED = {
    "x86_64": {
        "shmget": 29, "shmat": 30, "shmctl": 31, "shmdt": 67, "semget": 64, "semop": 65, "semctl": 66,
        "semtimedop": 220, "msgget": 68, "msgsnd": 69, "msgrcv": 70, "msgctl": 71, "mq_open": 240,
        "mq_unlink": 241, "mq_timedsend": 242, "mq_timedreceive": 243, "mq_notify": 244, "mq_getsetattr": 245,
        "add_key": 248, "request_key": 249, "keyctl": 250, "ptrace": 101, "process_vm_readv": 310,
        "process_vm_writev": 311, "unshare": 272, "setns": 308, "mount": 165, "umount2": 166, "pivot_root": 155,
        "chroot": 161, "bpf": 321, "perf_event_open": 298, "userfaultfd": 323, "io_uring_setup": 425,
        "io_uring_enter": 426, "io_uring_register": 427, "kexec_load": 246, "kexec_file_load": 320,
        "init_module": 175, "finit_module": 313, "delete_module": 176, "fsopen": 430, "fsconfig": 431,
        "fsmount": 432, "move_mount": 429, "open_tree": 428, "mount_setattr": 442, "pidfd_getfd": 438,
        "process_madvise": 440, "kcmp": 312, "name_to_handle_at": 303, "open_by_handle_at": 304,
        "quotactl": 179, "swapon": 167, "swapoff": 168, "reboot": 169, "acct": 163, "syslog": 103,
    },
    "aarch64": {
        "shmget": 194, "shmctl": 195, "shmat": 196, "shmdt": 197, "semget": 190, "semctl": 191,
        "semtimedop": 192, "semop": 193, "msgget": 186, "msgctl": 187, "msgrcv": 188, "msgsnd": 189,
        "mq_open": 180, "mq_unlink": 181, "mq_timedsend": 182, "mq_timedreceive": 183, "mq_notify": 184,
        "mq_getsetattr": 185, "add_key": 217, "request_key": 218, "keyctl": 219, "ptrace": 117,
        "process_vm_readv": 270, "process_vm_writev": 271, "unshare": 97, "setns": 268, "mount": 40,
        "umount2": 39, "pivot_root": 41, "chroot": 51, "bpf": 280, "perf_event_open": 241, "userfaultfd": 282,
        "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427, "kexec_load": 104,
        "kexec_file_load": 294, "init_module": 105, "finit_module": 273, "delete_module": 106, "fsopen": 430,
        "fsconfig": 431, "fsmount": 432, "move_mount": 429, "open_tree": 428, "mount_setattr": 442,
        "pidfd_getfd": 438, "process_madvise": 440, "kcmp": 272, "name_to_handle_at": 264,
        "open_by_handle_at": 265, "quotactl": 60, "swapon": 224, "swapoff": 225, "reboot": 142, "acct": 89,
        "syslog": 116,
    },
}
CLONE = {"x86_64": 56, "aarch64": 220}
CLONE3 = 435  # the same number on both: glibc falls back to clone() when it is refused with ENOSYS
AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
NAMESPACE_FLAGS = 0x7E020000  # CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET
X32_SYSCALL_BIT = 0x40000000

_LD_W_ABS, _JEQ_K, _JGE_K, _JSET_K, _RET_K = 0x20, 0x15, 0x35, 0x45, 0x06
_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000
PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2


def _program(machine: str) -> list[tuple[int, int, int, int]]:
    """The BPF program: (code, jt, jf, k) tuples. Offsets: seccomp_data.nr at 0, .arch at 4, args at 16."""
    denied = sorted(set(DENIED[machine].values()))
    deny, enosys = ("deny",), ("enosys",)
    body: list = [
        (_LD_W_ABS, 0, 0, 4),
        (_JEQ_K, 1, 0, AUDIT_ARCH[machine]),
        deny,  # another ABI (32-bit syscalls through int 0x80 number everything differently)
        (_LD_W_ABS, 0, 0, 0),
    ]
    if machine == "x86_64":
        body += [(_JGE_K, "deny", 0, X32_SYSCALL_BIT)]
    body += [(_JEQ_K, "deny", 0, nr) for nr in denied]
    body += [(_JEQ_K, "enosys", 0, CLONE3),
             (_JEQ_K, 0, 2, CLONE[machine]),
             (_LD_W_ABS, 0, 0, 16),  # clone's flags (the low half of args[0])
             (_JSET_K, "deny", 0, NAMESPACE_FLAGS),
             (_RET_K, 0, 0, _RET_ALLOW)]
    labels = {"deny": len(body), "enosys": len(body) + 1}
    body += [deny, enosys]
    program = []
    for index, item in enumerate(body):
        if item == deny:
            program.append((_RET_K, 0, 0, _RET_ERRNO | errno.EPERM))
        elif item == enosys:
            program.append((_RET_K, 0, 0, _RET_ERRNO | errno.ENOSYS))
        else:
            code, jt, jf, k = item
            jt = labels[jt] - index - 1 if isinstance(jt, str) else jt
            jf = labels[jf] - index - 1 if isinstance(jf, str) else jf
            program.append((code, jt, jf, k))
    return program


def seccomp_supported() -> bool:
    return sys.platform == "linux" and platform.machine() in DENIED


def deny_syscalls() -> bool:
    """Install the seccomp filter in this process (and every process it starts). False where this
    architecture has no table here (the worker then reports that these walls are missing)."""
    machine = platform.machine()
    if not seccomp_supported():
        return False
    program = _program(machine)
    filters = b"".join(struct.pack("HBBI", *instruction) for instruction in program)
    buffer = ctypes.create_string_buffer(filters)
    fprog = struct.pack("HL", len(program), ctypes.addressof(buffer))  # struct sock_fprog
    libc = ctypes.CDLL(None, use_errno=True)
    prctl = libc.prctl
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong]
    if prctl(PR_SET_NO_NEW_PRIVS, 1, None, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
    fprog_buffer = ctypes.create_string_buffer(fprog)
    if prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog_buffer), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP) failed")
    return True


# ------------------------------------------------------------------------------ the audit hook

# Refused whoever asks: no honest answer, and nothing PyTorch or numpy does for one, needs them.
ALWAYS_REFUSED = frozenset({
    # a new process, where the guards of this one would not follow the code it runs
    "os.fork", "os.forkpty", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "subprocess.Popen",
    "os.startfile", "pty.spawn", "os.kill", "os.killpg", "signal.pthread_kill",
    # walks of the object graph (the grader's recorders, the originals they hold)
    "gc.get_objects", "gc.get_referrers", "gc.get_referents",
    # hooks on every line or call, a second audit hook, frames of other threads
    "sys.settrace", "sys.setprofile", "sys.addaudithook", "sys.monitoring.register_callback", "sys._current_frames",
    "sys._current_exceptions",
    # new code objects and unpickling: rebuilding functions, running arbitrary callables
    "code.__new__", "pickle.find_class",
})
REFUSED_IMPORTS = frozenset({"ctypes", "_ctypes", "cffi", "_cffi_backend", "_posixsubprocess", "pty"})
# Refused when the answer's own code asks (libraries use them for their own ends: inspect.signature
# reads __code__, torch.manual_seed formats a stack, dataclasses and namedtuple compile code).
FROM_ANSWER = frozenset({"compile", "exec"})
FRAME_ATTRIBUTES = frozenset({"tb_frame", "gi_frame", "cr_frame", "ag_frame", "f_code", "__code__", "gi_code",
                              "cr_code", "f_back"})
ANSWER_FILE = "<answer"  # how the worker names the code of answer cells (compile(..., "<answer cell X>"))
WORKER_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "worker.py")
# The standard library's functions that hand the caller a frame (namedtuple, traceback.format_stack and
# the like also ask for one, and keep it): asked for within NEAR frames of the answer's code, refused.
FRAME_GIVERS = frozenset({("inspect.py", "currentframe"), ("inspect.py", "stack"), ("inspect.py", "trace"),
                          ("traceback.py", "walk_stack"), ("__init__.py", "<lambda>")})  # the last: logging's
NEAR = 3


def refused(event: str, args: tuple, frame, *, always=ALWAYS_REFUSED, imports=REFUSED_IMPORTS,
            from_answer=FROM_ANSWER, frame_attributes=FRAME_ATTRIBUTES, answer_file=ANSWER_FILE,
            worker_file=WORKER_FILE, givers=FRAME_GIVERS, near=NEAR, str=str, len=len, getattr=getattr,
            type=type) -> str | None:
    """Why an audit event is refused (``None``: it is not). ``frame``: the Python frame whose code
    raised the event (its callers are looked at only for the events that need them).

    Every rule and every builtin it uses is bound when this module is imported (the keyword
    defaults), long before an answer runs: rebinding ``guard.ALWAYS_REFUSED`` or ``builtins.len``
    later changes nothing here (and this function's own ``__defaults__`` are the grader's: setting
    them is refused)."""
    if event == "os.fork" and frame is not None and frame.f_code.co_filename == worker_file:
        return None  # the worker's own fork for a property pair's second call: it keeps every guard
    if event in always or event.startswith("ctypes."):
        return event
    if event == "import" and args and str(args[0]).split(".")[0] in imports:
        return f"import {args[0]}"
    if event in ("object.__setattr__", "object.__delattr__") and len(args) > 1 \
            and str(getattr(args[0], "__module__", "") or "").startswith("grader."):
        # the special attributes Python audits (a function's __code__ or __defaults__, an object's
        # __class__) of the grader's own functions and objects
        return f"{event} {getattr(args[0], '__qualname__', type(args[0]).__qualname__)}.{args[1]}"
    if event in from_answer or (event == "object.__getattr__" and len(args) > 1 and args[1] in frame_attributes):
        if frame is not None and frame.f_code.co_filename.startswith(answer_file):
            return f"{event} {args[1]}" if event == "object.__getattr__" else event
    elif event == "sys._getframe" and frame is not None:
        code = frame.f_code
        if code.co_filename.startswith(answer_file):
            return event
        if (code.co_filename.rsplit("/", 1)[-1], code.co_name) in givers:  # it hands the frame back
            for _ in range(near):
                frame = frame.f_back
                if frame is None:
                    break
                if frame.f_code.co_filename.startswith(answer_file):
                    return f"{event} ({code.co_name})"
    return None


def install_audit_hook(report_fd: int) -> None:
    """Add the hook, for the rest of this process's life (Python has no way to remove one)."""
    # bound now: the answer may rebind os's, sys's and this module's names later
    write, end, refusal, getframe, prefix = os.write, os._exit, refused, sys._getframe, PREFIX
    inside = [False]  # the hook's own look at the stack raises events too

    def hook(event, args):
        if inside[0]:
            return
        inside[0] = True
        try:
            why = refusal(event, args, getframe(1))  # 0: this hook, 1: the code that raised the event
        finally:
            inside[0] = False
        if why is not None:
            try:
                write(report_fd, (prefix + why + "\n").encode())
            finally:
                end(EXIT_REFUSED)

    sys.addaudithook(hook)
