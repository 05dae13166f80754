"""`python -m grader`: the commands people type, run as they would run them."""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(*args, cwd, env_extra=None):
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("GRADER_")}
    env["PYTHONPATH"] = str(ROOT)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "grader", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


def test_init_writes_a_secret_once(tmp_path):
    first = _run("init", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    text = (tmp_path / "grader.toml").read_text()
    assert 'secret = "' in text
    again = _run("init", cwd=tmp_path)
    assert again.returncode == 2 and "exists already" in again.stderr
    assert (tmp_path / "grader.toml").read_text() == text  # the secret was not replaced


def test_grade_refuses_to_run_without_a_secret(tmp_path):
    proc = _run("grade", str(ROOT / "notebooks" / "03_softmax.ipynb"), cwd=tmp_path)
    assert proc.returncode == 2 and "python -m grader init" in proc.stderr


def test_grade_a_class_writes_json_and_csv(tmp_path):
    """Two students, one unattempted notebook and one missing file: a table, JSON per submission,
    one CSV row per check, and a non-zero exit for the missing file only."""
    for student in ("alice", "bob"):
        (tmp_path / student).mkdir()
        (tmp_path / student / "03_softmax.ipynb").write_text((ROOT / "notebooks" / "03_softmax.ipynb").read_text())
    (tmp_path / "bob" / "03_softmax.ipynb").write_text("{ not json")
    proc = _run("grade", "--out", "grades", "alice/03_softmax.ipynb", "bob/03_softmax.ipynb", "carol/03_softmax.ipynb",
                cwd=tmp_path, env_extra={"GRADER_SECRET": "cli-test"})
    assert proc.returncode == 1 and "carol/03_softmax.ipynb does not exist" in proc.stderr
    assert "alice__03_softmax" in (tmp_path / "grades" / "checks.csv").read_text()
    alice = json.loads((tmp_path / "grades" / "alice__03_softmax.json").read_text())
    assert alice["earned"] == 0 and {e["status"] for e in alice["exercises"]} == {"not_attempted"}
    bob = json.loads((tmp_path / "grades" / "bob__03_softmax.json").read_text())
    assert "not a readable notebook" in bob["error"]
    assert "0/16 points" in proc.stdout


def test_check_reports_public_checks_of_a_notebook(tmp_path):
    proc = _run("check", str(ROOT / "notebooks" / "03_softmax.ipynb"), cwd=tmp_path)
    assert proc.returncode == 1
    assert "not attempted yet" in proc.stdout and "run at grading" in proc.stdout


def test_export_and_merge_say_what_is_missing(tmp_path):
    (tmp_path / "empty").mkdir()
    proc = _run("export", "--out", "empty", cwd=tmp_path)
    assert proc.returncode == 1 and "no grading results in empty/" in proc.stderr
    proc = _run("merge", "--out", "merged", "empty", cwd=tmp_path)
    assert proc.returncode == 1 and "has no shard manifest" in proc.stderr
    proc = _run("grade", "--shard", "3/2", "empty", cwd=tmp_path, env_extra={"GRADER_SECRET": "cli-test"})
    assert proc.returncode == 2 and "between 1 and n" in proc.stderr


def test_require_isolation_stops_before_grading_where_the_sandbox_cannot_work(tmp_path):
    """A cluster node without bubblewrap, or where bwrap may not make its namespaces: `grade
    --require-isolation` (what deploy/slurm and deploy/k8s run) says what the node needs and grades
    nothing, instead of grading unisolated with a warning."""
    (tmp_path / "class" / "ada").mkdir(parents=True)
    (tmp_path / "class" / "ada" / "03_softmax.py").write_text((ROOT / "solutions" / "softmax.py").read_text())
    tools = tmp_path / "bin"
    tools.mkdir()
    missing = _run("grade", "class", "--out", "grades", "--require-isolation", cwd=tmp_path,
                   env_extra={"GRADER_SECRET": "s", "PATH": str(tools)})
    assert missing.returncode == 2, missing.stdout + missing.stderr
    assert "bubblewrap (bwrap) is not installed" in missing.stderr and "user.max_user_namespaces" in missing.stderr
    assert not (tmp_path / "grades").exists()
    fake = tools / "bwrap"  # a bwrap the node's policy stops, as a default container profile does
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to creating new namespace' >&2\nexit 1\n")
    fake.chmod(0o755)
    refused = _run("grade", "class", "--out", "grades", "--require-isolation", cwd=tmp_path,
                   env_extra={"GRADER_SECRET": "s", "PATH": f"{tools}:/usr/bin:/bin"})
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "cannot create the sandbox's namespaces here (bwrap: No permissions" in refused.stderr
    assert not (tmp_path / "grades").exists()
    from grader.isolation.sandbox import isolation_problem

    if isolation_problem() is None:  # here it works: --require-isolation grades as usual
        works = _run("grade", "class", "--out", "grades", "--require-isolation", "-j", "1", cwd=tmp_path,
                     env_extra={"GRADER_SECRET": "s"})
        assert works.returncode == 0, works.stdout + works.stderr
        assert json.loads((tmp_path / "grades" / "ada__03_softmax.json").read_text())["earned"] == 16
