"""Known mistakes for notebook 11_probing (being written)."""
