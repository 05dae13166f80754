"""Known mistakes for notebook 07_positional (being written)."""
