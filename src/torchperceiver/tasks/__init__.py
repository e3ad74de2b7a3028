"""Tasks by name. A task = a model + a loss + metrics + data; the trainer sees only ``tasks/base.py``."""

from torchperceiver.tasks.base import Task, TaskOutput
from torchperceiver.tasks.mlm import MLMTask

TASKS: dict[str, type] = {MLMTask.name: MLMTask}

__all__ = ["TASKS", "MLMTask", "Task", "TaskOutput"]
