"""Neuron addressing: ``(layer, index)`` within one model, text form ``"L{layer}.N{index}"``.

``index`` is a coordinate of the input of the layer's MLP output projection, i.e. the MLP
post-activation (see DESIGN.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rosetta_filter.errors import ConfigError

_NEURON_RE = re.compile(r"^L(\d+)\.N(\d+)$")


@dataclass(frozen=True, slots=True, order=True)
class Neuron:
    layer: int
    index: int

    def __str__(self) -> str:
        return f"L{self.layer}.N{self.index}"

    @classmethod
    def parse(cls, text: str) -> Neuron:
        match = _NEURON_RE.match(text.strip())
        if match is None:
            raise ConfigError(
                f"neuron {text!r} is not of the form 'L{{layer}}.N{{index}}', e.g. 'L3.N512'",
                field="neuron",
                value=text,
            )
        return cls(int(match.group(1)), int(match.group(2)))
