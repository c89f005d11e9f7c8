"""Evaluation with the official Super-NaturalInstructions protocol.

- `snitk.eval.metrics`: exact match / ROUGE-1 / ROUGE-L as the official scorer computes them (both tracks).
- `snitk.eval.evaluate`: decode the held-out test tasks from a checkpoint, write predictions and metrics.
- `snitk.eval.baselines`: the copy-input / copy-demo heuristic baselines.
- `snitk.eval.bootstrap`: hierarchical bootstrap (tasks, then instances), paired tests, Holm (numpy only).
- `snitk.eval.intervals`: per-instance scores (instance_scores.jsonl) and the 95% intervals in metrics.json.
- `snitk.eval.report`, `snitk.eval.compare`: Markdown tables, paired comparisons of runs, plots.
- `snitk.eval.hook`: a small-subset evaluation hook for the trainer.

Command line: ``python -m snitk.eval --help``. Submodules are imported lazily (no JAX or TensorFlow
at ``import snitk.eval``).
"""

from snitk.eval.metrics import compute_grouped_metrics, compute_metrics, normalize_answer  # noqa: F401
