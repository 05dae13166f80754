"""Grading a class: discovery, shards, the verdict cache, kill-and-resume, shard/merge on Slurm and
Kubernetes (their scripts and manifests, run here as the scheduler would run them)."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from _grading_class import (REFERENCE, ROOT, SECRET, WRONG_AXIS, grade_and_export, grader_env, run_grader, sleepy,
                            write_class)
from grader import batch, cache

# ------------------------------------------------------------------------------ discovery and shards


def test_discover_reads_nbgrader_student_folders_and_loose_files(tmp_path):
    course = tmp_path / "course"
    for student in ("alice", "bob"):
        folder = course / "submitted" / student / "03_softmax"
        folder.mkdir(parents=True)
        (folder / "03_softmax.ipynb").write_text("{}")
        (folder / "helper.py").write_text("x = 1\n")  # a student's own module: not an answer file
        (folder / ".ipynb_checkpoints").mkdir()
        (folder / ".ipynb_checkpoints" / "03_softmax-checkpoint.ipynb").write_text("{}")
    found, problems = batch.discover([str(course)])  # the course folder: its submitted/
    assert problems == []
    assert [(s.id, s.student, s.assignment) for s in found] == [
        ("alice__03_softmax", "alice", "03_softmax"), ("bob__03_softmax", "bob", "03_softmax")]

    flat = tmp_path / "flat"
    (flat / "carol").mkdir(parents=True)
    (flat / "carol" / "03_softmax.py").write_text("")
    (flat / "dave__04.ipynb").write_text("{}")
    found, problems = batch.discover([str(flat), str(tmp_path / "nowhere")])
    assert [(s.id, s.student, s.assignment) for s in found] == [
        ("carol__03_softmax", "carol", "03_softmax"), ("dave__04", "dave__04", "dave__04")]
    assert problems == [f"{tmp_path / 'nowhere'} does not exist"]


def test_one_students_folder_is_graded_under_their_name(tmp_path):
    """`grade class/alice` grades alice (the ids of a whole-class run), never students named after
    the notebooks; a folder that mixes the two layouts is refused with both explained."""
    alice = tmp_path / "class" / "alice"
    alice.mkdir(parents=True)
    (alice / "03_softmax.ipynb").write_text("{}")
    (alice / "04_context_vectors.py").write_text("")
    bob = tmp_path / "course" / "submitted" / "bob" / "06_multi_head_attention"  # nbgrader's layout
    bob.mkdir(parents=True)
    (bob / "06_multi_head_attention.ipynb").write_text("{}")
    found, problems = batch.discover([str(alice), str(bob.parent)])
    assert problems == []
    assert [(s.id, s.student, s.assignment) for s in found] == [
        ("alice__03_softmax", "alice", "03_softmax"), ("alice__04_context_vectors", "alice", "04_context_vectors"),
        ("bob__06_multi_head_attention", "bob", "06_multi_head_attention")]
    whole, _ = batch.discover([str(tmp_path / "class")])
    assert [s.id for s in whole] == ["alice__03_softmax", "alice__04_context_vectors"]

    (alice / "carol").mkdir()
    (alice / "carol" / "03_softmax.ipynb").write_text("{}")
    found, problems = batch.discover([str(alice)])
    assert found == [] and len(problems) == 1
    assert "mixes work named after the course's notebooks" in problems[0] and "carol" in problems[0]
    assert "one student's folder" in problems[0]


def test_two_files_that_would_share_a_result_are_refused(tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder / "alice").mkdir(parents=True)
        (tmp_path / folder / "alice" / "03_softmax.ipynb").write_text("{}")
    found, problems = batch.discover([str(tmp_path / "a"), str(tmp_path / "b")])
    assert len(found) == 1 and len(problems) == 1 and "alice__03_softmax" in problems[0]


@pytest.mark.parametrize("count", [1, 2, 3, 7])
def test_shards_split_a_class_exactly_once(count):
    ids = [f"student{k}__03_softmax" for k in range(200)]
    shards = [[i for i in ids if batch.shard_of(i, count) == index] for index in range(1, count + 1)]
    assert sorted(sum(shards, [])) == sorted(ids)  # each submission in exactly one shard
    assert all(len(s) > 200 / count / 2 for s in shards)  # and none starved
    assert batch.parse_shard("2/3") == (2, 3)
    for bad in ("0/3", "4/3", "2", "a/b"):
        with pytest.raises(ValueError):
            batch.parse_shard(bad)


# ------------------------------------------------------------------------------ the cache key


def test_a_changed_check_module_changes_the_key_of_its_exercises_only(tmp_path):
    """exercise_digest hashes an exercise's module and what it imports in grader/exercises: edit
    nb03 and only nb03's digest moves; nb09 depends on nb08 (it imports its helpers)."""
    copy = tmp_path / "grader" / "exercises"
    shutil.copytree(ROOT / "grader" / "exercises", copy, ignore=shutil.ignore_patterns("__pycache__"))

    def digest(module: str) -> str:
        return cache._files_digest(cache.closure([copy / f"{module}.py"], copy, "grader"), tmp_path)

    nb09 = {p.name for p in cache.closure([copy / "nb09_encoder.py"], copy, "grader")}
    assert {"nb09_encoder.py", "nb08_block.py", "_common.py"} <= nb09 and "nb03_softmax.py" not in nb09
    before = {m: digest(m) for m in ("nb03_softmax", "nb04_context_vectors", "nb09_encoder")}
    with open(copy / "nb03_softmax.py", "a") as fh:
        fh.write("\n# a changed check\n")
    after = {m: digest(m) for m in before}
    assert after["nb03_softmax"] != before["nb03_softmax"]
    assert after["nb04_context_vectors"] == before["nb04_context_vectors"]
    assert after["nb09_encoder"] == before["nb09_encoder"]


