"""Pre-flight check of a training recipe before a long run (``scripts/check_gpu.py``): the recipe's network, losses
and data pipeline built at its sizes on synthetic listing pairs, a few dozen training iterations through its model
class, a validation and an inference timed, and one table of what the real run will need."""
