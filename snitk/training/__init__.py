"""Sharded, resumable training (gin-configured, t5x style): ``python -m snitk.train``.

Modules: ``partitioning`` (mesh + logical axis rules), ``optim`` (Adafactor/AdamW, schedules),
``trainer`` (sharded train step, microbatches), ``data`` (per-process batch rows), ``data_order``
(seeded per-epoch order, row cursors), ``sources`` (examples by index), ``packing`` (row layout),
``checkpoints`` (orbax), ``config`` (gin), ``dry_run`` (memory planning), ``train`` (entry point).
"""