def test_the_key_covers_answer_dependencies_setup_secret_and_limits():
    from grader import exercises
    from grader.config import Config

    softmax = exercises.get("softmax")
    base = cache.run_digest(Config(secret="s"), True, True, {})
    key = cache.exercise_key(base, softmax, "def softmax(x): ...", [], "import numpy as np")
    variants = [
        cache.exercise_key(base, softmax, "def softmax(x): ...  ", [], "import numpy as np"),
        cache.exercise_key(base, softmax, "def softmax(x): ...", [("helper", "def helper(): ...")], "import numpy as np"),
        cache.exercise_key(base, softmax, "def softmax(x): ...", [], "import numpy"),
        cache.exercise_key(base, exercises.get("masked_softmax"), "def softmax(x): ...", [], "import numpy as np"),
        *[cache.exercise_key(cache.run_digest(config, isolated, True, hardware), softmax, "def softmax(x): ...", [],
                             "import numpy as np")
          for config, isolated, hardware in [(Config(secret="t"), True, {}), (Config(secret="s", time_limit=5), True, {}),
                                             (Config(secret="s", memory_mb=512), True, {}), (Config(secret="s"), False, {}),
                                             (Config(secret="s"), True, {"cuda": True})]],
    ]
    assert len({key, *variants}) == len(variants) + 1


