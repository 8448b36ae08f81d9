"""Log sources (Loki, demo), the LogQL builder and the context budget."""
