"""Correct variants for notebook 06_multi_head (being written)."""
