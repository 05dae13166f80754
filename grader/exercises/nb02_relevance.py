"""Checks for notebook 02_relevance (being written)."""
EXERCISES = []
