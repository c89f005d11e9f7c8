"""Importing this module registers the demo's pre-training task `snitk_demo_pretrain` (gin files:
`import snitk.demo.pretrain_task`); see `snitk.demo.pretrain`."""

from snitk.demo.pretrain import register

register()
