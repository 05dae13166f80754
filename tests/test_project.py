"""The project's set-up files agree with each other and with the README."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _pins(text: str) -> dict[str, str]:
    return dict(re.findall(r"^[\s-]*([A-Za-z0-9_.\-]+)==([^\s#]+)", text, flags=re.M))


def test_environment_yml_has_the_same_pins_as_requirements():
    requirements = _pins((ROOT / "requirements.txt").read_text())
    environment = _pins((ROOT / "environment.yml").read_text())
    assert requirements["torch"] == "2.13.0"
    assert environment == requirements


def test_readme_names_the_two_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text()
    assert "make lab" in readme and "make test" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^lab:", makefile, re.M) and re.search(r"^test:", makefile, re.M)


def test_the_wheel_holds_every_package_of_grader_and_course(tmp_path):
    """A non-editable install (a student bundle's, a shared hub environment's) has every module: the
    wheel's packages are the source tree's (grader.exercises was once left out)."""
    import subprocess
    import sys
    import zipfile

    import shutil

    source_tree = tmp_path / "source"  # a copy: setuptools would reuse a stale build/ in the checkout
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for item in ("grader", "course"):
        shutil.copytree(ROOT / item, source_tree / item, ignore=ignore)
    for item in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / item, source_tree / item)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", str(tmp_path / "dist"), str(source_tree)], check=True, capture_output=True, timeout=300)
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    packaged = {name.rsplit("/", 1)[0] for name in zipfile.ZipFile(wheel).namelist() if name.endswith("/__init__.py")}
    source = {str(init.parent.relative_to(ROOT)) for top in ("grader", "course") for init in (ROOT / top).rglob("__init__.py")
              if "__pycache__" not in init.parts}
    assert packaged == source, (sorted(source - packaged), sorted(packaged - source))
