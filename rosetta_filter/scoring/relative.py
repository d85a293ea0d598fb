"""The relative score (``neurons.relative``): a domain's head logit against every domain's.

Each domain head is fitted one domain against the rest, so what is left of its error sits at
the borders between domains (computer-algebra code against mathematics, a math library's
manual against code): a document there raises two heads at once, and one head alone cannot see
that another is surer. The relative score is the log-softmax of the domain's logit over all the
bank's domain heads, ``z_D - log(sum_d exp(z_d))``: monotone in ``z_D`` for fixed rivals, lower
where another domain's head is surer. It is a log-probability (at most 0), so
``selection.threshold`` reads as one.

A border head (``neurons.borders``, rule 20) is fit on two domains' documents alone; with it the
two domains' scores become ``log(p_a + p_b) + log sigmoid(+-z)`` (:func:`bordered_score`): the
domain heads decide "one of the two rather than anything else", the border head which one. The
two scores' probabilities still sum to ``p_a + p_b``, so every domain's scores stay a
distribution over the bank's domains.
"""

from __future__ import annotations

import numpy as np
import torch


def relative_scores(logits: np.ndarray) -> np.ndarray:
    """``(documents, domains)`` logits -> the same shape of log-softmax scores over domains."""
    logits = np.asarray(logits, dtype=np.float64)
    top = logits.max(axis=1, keepdims=True)
    return logits - (top + np.log(np.exp(logits - top).sum(axis=1, keepdims=True)))


def relative_score(own: torch.Tensor, rivals: list[torch.Tensor]) -> torch.Tensor:
    """The log-softmax of ``own`` over ``own`` and ``rivals`` (tensors of one shape)."""
    return own - torch.logsumexp(torch.stack([own, *rivals]), dim=0)


def bordered_score(
    own: torch.Tensor, partner: torch.Tensor, rivals: list[torch.Tensor], border: torch.Tensor
) -> torch.Tensor:
    """``log(p_own + p_partner) + log sigmoid(border)``: ``p`` the softmax of ``own`` over
    ``own`` and ``rivals`` (``partner`` among them), ``border`` the border head's logit signed
    toward ``own``."""
    everyone = torch.logsumexp(torch.stack([own, *rivals]), dim=0)
    return torch.logaddexp(own, partner) - everyone + torch.nn.functional.logsigmoid(border)
