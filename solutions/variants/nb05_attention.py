"""Correct variants for notebook 05_attention (being written)."""
