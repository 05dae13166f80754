"""Known mistakes for notebook 01_word_embeddings (being written)."""
