"""Pieces of scripts/benchmark.py (docs/benchmark.md): the oracle rows, the MAC count per listing photo, the
option-file copies that point a recipe at the benchmark data, and the tables."""
