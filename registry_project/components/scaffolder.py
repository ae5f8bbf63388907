"""`dg scaffold defs registry_project.components.ModelPipelineComponent <path>`: a defs.yaml
and a model.py beside it that work as they are (scikit-learn's breast cancer data), to edit
into your own model."""

from pathlib import Path

from dagster.components import Scaffolder, ScaffoldRequest

from registry_project.orchestration.translator import identifier

TEMPLATES = Path(__file__).with_name("templates")


class ModelPipelineScaffolder(Scaffolder):
    def scaffold(self, request: ScaffoldRequest) -> None:
        target = request.target_path
        target.mkdir(parents=True, exist_ok=True)
        model_name = target.name  # the folder's name; dataset keys use it as an identifier
        yaml_text = (TEMPLATES / "defs.yaml").read_text()
        (target / "defs.yaml").write_text(
            yaml_text.replace("{type_name}", request.type_name)
            .replace("{model}", model_name)
            .replace("{ident}", identifier(model_name))
        )
        (target / "model.py").write_text((TEMPLATES / "model.py").read_text())
