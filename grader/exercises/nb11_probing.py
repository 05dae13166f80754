"""Checks for notebook 11_probing (being written)."""
EXERCISES = []
