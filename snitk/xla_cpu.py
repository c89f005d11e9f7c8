"""XLA:CPU settings for small models on a few CPU cores (the demo and the tiny-scale scripts)."""

from __future__ import annotations

import os
from typing import MutableMapping

# jaxlib 0.10 routes CPU dot fusions through YNNPACK, whose per-call scratch buffers are freshly
# mapped and page-faulted on every step; with small matrices (width 128-512) that costs ~30% of
# a demo training step in kernel time. Turning those fusions off falls back to XLA's own kernels
# (same results; measured in BENCHMARKS.md, "CPU demo step").
YNN_FUSION_FLAG = "xla_cpu_experimental_ynn_fusion_type"
YNN_FUSIONS_OFF = f"--{YNN_FUSION_FLAG}="  # an empty list of fusion kinds


def use_small_model_cpu_flags(environ: MutableMapping[str, str] | None = None) -> bool:
    """Append `YNN_FUSIONS_OFF` to `XLA_FLAGS` unless the user already set that flag.

    Takes effect only when called before JAX creates its CPU backend (the first computation).
    Returns True when the flag was added.
    """
    env = os.environ if environ is None else environ
    flags = env.get("XLA_FLAGS", "")
    if YNN_FUSION_FLAG in flags:
        return False
    env["XLA_FLAGS"] = f"{flags} {YNN_FUSIONS_OFF}".strip()
    return True
