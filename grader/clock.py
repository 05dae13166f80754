"""The time limit of ``check()``: the answer's calls in a notebook kernel get what ``grade`` gives them.

``grade`` runs an exercise's calls in a sandboxed worker with one PyTorch thread, stopped after
``time_limit`` seconds of CPU time (the wall clock allows twice that, plus 5 s, for an answer that
sleeps). In a kernel the answer runs in the student's own process, so the same budget is kept with
interval timers instead: ``ITIMER_PROF`` for CPU time, ``ITIMER_REAL`` for the wall clock, armed only
while one of the answer's calls runs (the grader's own work between calls is not counted, as in the
worker). When a budget is spent, :class:`OutOfTime` is raised where the answer is; it derives from
``BaseException`` so that an ``except Exception`` in the answer does not swallow it, and the timer
repeats every quarter of a second until it gets out (a bare ``except:`` only delays it).

This is feedback, not a wall: the answer could disarm a timer in its own process. The grade comes
from ``grade``'s sandbox, whose limits the answer cannot reach.
"""
from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time
from collections.abc import Iterator

from .isolation.sandbox import wall_limit

REPEAT = 0.25  # seconds between the signals once a budget is spent


class OutOfTime(BaseException):
    """The answer's CPU time (``kind == "cpu"``) or wall clock (``"wall"``) budget is spent."""

    def __init__(self, kind: str):
        super().__init__(kind)
        self.kind = kind


def usable() -> bool:
    """Interval timers and their signals exist (POSIX) and we are the main thread (where Python runs
    signal handlers and where ``signal.signal`` may be called)."""
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


class AnswerClock:
    """``time_limit`` seconds of CPU time (and its wall-clock backstop) shared by all of one
    exercise's calls to the answer. ``with clock.running(): ...`` around each call."""

    def __init__(self, time_limit: float):
        self.time_limit = float(time_limit)
        self.cpu_left = self.time_limit
        self.wall_left = wall_limit(self.time_limit)

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        if not usable():
            yield
            return
        if self.cpu_left <= 0 or self.wall_left <= 0:
            raise OutOfTime("cpu" if self.cpu_left <= 0 else "wall")

        armed = [True]

        def stop_cpu(signum, frame):
            if armed[0]:
                raise OutOfTime("cpu")

        def stop_wall(signum, frame):
            if armed[0]:
                raise OutOfTime("wall")

        torch = sys.modules.get("torch")
        threads = torch.get_num_threads() if torch is not None else None
        old_prof = signal.signal(signal.SIGPROF, stop_cpu)
        old_alarm = signal.signal(signal.SIGALRM, stop_wall)
        cpu_start, wall_start = time.process_time(), time.monotonic()
        try:
            if torch is not None:
                torch.set_num_threads(1)  # as in the worker: CPU time is one core's
            signal.setitimer(signal.ITIMER_PROF, self.cpu_left, REPEAT)
            signal.setitimer(signal.ITIMER_REAL, self.wall_left, REPEAT)
            yield
        finally:
            armed[0] = False  # first: no call in between, so no handler runs before the flag is down
            signal.setitimer(signal.ITIMER_PROF, 0)
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGPROF, old_prof)
            signal.signal(signal.SIGALRM, old_alarm)
            if torch is not None:
                torch.set_num_threads(threads)
            self.cpu_left -= time.process_time() - cpu_start
            self.wall_left -= time.monotonic() - wall_start
