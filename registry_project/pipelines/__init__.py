"""Demo ML pipelines built with registry_project.orchestration."""
