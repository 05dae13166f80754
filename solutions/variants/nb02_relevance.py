"""Correct variants for notebook 02_relevance (being written)."""
