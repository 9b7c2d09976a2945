"""Peers of the quality benchmark: one module per family, each ``fit_*(data, seed) -> Scorer``."""
