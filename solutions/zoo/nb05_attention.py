"""Known mistakes for notebook 05_attention (being written)."""
