"""Checks for notebook 08_block (being written)."""
EXERCISES = []
