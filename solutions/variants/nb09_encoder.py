"""Correct variants for notebook 09_encoder (being written)."""
