"""Everything that touches untrusted code: what runs beside the student's answer, and what guards it.

Trusted side (the grading process): :mod:`.sandbox` starts the worker in bubblewrap and reads its
results through :mod:`.wire` (plain data, never unpickled); :mod:`.gate` refuses, before anything
runs, an answer that uses what no honest answer needs; :mod:`.twins` writes the course's given
modules without the exercise being graded (nor anything later).

Untrusted side (inside the sandbox): :mod:`.worker` forks one child per exercise, which installs
:mod:`.guard` (an audit hook and a seccomp filter, neither removable from Python) and
:mod:`.tripwire` (forbidden built-ins caught by use) before the answer runs.

:mod:`.forbidden` (the forbidden built-ins, as data) and :mod:`.static` (what an answer's source
names) are read by both sides.
"""
