"""Dagster Components of the registry (`dg list components` finds them through the
`dagster_dg_cli.registry_modules` entry point in pyproject.toml)."""

from registry_project.components.model_pipeline import ModelPipelineComponent

__all__ = ["ModelPipelineComponent"]
