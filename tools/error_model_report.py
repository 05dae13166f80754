#!/usr/bin/env python
"""How well the error model (grader/mutations.py) names mistakes nobody wrote down: a leave-one-out
over the bug zoo.

    python tools/error_model_report.py            # the table, per exercise
    python tools/error_model_report.py --json     # the same numbers as JSON

For each hand-written zoo entry, as if it had never been written: the entry is graded as a student's
answer (public and hidden checks, a fixed secret), and for each check it fails we ask whether one of
the error model's mutants did the same thing there (the diagnosis's own rules: the same outputs
within the check's tolerance, or the same error; a mutant that does what the reference does on those
inputs is skipped). The entry is

- *named* when a mutant explains at least one of its failing checks (a student who made it would see
  a generated name instead of only the check's hint), and
- *named throughout* when one and the same mutant explains every check it fails.

A correct variant never fails a check, so no mutant can ever blame one; the report checks that too.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SECRET = "error-model-report"


def measure() -> dict:
    from grader import exercises, reference
    from grader.core import build_calls
    from grader.judge import _bug_outcomes, _first_alike, grade_answer
    from grader.mutations import mutants

    reference.require()
    table = {}
    for exercise in exercises.EXERCISES.values():
        zoo = reference.bugs(exercise.name)
        generated = mutants(exercise.name)
        row = {"notebook": exercise.notebook, "zoo": len(zoo), "mutants": len(generated), "named": 0,
               "named_throughout": 0, "examples": [], "variants_failing": 0}
        for bug in zoo:
            result = grade_answer(exercise, bug.impl, include_hidden=True, secret=SECRET)
            failing = [c for c in result.checks if not c.passed and c.status != "not_attempted"]
            explained = []
            for verdict in failing:
                check = next(c for c in exercise.checks if c.name == verdict.name)
                calls = build_calls(check, exercise.name, SECRET)
                found = _first_alike(exercise, calls, _bug_outcomes(bug.impl, calls), check.tolerance, generated)
                explained.append(found.id if found is not None else None)
            if any(explained):
                row["named"] += 1
                mutant = next(m for m in generated if m.id == next(e for e in explained if e))
                row["examples"].append(f"{bug.id} -> {mutant.title}")
                if all(e == explained[0] for e in explained):
                    row["named_throughout"] += 1
        for variant in reference.variants(exercise.name):
            result = grade_answer(exercise, variant.impl, include_hidden=True, secret=SECRET)
            row["variants_failing"] += not all(c.passed for c in result.checks)
        table[exercise.name] = row
    return table


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    args = parser.parse_args(argv)
    table = measure()
    if args.json:
        print(json.dumps(table, indent=1))
        return 0
    print(f"{'exercise':<32} {'zoo':>4} {'mutants':>8} {'named':>6} {'rate':>6} {'throughout':>11}")
    total = named = throughout = 0
    for name, row in table.items():
        if not row["zoo"]:
            continue
        total, named, throughout = total + row["zoo"], named + row["named"], throughout + row["named_throughout"]
        print(f"{name:<32} {row['zoo']:>4} {row['mutants']:>8} {row['named']:>6} {row['named'] / row['zoo']:>6.0%} "
              f"{row['named_throughout']:>11}")
    print(f"{'all':<32} {total:>4} {sum(r['mutants'] for r in table.values()):>8} {named:>6} {named / total:>6.0%} "
          f"{throughout:>11}")
    failing = sum(r["variants_failing"] for r in table.values())
    print(f"correct variants that fail a check (and so could be blamed): {failing}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
