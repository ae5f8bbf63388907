"""One exception hierarchy for the whole registry.

Every message says what went wrong *and* what to do about it, so that the CLI and the
Dagster layer can show it to a person as it is, without a traceback.
"""

from __future__ import annotations


class RegistryError(Exception):
    """Base class of every error the registry raises on purpose."""


# --- bad input -------------------------------------------------------------------------


class InvalidInputError(RegistryError, ValueError):
    """An argument is malformed; nothing was written."""


class InvalidNameError(InvalidInputError):
    """A model or dataset name does not match the allowed pattern."""


class InvalidReferenceError(InvalidInputError):
    """A version reference is not a UUID, `name/N` or `name@stage`."""


class InvalidMetricError(InvalidInputError):
    """A metric is not a finite number or its key is malformed."""


class InvalidParamsError(InvalidInputError):
    """Run parameters are not JSON-serialisable or too large."""


class InvalidTransitionError(InvalidInputError):
    """The requested stage change is not allowed from the version's current stage."""


class UnsafeFlavorError(RegistryError):
    """A pickle-based flavor was refused because the registry was opened with allow_pickle=False."""


class FlavorError(RegistryError):
    """No flavor can (de)serialise this object, or the flavor is unknown."""


# --- lookups ---------------------------------------------------------------------------


class NotFoundError(RegistryError, LookupError):
    """The thing referred to does not exist."""


class ModelNotFoundError(NotFoundError):
    pass


class VersionNotFoundError(NotFoundError):
    pass


class DatasetNotFoundError(NotFoundError):
    pass


class RunNotFoundError(NotFoundError):
    pass


class ArtifactNotFoundError(NotFoundError):
    """A run has no artifact of that name (see `ModelRegistry.run_artifacts`)."""


class BlobNotFoundError(NotFoundError):
    """A blob the metadata points at is missing from the blob store."""


# --- state conflicts -------------------------------------------------------------------


class ConflictError(RegistryError):
    """Somebody else changed the registry first; re-read and retry."""

    retriable = True


class PromotionConflictError(ConflictError):
    """Compare-and-swap failed: production is no longer what the caller expected."""


class AliasConflictError(ConflictError):
    """Compare-and-swap failed: the alias no longer points where the caller expected."""


class ApprovalRequiredError(RegistryError):
    """The promotion policy requires an approval that has not been recorded."""


class FilterError(InvalidInputError):
    """A filter (`search`) that does not parse or names what does not exist; `position` is
    the 0-based offset the message points at, `pointer` the filter with a caret under it."""

    def __init__(self, message: str, *, position: int, pointer: str = "") -> None:
        super().__init__(message)
        self.position = position
        self.pointer = pointer


class ApprovalError(InvalidInputError):
    """An approval is not allowed (for instance the registrant approving their own version)."""


class DatasetInUseError(RegistryError):
    """A dataset cannot be deleted because model versions depend on it."""

    def __init__(self, message: str, dependents: tuple[object, ...] = ()) -> None:
        super().__init__(message)
        self.dependents = dependents


class DatasetDeletedError(RegistryError):
    """The dataset's bytes were deleted; only its tombstone remains."""


class ArtifactRetiredError(RegistryError):
    """A version's artifact bytes were retired by a retention policy; its record remains."""


class ReproductionRefusedError(RegistryError):
    """A version's record cannot be rebuilt as it was: deleted input data, a reference
    whose bytes the registry does not hold, no code commit, a dirty or unknown commit."""


class ReproductionFailedError(RegistryError):
    """The training function failed while reproducing a version; nothing was recorded."""


# --- integrity and configuration -------------------------------------------------------


class IntegrityCheckError(RegistryError):
    """Stored bytes do not match their recorded SHA-256 digest; they were not deserialised."""


class PermissionDeniedError(RegistryError):
    """The database refused the write for the connected role (PostgreSQL identity mode)."""


class StorageError(RegistryError):
    """The metadata database or the blob store failed or could not be reached."""


class SchemaVersionError(StorageError):
    """The database schema is older (or newer) than this version of the registry expects."""


class ConfigurationError(RegistryError):
    """The registry configuration (URLs, roots, environment variables) is unusable."""


class RegistryNotFoundError(ConfigurationError):
    """There is no registry where the configuration points, and none was to be created."""

    def __init__(self, message: str, location: str) -> None:
        super().__init__(message)
        self.location = location  # the database URL that was looked at, password masked


# --- interoperability (migration from and export to MLflow) ------------------------------


class MissingExtraError(ConfigurationError):
    """An optional dependency (an extra such as `mlflow`) is not installed."""


class ImportSourceError(RegistryError):
    """The registry being imported from (MLflow) cannot be read, or one of its items."""
