"""The parts of the `ModelRegistry` facade, one per concern (see base.py)."""
