"""A Dagster project whose model is declared in YAML (defs/cancer/defs.yaml)."""
