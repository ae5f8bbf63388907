"""Reproducible benchmarks of registry_project against MLflow on the same workloads.

Run `python -m benchmarks --help`. Results are printed and written as JSON and markdown.
"""
