"""The task-agnostic training engine: trainer, optimizers, checkpoints, distributed, logging."""

from torchperceiver.training.optim import Lamb, OptimConfig
from torchperceiver.training.trainer import Diverged, FitResult, Interrupted, TrainConfig, Trainer

__all__ = ["Diverged", "FitResult", "Interrupted", "Lamb", "OptimConfig", "TrainConfig", "Trainer"]
