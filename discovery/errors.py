"""Discovery's errors: a :class:`~rosetta_filter.errors.RosettaError`, so the CLI and the service
answer them with the same envelope as the core's."""

from __future__ import annotations

from rosetta_filter.errors import RosettaError


class DiscoveryError(RosettaError):
    """Discovery cannot proceed (no shared spans, an empty domain, ...)."""
