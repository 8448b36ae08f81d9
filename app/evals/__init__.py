"""Evals: run analyzers (models or the regex baseline) over the golden set and score their answers."""
