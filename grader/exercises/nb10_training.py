"""Checks for notebook 10_training (being written)."""
EXERCISES = []
