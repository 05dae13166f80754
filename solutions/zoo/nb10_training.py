"""Known mistakes for notebook 10_training (being written)."""
