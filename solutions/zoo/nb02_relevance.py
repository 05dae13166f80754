"""Known mistakes for notebook 02_relevance (being written)."""
