"""Checks for notebook 07_positional (being written)."""
EXERCISES = []
