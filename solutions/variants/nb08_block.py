"""Correct variants for notebook 08_block (being written)."""
