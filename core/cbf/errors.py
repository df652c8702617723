"""Errors that the CLI prints as one clear line instead of a traceback."""
from __future__ import annotations

from cbf.config.binding import ConfigError
from cbf.config.recipe import RecipeError
from cbf.registry import RegistryError


class DataError(ValueError):
    """Bad input data: names the file and, where there is one, the row or line."""


class CheckpointError(ValueError):
    """A missing, truncated or incompatible checkpoint."""


class TrainingError(RuntimeError):
    """Training cannot go on (e.g. a non-finite loss); names the step and objective."""


#: Everything the CLI reports as ``cbf CMD: error: ...`` without a traceback.
UserError = (ConfigError, RecipeError, RegistryError, DataError, CheckpointError, TrainingError,
             FileNotFoundError)