def test_a_changed_check_regrades_only_what_it_affects(tmp_path, monkeypatch):
    """Grade once; then make masked_softmax's checks 'change' (its digest): a regrade judges
    masked_softmax again and takes softmax and causal_mask from the cache."""
    from grader.config import Config
    from grader.isolation.sandbox import Sandbox

    write_class(tmp_path / "class", {"ada": REFERENCE})
    task = batch.discover([str(tmp_path / "class")])[0][0]
    config = Config(secret=SECRET)
    out = tmp_path / "grades"
    with Sandbox() as sandbox:
        run = cache.run_digest(config, sandbox.isolate, True, cache.machine_hardware())
        first = batch.grade_one(task, config, sandbox, cache.VerdictCache(out / "cache", run, "run-1"), out, False)
        assert first["graded"] == 3
        assert batch.grade_one(task, config, sandbox, cache.VerdictCache(out / "cache", run, "run-2"), out, False)["state"] \
            == "up to date"
        original = cache.exercise_digest
        monkeypatch.setattr(cache, "exercise_digest",
                            lambda name: original(name) + ("-edited" if name == "masked_softmax" else ""))
        batch._checks_digest.cache_clear()
        third = batch.grade_one(task, config, sandbox, cache.VerdictCache(out / "cache", run, "run-3"), out, False)
    result = json.loads((out / "ada__03_softmax.json").read_text())
    assert (third["graded"], third["cached"]) == (1, 2)
    assert {e["exercise"]: e["graded_in"] for e in result["exercises"]} == {
        "softmax": "run-1", "masked_softmax": "run-3", "causal_mask": "run-1"}
    assert result["earned"] == result["points"] == 16


# ------------------------------------------------------------------------------ kill and resume


def _slot_pids(pid: int) -> list[int]:
    children = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children += [int(c) for c in (task / "children").read_text().split()]
    return children


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        try:
            children = _slot_pids(todo.pop())
        except OSError:  # it ended meanwhile
            continue
        found += children
        todo += children
    return found


