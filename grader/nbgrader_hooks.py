"""nbgrader, as the course uses it (instructors; ``nbgrader_config.py`` installs these).

:class:`OverwriteCells` is nbgrader's own, without a false alarm. At ``nbgrader autograde`` nbgrader
compares each locked cell of a submission with the instructor's version and, where the checksums
differ, warns "Attribute 'checksum' for cell check_... has changed!" and restores the instructor's
source. A check cell's hidden tests are stripped from the students' copy by design, so every
untouched check cell of every submission raised that warning (nbgrader's issue #1961), and a real
change (a student who edited a locked cell) drowned among them. Here a check cell whose source is
exactly the instructor's with the hidden tests removed gets them back silently; any other change is
reported and repaired as nbgrader does.
"""
from __future__ import annotations

from nbformat import NotebookNode
from nbgrader import utils
from nbgrader.api import MissingEntry
from nbgrader.preprocessors import ClearHiddenTests
from nbgrader.preprocessors import OverwriteCells as _NbgraderOverwriteCells


def released_source(source: str) -> str:
    """What the students' copy of a cell holds: ``source`` without its hidden-test region, as
    ``nbgrader generate_assignment`` strips it."""
    cell = NotebookNode(cell_type="code", source=source, metadata={})
    ClearHiddenTests()._remove_hidden_test_region(cell)
    return cell.source


class OverwriteCells(_NbgraderOverwriteCells):
    def preprocess_cell(self, cell, resources, cell_index):
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id is not None and utils.is_locked(cell):
            try:
                original = self.gradebook.find_source_cell(grade_id, self.notebook_id, self.assignment_id)
            except MissingEntry:
                original = None
            if original is not None and original.source != cell.source and released_source(original.source) == cell.source:
                cell.source = original.source  # the hidden tests the release took out: back, without an alarm
        return super().preprocess_cell(cell, resources, cell_index)
