"""The code location: every defs.yaml under defs/ (`dagster dev -m cancer_component.definitions`
or `dg dev` in this folder)."""

from pathlib import Path

import dagster as dg

defs = dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
