"""Checks for notebook 09_encoder (being written)."""
EXERCISES = []
