"""Step 3, the code location: `dagster dev -m examples.breast_cancer.definitions`."""

from examples.breast_cancer.data import breast_cancer
from examples.breast_cancer.model import cancer, cancer_split, malignancy_report
from registry_project.orchestration import ModelRegistryResource

# Your own assets: the data, the split, and what uses the production model.
PROJECT_ASSETS = [breast_cancer, cancer_split, malignancy_report]

defs = cancer.definitions(
    extra_assets=PROJECT_ASSETS,
    resources={"registry": ModelRegistryResource()},  # REGISTRY_DATABASE_URL, ... or ./.registry
)
