"""Correct variants for notebook 11_probing (being written)."""
