"""Known mistakes for notebook 09_encoder (being written)."""
