"""Full-resolution evaluation of listing-edit models: scoring, baselines, TTA/ensembles, reports.

``scripts/evaluate.py`` is the command line; docs/evaluation.md explains the numbers and files.
"""
