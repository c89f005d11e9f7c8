"""T5 / T5-1.1 / LM-adapt / mT5 in Flax: configs, network, decoding, checkpoints.

Light at import time: `T5Config`, presets and `EncoderDecoderModel` are loaded on first use.
"""

from __future__ import annotations

from typing import Any

from snitk.models.configs import PRESETS, T5Config, get_preset

__all__ = ["PRESETS", "T5Config", "get_preset", "num_params", "EncoderDecoderModel", "Transformer"]


def __getattr__(name: str) -> Any:
    if name == "EncoderDecoderModel":
        from snitk.models.model import EncoderDecoderModel

        return EncoderDecoderModel
    if name == "num_params":
        from snitk.models.model import num_params

        return num_params
    if name == "Transformer":
        from snitk.models.t5 import Transformer

        return Transformer
    raise AttributeError(name)
