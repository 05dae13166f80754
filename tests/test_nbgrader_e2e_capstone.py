"""The nbgrader round trip of tests/test_nbgrader_e2e.py for the capstone end of the course
(notebooks 09-11): the same fixture and tests on other notebooks, in a module of its own so that pytest-xdist
grades the parts at the same time."""
from test_nbgrader_e2e import *  # noqa: F401,F403  (the class fixture, the tests and their parametrisation)
from test_nbgrader_e2e import ALL_GRADED

GRADED = [nb for nb in ALL_GRADED if nb >= "09"]

# The blank and quirks students live in the numpy part (notebooks 04 and 03).
del test_unattempted_notebook_scores_zero_without_crashing  # noqa: F821
del test_a_correct_answer_that_warns_gets_full_marks  # noqa: F821
del test_a_correct_answer_that_prints_to_stderr_gets_full_marks  # noqa: F821
del test_a_deleted_test_cell_costs_its_points_only  # noqa: F821
