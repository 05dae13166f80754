"""Known mistakes for notebook 08_block (being written)."""
