"""The README's "Use it for your own model" walk-through: scikit-learn's breast cancer data,
from an ordinary Dagster project to a model in production."""
