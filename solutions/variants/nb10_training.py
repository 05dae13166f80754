"""Correct variants for notebook 10_training (being written)."""
