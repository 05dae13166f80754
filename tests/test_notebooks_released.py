"""The released notebooks, as a student first opens them: they run top to bottom, and every error is
a one-line ``CheckFailed: ... not attempted`` from a check cell (a module of its own, beside
tests/test_notebooks.py, so that pytest-xdist runs the two at once)."""
from __future__ import annotations

import pytest

from grader import exercises
from test_notebooks import NOTEBOOKS, _nbgrader, _released


@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_released_notebook_runs_and_fails_only_as_not_attempted(notebook, tmp_path):
    from nbclient import NotebookClient

    nb = _released(notebook)
    NotebookClient(nb, kernel_name="python3", allow_errors=True, timeout=300,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    graded_ids = {f"check_{ex.name}" for ex in exercises.for_notebook(notebook)}
    failed_ids = set()
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.output_type == "stream" and output.name == "stderr":
                assert "Traceback" not in output.text, output.text
            if output.output_type != "error":
                continue
            grade_id = _nbgrader(cell).get("grade_id", "")
            assert grade_id in graded_ids, f"an error outside a check cell: {output.ename}: {output.evalue}\n{cell.source[:300]}"
            assert output.ename == "CheckFailed" and "not attempted" in output.evalue, (output.ename, output.evalue)
            assert len(output.traceback) == 1, "CheckFailed should render as one line, not a traceback"
            failed_ids.add(grade_id)
    assert failed_ids == graded_ids, "every check cell of an untouched notebook fails as not attempted"
