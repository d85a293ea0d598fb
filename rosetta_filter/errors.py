"""The one exception hierarchy of rosetta-filter.

Every error a user can cause (a bad config, a model that does not load, a bank that does not
match, an unreadable source) is a :class:`RosettaError` subclass carrying the offending
``field`` and ``value`` where that makes sense, so the CLI and the HTTP service can answer with
one envelope. A bad *record* in a corpus is not an exception: it is a counted skip reason.
"""

from __future__ import annotations

from typing import Any


class RosettaError(Exception):
    """Base class: a message written for the user, plus the field and value at fault."""

    def __init__(self, message: str, *, field: str | None = None, value: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.value = value


class ConfigError(RosettaError):
    """A configuration value is missing, malformed or inconsistent."""


class ModelError(RosettaError):
    """A model cannot be found, fetched, verified or loaded."""


class UnsupportedArchitecture(ModelError):
    """No neuron tap is known for this model family."""


class BankError(RosettaError):
    """A neuron bank is missing, malformed or does not match the model."""


class SourceError(RosettaError):
    """A data source cannot be opened or read."""


class ShardError(RosettaError):
    """Output shards cannot be written, or a run directory is inconsistent."""
