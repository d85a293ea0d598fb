"""The serving configuration: the model and neurons of ``rosetta-filter run``, plus the server's
own settings (address, auth, request limits, queue, timeouts, the /v1/filter threshold).

Model, neuron, scoring and batching sections are the library's own models, so a run config's
sections paste into a serve config unchanged and both score identically.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, model_validator

from rosetta_filter.config import (
    BatchingConfig,
    ModelConfig,
    NeuronsConfig,
    ScoringConfig,
    Strict,
    check_cascade_backend,
)

API_KEY_ENV = "ROSETTA_FILTER_API_KEY"
DEFAULT_SET = "default"
_MICROBATCH_PASSES = 4
_SET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class NeuronSetConfig(NeuronsConfig):
    """A named extra neuron set a request can ask for (``neuron_set``), e.g. another domain."""

    threshold: float | None = Field(
        None, description="/v1/filter threshold for this set (default: server.threshold)"
    )


class ServerConfig(Strict):
    """Address, auth, limits and overload behaviour of the HTTP service."""

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535, description="0: any free port")
    workers: int = Field(
        1, ge=1, description="server processes; each loads its own model and batcher"
    )
    api_key: str | None = Field(
        None,
        description=f"bearer token required on every route but /healthz and /readyz "
        f"(default: the {API_KEY_ENV} environment variable; neither set: no auth)",
    )
    max_docs_per_request: int = Field(256, ge=1, description="documents per request (413)")
    max_tokens_per_request: int = Field(
        65_536,
        ge=1,
        description="tokens one request may put on the model, as scored (after truncation or "
        "windows; 413): bounds the model time any one client can take",
    )
    max_request_bytes: int = Field(8 << 20, ge=1024, description="request body bytes (413)")
    max_doc_chars: int = Field(100_000, ge=1, description="characters per document")
    long_doc_policy: Literal["truncate", "reject"] = Field(
        "truncate", description="a document over max_doc_chars: cut it, or answer 413"
    )
    max_queue_docs: int = Field(
        4096, ge=1, description="documents waiting for the model; beyond it requests get 429"
    )
    microbatch_tokens: int | None = Field(
        None,
        ge=16,
        description="tokens gathered across requests per model step (default: 4 x "
        "batching.batch_tokens); the engine still packs each forward pass under batch_tokens",
    )
    request_timeout_s: float = Field(
        60.0, gt=0, description="queueing + scoring time per request before a 503"
    )
    shutdown_timeout_s: float = Field(
        30.0, ge=0, description="on SIGTERM: how long in-flight requests may take to finish"
    )
    threshold: float = Field(0.0, description="/v1/filter keeps documents with score >= this")
    max_connections: int = Field(
        1000,
        ge=1,
        description="open connections and requests at once; beyond it uvicorn answers 503 "
        "(slow or idle clients cannot take every file descriptor)",
    )
    keep_alive_s: float = Field(
        5.0, gt=0, description="an idle keep-alive connection is closed after this"
    )

    @model_validator(mode="after")
    def _queue_fits_a_request(self) -> ServerConfig:
        if self.max_docs_per_request > self.max_queue_docs:
            raise ValueError(
                f"server.max_docs_per_request={self.max_docs_per_request} exceeds "
                f"server.max_queue_docs={self.max_queue_docs}: a full-size request could never "
                "be queued; lower the first or raise the second"
            )
        return self


class ServeConfig(Strict):
    """`rosetta-filter serve CONFIG`: ``neurons`` is the default set, ``neuron_sets`` extra ones."""

    model: ModelConfig
    neurons: NeuronsConfig
    neuron_sets: dict[str, NeuronSetConfig] = Field(
        default_factory=dict, description="extra named neuron sets a request may select"
    )
    scoring: ScoringConfig = ScoringConfig()
    batching: BatchingConfig = BatchingConfig()
    server: ServerConfig = ServerConfig()

    @model_validator(mode="after")
    def _cascade_on_hf(self) -> ServeConfig:
        check_cascade_backend(self.model, self.neurons)
        return self

    @model_validator(mode="after")
    def _sets_are_usable(self) -> ServeConfig:
        for name in self.neuron_sets:
            if name == DEFAULT_SET or not _SET_NAME.match(name):
                raise ValueError(
                    f"neuron_sets.{name}: a set name is 1-64 letters, digits, '_', '.' or '-' "
                    f"and not {DEFAULT_SET!r} (that is the top-level neurons section)"
                )
        sets = {"neurons": self.neurons} | {
            f"neuron_sets.{k}": v for k, v in self.neuron_sets.items()
        }
        for where, neurons in sets.items():
            if neurons.explicit is not None and not any(w.weight for w in neurons.explicit):
                raise ValueError(
                    f"{where}.explicit: every weight is 0, so no score is defined; give at "
                    "least one neuron a non-zero weight"
                )
        return self

    @property
    def microbatch_tokens(self) -> int:
        """Default: 4 forward passes' worth. The engine sorts a micro-batch by length before
        packing it, so more documents to sort means less padding: on bench/service.py's
        mixed-length documents, 16 vs 32 per micro-batch pad to 1.50 vs 1.32 tokens per token."""
        return self.server.microbatch_tokens or _MICROBATCH_PASSES * self.batching.batch_tokens
