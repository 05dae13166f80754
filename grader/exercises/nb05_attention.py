"""Checks for notebook 05_attention (being written)."""
EXERCISES = []
