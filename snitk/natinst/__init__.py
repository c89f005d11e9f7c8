"""The natural-instructions dataset: task schema, corpus (tracks, splits, selections) and download."""

from snitk.natinst.schema import Example, Instance, Task, load_task, parse_task

__all__ = ["Example", "Instance", "Task", "load_task", "parse_task"]