@pytest.mark.slow
def test_a_killed_grader_takes_its_workers_and_the_answers_with_it_at_once(tmp_path):
    """kill -9 of `grade` while answers loop forever: the slots, their sandboxes, the workers in them
    and the answers' processes are all gone within seconds, not when each answer's CPU limit ends
    (a worker's change of uid had cleared bwrap's --die-with-parent). Only this test's own grader
    is killed; what is watched are its descendants, listed before the kill."""
    endless = "import numpy as np\n\ndef softmax(scores, axis=-1):\n    while True:\n        pass\n"
    write_class(tmp_path / "class", {f"s{k}": endless + f"\n_student = {k}\n" for k in range(2)})
    command = [sys.executable, "-m", "grader", "grade", "class", "--out", "grades", "-j", "2", "--progress", "lines"]
    run = subprocess.Popen(command, cwd=tmp_path, env=grader_env(), stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        below: list[int] = []
        while time.monotonic() < deadline:  # slot -> bwrap -> worker -> answer: four levels, twice
            below = [p for p in _descendants(run.pid) if _alive(p)]
            if len(below) >= 8:
                break
            assert run.poll() is None, "the run ended before it could be killed"
            time.sleep(0.2)
        assert len(below) >= 8, f"the answers never started: {below}"
        time.sleep(1.0)  # the answers are looping now
    finally:
        run.send_signal(signal.SIGKILL)
        run.wait()
    for _ in range(50):
        if not any(_alive(pid) for pid in below):
            break
        time.sleep(0.1)
    survivors = [Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")[:120] for pid in below if _alive(pid)]
    assert not survivors, f"{len(survivors)} processes outlived the killed grader by 5 s: {survivors}"


@pytest.mark.slow
def test_killed_mid_batch_and_rerun_every_student_once_nothing_regraded(tmp_path):
    """SIGKILL the grading run as soon as the first results exist, then run it again: every student
    has exactly one result, the results that were there are untouched, and every exercise judged
    before the kill keeps the verdict (and the run id) it had: nothing is graded twice."""
    students = {f"s{k}": sleepy(REFERENCE if k % 2 else REFERENCE + WRONG_AXIS, 0.7, f"student {k}") for k in range(6)}
    write_class(tmp_path / "class", students)
    out = tmp_path / "grades"
    command = [sys.executable, "-m", "grader", "grade", "class", "--out", "grades", "-j", "2", "--progress", "lines"]
    first = subprocess.Popen(command, cwd=tmp_path, env=grader_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not list(out.glob("s*__03_softmax.json")):
        assert first.poll() is None, f"the run ended before it could be killed:\n{first.stdout.read()}"
        time.sleep(0.05)
    slots = _slot_pids(first.pid)
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert slots, "no job slot was running"
    for _ in range(100):  # the slots die with their parent (and their sandboxes with them)
        if not any(_alive(pid) for pid in slots):
            break
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in slots), "job slots outlived the killed run"

    done = {p.name: p.read_bytes() for p in out.glob("s*__03_softmax.json")}
    cached = {}
    for entry in (out / "cache").rglob("*.json"):
        data = json.loads(entry.read_text())
        cached[data["key"]] = data["graded_in"]
    assert 1 <= len(done) < 6, f"kill the run mid-batch (results: {sorted(done)})"

    second = run_grader("grade", "class", "--out", "grades", "-j", "2", cwd=tmp_path)
    assert second.returncode == 0, second.stdout + second.stderr
    results = {p.name: json.loads(p.read_text()) for p in out.glob("s*__03_softmax.json")}
    if any(results[name]["fingerprint"] != json.loads(data)["fingerprint"] for name, data in done.items()):
        pytest.skip("the grader's or the course's code was edited between the two runs (a shared working tree): "
                    "regrading was right; run the test again")
    assert f"{len(done)} up to date" in second.stdout
    assert sorted(results) == sorted(f"{s}__03_softmax.json" for s in students)
    assert {name: (out / name).read_bytes() for name in done} == done  # not rewritten
    reused = 0
    for result in results.values():
        correct = int(result["student"][1:]) % 2 == 1
        assert (result["earned"] == 16) == correct, (result["student"], result["earned"])  # the wrong axis costs points
        for exercise in result["exercises"]:
            if exercise["key"] in cached:
                assert exercise["graded_in"] == cached[exercise["key"]], f"{result['id']}/{exercise['exercise']} regraded"
                reused += 1
    assert reused >= 3 * len(done)
    # the summary counts what the per-submission lines count: exercises judged now and from the cache
    # (a cache hit may come from this run too: a classmate with the same answer graded a moment before)
    judged = cached_now = 0
    for line in second.stdout.splitlines():
        if line.endswith("(from cache)"):
            cached_now += 3
        elif match := re.search(r"\(graded (\d+), cached (\d+)\)$", line):
            judged, cached_now = judged + int(match[1]), cached_now + int(match[2])
    assert judged + cached_now == 18 - 3 * len(done), second.stdout
    assert judged <= 18 - reused, second.stdout  # nothing judged before the kill is judged again
    assert f"exercises: {judged} judged now, {cached_now} from the cache" in second.stdout, second.stdout
    rows = (out / "checks.csv").read_text().splitlines()[1:]
    per_student = {s: sum(1 for r in rows if r.startswith(f"{s}__03_softmax,")) for s in students}
    assert len(set(per_student.values())) == 1 and min(per_student.values()) > 0, per_student  # everyone once
    assert not list(out.rglob(".*.tmp"))

    third = run_grader("grade", "class", "--out", "grades", "-j", "2", cwd=tmp_path)
    assert "0 graded, 0 from the cache alone, 6 up to date, 0 failed; exercises: 0 judged now, 0 from the cache" \
        in third.stdout, third.stdout


# ------------------------------------------------------------------------------ beyond one machine

SHARD_CLASS = {"ada": REFERENCE, "bo": REFERENCE + WRONG_AXIS, "cy": "import numpy as np\n\ndef causal_mask(T):\n    return None\n"}
EXPORTS = ["grades.csv", "checks.csv", "checks.jsonl"]


def _exports(folder: Path) -> dict[str, bytes]:
    files = [*EXPORTS, *[str(p.relative_to(folder)) for p in folder.glob("gradescope/*/results.json")],
             *[str(p.relative_to(folder)) for p in folder.glob("feedback/*")]]
    return {name: (folder / name).read_bytes() for name in sorted(files)}


def _results(folder: Path) -> dict[str, dict]:
    """The results without what depends on the run (times, run ids, where a verdict came from, the folder)."""
    found = {}
    for result in batch.load_results(folder):
        result = {k: v for k, v in result.items() if k not in ("seconds", "run_id", "submission")}  # submission: its path
        result["exercises"] = [{k: v for k, v in e.items() if k not in ("graded_in", "from_cache")}
                               for e in result["exercises"]]
        found[result["id"]] = result
    return found


@pytest.fixture(scope="module")
def unsharded(tmp_path_factory):
    """The class graded in one run, and its exports."""
    folder = tmp_path_factory.mktemp("unsharded")
    grade_and_export(folder, SHARD_CLASS)
    ids = {f"{s}__03_softmax" for s in SHARD_CLASS}
    assert {batch.shard_of(i, 2) for i in ids} == {1, 2}, "the test class must fill both shards"
    return folder


@pytest.mark.slow
def test_slurm_array_shards_then_merge_equal_one_run(unsharded, tmp_path):
    """deploy/slurm/grade-array.sbatch run as Slurm runs an array task (its environment), once per
    shard, then merge.sbatch: the merged exports are byte for byte those of the unsharded run."""
    write_class(tmp_path / "class", SHARD_CLASS)
    env = grader_env(COURSE_DIR=str(tmp_path), PYTHON=sys.executable, SUBMISSIONS=str(tmp_path / "class"),
                     RESULTS=str(tmp_path / "grades"), SLURM_ARRAY_TASK_COUNT="2", SLURM_ARRAY_TASK_MIN="0",
                     SLURM_CPUS_PER_TASK="1")
    for task in ("0", "1"):  # sbatch --array=0-1: shards 1/2 and 2/2
        proc = subprocess.run(["bash", str(ROOT / "deploy/slurm/grade-array.sbatch")], env={**env, "SLURM_ARRAY_TASK_ID": task},
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert f"(shard {int(task) + 1}/2:" in proc.stdout
    assert "--require-isolation" in (ROOT / "deploy/slurm/grade-array.sbatch").read_text()
    shard_ids = [json.loads((tmp_path / "grades" / f"shard-{i}" / f"shard-{i}-of-2.json").read_text())["submissions"]
                 for i in (1, 2)]
    assert sorted(shard_ids[0] + shard_ids[1]) == sorted(f"{s}__03_softmax" for s in SHARD_CLASS)
    assert shard_ids[0] and shard_ids[1] and not set(shard_ids[0]) & set(shard_ids[1])
    proc = subprocess.run(["bash", str(ROOT / "deploy/slurm/merge.sbatch")], env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert _exports(tmp_path / "grades") == _exports(unsharded / "grades")
    assert _results(tmp_path / "grades") == _results(unsharded / "grades")


K8S_SETTINGS = {"SHARDS": "2", "CPUS": "1", "IMAGE": "registry.example.org/transformer-course:grader",
                "CLAIM": "grading-data"}


def render(manifest: Path) -> str:
    """``envsubst '${SHARDS} ${CPUS} ${IMAGE} ${CLAIM}'``, as the manifest's comment says."""
    return re.sub(r"\$\{(SHARDS|CPUS|IMAGE|CLAIM)\}", lambda m: K8S_SETTINGS[m.group(1)], manifest.read_text())


@pytest.mark.parametrize("manifest", ["grade-job.yaml", "merge-job.yaml"])
def test_kubernetes_manifests_render_and_validate(manifest):
    yaml = pytest.importorskip("yaml")
    kubernetes_validate = pytest.importorskip("kubernetes_validate", reason="make test installs requirements-test.txt")
    text = render(ROOT / "deploy" / "k8s" / manifest)
    assert "${" not in "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    document = yaml.safe_load(text)
    kubernetes_validate.validate(document, "1.33", strict=True)
    if manifest == "grade-job.yaml":
        spec = document["spec"]
        assert spec["completionMode"] == "Indexed" and spec["completions"] == spec["parallelism"] == 2
        container = spec["template"]["spec"]["containers"][0]
        assert container["env"][0]["name"] == "GRADER_SECRET" and "secretKeyRef" in container["env"][0]["valueFrom"]
        assert "--require-isolation" in container["args"][0]  # a pod that cannot isolate grades nothing
        # the unprivileged alternative the comments give, pasted in: a valid pod spec that is not privileged
        block = text.split("# BEGIN UNPRIVILEGED\n", 1)[1].split("# END UNPRIVILEGED", 1)[0]
        alternative = yaml.safe_load("\n".join(line.split("#   ", 1)[1] for line in block.splitlines() if "#   " in line))
        unprivileged = json.loads(json.dumps(document))
        unprivileged["spec"]["template"]["spec"]["containers"][0]["securityContext"] = alternative["securityContext"]
        kubernetes_validate.validate(unprivileged, "1.33", strict=True)
        context = alternative["securityContext"]
        assert context["runAsNonRoot"] and not context["allowPrivilegeEscalation"] and "privileged" not in context
    broken = json.loads(json.dumps(document))
    broken["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"] = ["not", "a", "quantity"]
    with pytest.raises(kubernetes_validate.ValidationError):  # the validation can fail
        kubernetes_validate.validate(broken, "1.33", strict=True)


def _pod_command(manifest: str, data: Path) -> str:
    """The rendered container command of a manifest, with /data on this machine."""
    import yaml

    container = yaml.safe_load(render(ROOT / "deploy" / "k8s" / manifest))["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["sh", "-c"] and container["workingDir"] == "/course"
    return container["args"][0].replace("/data/", f"{data}/").replace(".venv/bin/python", sys.executable)


@pytest.mark.slow
def test_kubernetes_indexed_pods_then_merge_equal_one_run(unsharded, tmp_path):
    """Each pod's command (JOB_COMPLETION_INDEX 0 and 1) and the merge Job's, run here in the course
    folder with /data on this machine: the same exports as the unsharded run."""
    pytest.importorskip("yaml")
    write_class(tmp_path / "submitted", SHARD_CLASS)
    for index in ("0", "1"):
        proc = subprocess.run(["sh", "-c", _pod_command("grade-job.yaml", tmp_path)], cwd=ROOT,
                              env=grader_env(JOB_COMPLETION_INDEX=index), capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "grades" / "shard-1" / "shard-1-of-2.json").is_file()
    proc = subprocess.run(["sh", "-c", _pod_command("merge-job.yaml", tmp_path)], cwd=ROOT, env=grader_env(),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert _exports(tmp_path / "grades") == _exports(unsharded / "grades")


def test_merge_refuses_a_missing_or_unfinished_shard(tmp_path):
    def shard(index: int, ids: list[str], complete: bool = True) -> Path:
        folder = tmp_path / f"shard-{index}"
        folder.mkdir()
        (folder / f"shard-{index}-of-3.json").write_text(json.dumps(
            {"shard": index, "of": 3, "complete": complete, "submissions": ids}))
        for i in ids:
            (folder / f"{i}.json").write_text(json.dumps({"schema": batch.RESULT_SCHEMA, "id": i}))
        return folder

    one, two = shard(1, ["a"]), shard(2, ["b"], complete=False)
    with pytest.raises(batch.MergeError, match=r"shards \[3\] of 3 are missing"):
        batch.merge([one, two], tmp_path / "out")
    three = shard(3, ["a"])
    with pytest.raises(batch.MergeError) as error:
        batch.merge([one, two, three], tmp_path / "out")
    assert "shard 2/3" in str(error.value) and "did not finish" in str(error.value)
    assert "a is in shard 1 and shard 3" in str(error.value)
    assert not (tmp_path / "out").exists()


class _BrokenSandbox:
    """A sandbox whose worker cannot start: the grader's failure, not the answer's."""

    isolate, info = True, {}

    def run(self, *args, **kwargs):
        raise RuntimeError("the grading worker did not start")


def test_a_failure_of_the_grader_is_not_kept_as_a_verdict(tmp_path):
    """Neither cached nor 'up to date': the next run grades those exercises again."""
    from grader.config import Config
    from grader.grade import FATES, is_transient

    assert is_transient(FATES["worker_lost"]) and not is_transient(FATES["timeout"])
    write_class(tmp_path / "class", {"ada": REFERENCE})
    task = batch.discover([str(tmp_path / "class")])[0][0]
    config, out = Config(secret=SECRET), tmp_path / "grades"
    run = cache.run_digest(config, True, True, {})
    for attempt in ("run-1", "run-2"):
        event = batch.grade_one(task, config, _BrokenSandbox(), cache.VerdictCache(out / "cache", run, attempt), out, False)
        assert event["state"] == "graded" and event["graded"] == 3, event
    result = json.loads((out / "ada__03_softmax.json").read_text())
    assert result["fingerprint"] is None and result["earned"] == 0
    assert {e["status"] for e in result["exercises"]} == {"error"}
    assert not list((out / "cache").rglob("*.json"))


def test_a_retry_alone_waits_for_the_other_slots_and_holds_them_off():
    """SlotTurns between two slots of one run (two open files, as two processes hold them): alone()
    waits until the other slot's job ends, and the other slot's next job waits until alone() ends."""
    import threading
    import time as clock

    run_id = f"test-{os.getpid()}-{clock.time_ns()}"
    first, second = batch.SlotTurns(run_id), batch.SlotTurns(run_id)
    events = []
    try:
        def other_slot():
            with first.shared():
                events.append("other job starts")
                clock.sleep(0.4)
                events.append("other job ends")
            clock.sleep(0.05)  # alone() is waiting by now: the next job must wait for it
            with first.shared():
                events.append("other's next job starts")

        thread = threading.Thread(target=other_slot)
        thread.start()
        clock.sleep(0.1)
        with second.alone():
            events.append("retry alone starts")
            clock.sleep(0.3)
            events.append("retry alone ends")
        thread.join(timeout=10)
    finally:
        batch.SlotTurns.remove(run_id)
    assert events == ["other job starts", "other job ends", "retry alone starts", "retry alone ends",
                      "other's next job starts"], events


def test_the_grading_image_recipe_keeps_the_secret_out_and_builds_where_docker_runs(tmp_path):
    """deploy/k8s/Dockerfile: grader.toml never enters the build context (the secret comes from a
    Kubernetes Secret); where a Docker daemon answers, the image builds and its grader imports."""
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {"grader.toml", ".venv/", "grades/", "nbgrader/"} <= set(ignored)
    recipe = (ROOT / "deploy" / "k8s" / "Dockerfile").read_text()
    assert "bubblewrap" in recipe and "-r requirements.txt" in recipe and "WORKDIR /course" in recipe
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "info"], capture_output=True, timeout=60).returncode != 0:
        pytest.skip("no Docker daemon here: the image is not built")
    tag = f"transformer-course-grader-test:{os.getpid()}"
    built = subprocess.run([docker, "build", "-f", "deploy/k8s/Dockerfile", "-t", tag, "."], cwd=ROOT,
                           capture_output=True, text=True, timeout=3600)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    try:
        run = subprocess.run([docker, "run", "--rm", tag, ".venv/bin/python", "-c",
                              "import grader, torch, os; print(os.path.exists('grader.toml'), torch.__version__)"],
                             capture_output=True, text=True, timeout=600)
        assert run.returncode == 0 and run.stdout.startswith("False "), run.stdout + run.stderr
    finally:
        subprocess.run([docker, "rmi", "-f", tag], capture_output=True, timeout=300)
