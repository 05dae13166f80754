"""Known mistakes for notebook 04_context_vectors (being written)."""
