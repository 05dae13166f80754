"""Correct variants for notebook 07_positional (being written)."""
