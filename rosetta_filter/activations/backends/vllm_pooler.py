"""The vLLM pooler of the tap model: per document, the selected neurons' post-activations over
its content tokens, pooled with the project's own :func:`rosetta_filter.activations.pooling.pool`
(task ``embed``) or returned per token (task ``token_embed``).

Each request is one window of :class:`rosetta_filter.activations.tokenize.TextTokenizer`; its
``PoolingParams.extra_kwargs`` say where the content starts and how long it is, so special
tokens (BOS, ...) are excluded exactly as the hf engine excludes them, and carry the pooling
parameters (``top_k``, ``threshold``). Without them (vLLM's warm-up run) every token counts.
"""

from __future__ import annotations

from collections.abc import Set

import torch
from torch.nn.utils.rnn import pad_sequence
from vllm.model_executor.layers.pooler import Pooler
from vllm.model_executor.layers.pooler.tokwise.methods import AllPool
from vllm.tasks import PoolingTask
from vllm.v1.outputs import PoolerOutput
from vllm.v1.pool.metadata import PoolingMetadata

from rosetta_filter.activations.forward import PoolingParams
from rosetta_filter.activations.pooling import pool

POOLED_TASK: PoolingTask = "embed"  # output (len(methods), n_neurons) per document
TOKENS_TASK: PoolingTask = "token_embed"  # output (content tokens, n_neurons) per window
_DEFAULT = PoolingParams()  # for vLLM's warm-up run, which sends no extra_kwargs


class NeuronPooler(Pooler):
    def __init__(self) -> None:
        super().__init__()
        # vLLM's own per-sequence gatherer: it keeps the chunks of a prompt that a chunked
        # prefill spread over several steps and hands over the whole prompt once finished.
        self.gather = AllPool()

    def get_supported_tasks(self) -> Set[PoolingTask]:
        return {POOLED_TASK, TOKENS_TASK}

    def forward(
        self, hidden_states: torch.Tensor, pooling_metadata: PoolingMetadata
    ) -> PoolerOutput:
        per_prompt = self.gather(hidden_states, pooling_metadata)  # (prompt tokens, n) | None
        out: list[torch.Tensor | None] = [None] * len(per_prompt)
        to_pool: dict[tuple[int, float], list[tuple[int, torch.Tensor]]] = {}
        for i, (acts, params) in enumerate(
            zip(per_prompt, pooling_metadata.pooling_params, strict=True)
        ):
            if acts is None:  # prefill not finished yet
                continue
            extra = params.extra_kwargs or {}
            start = extra.get("content_start", 0)
            content = acts[start : start + extra.get("n_content", acts.shape[0] - start)]
            if params.task == TOKENS_TASK:
                out[i] = content
            else:
                key = (
                    extra.get("top_k", _DEFAULT.top_k),
                    extra.get("threshold", _DEFAULT.threshold),
                    tuple(extra.get("methods", _DEFAULT.methods)),
                )
                to_pool.setdefault(key, []).append((i, content))
        for (top_k, threshold, methods), docs in to_pool.items():
            pooled = _pool([c for _, c in docs], top_k, threshold, methods)
            for (i, _), row in zip(docs, pooled, strict=True):
                out[i] = row
        return out


def _pool(
    contents: list[torch.Tensor], top_k: int, threshold: float, methods: tuple[str, ...]
) -> torch.Tensor:
    """Documents pooled together: (docs, len(methods), n_neurons)."""
    acts = pad_sequence(contents, batch_first=True)  # (docs, longest, n_neurons)
    lengths = torch.tensor([c.shape[0] for c in contents], device=acts.device)
    mask = torch.arange(acts.shape[1], device=acts.device) < lengths[:, None]  # (docs, longest)
    pooled = [pool(acts, mask, m, top_k=top_k, threshold=threshold) for m in methods]
    return torch.stack(pooled, dim=1)
