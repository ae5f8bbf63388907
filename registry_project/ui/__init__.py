"""A read-only web UI over the registry: models, versions, comparisons, lineage, datasets and
the audit trail, as server-rendered pages (`registry ui`)."""

from registry_project.ui.app import create_app

__all__ = ["create_app"]
