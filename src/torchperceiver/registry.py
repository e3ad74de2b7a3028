"""Name → object registries that fill themselves: things register where they are defined (timm-style).

The model families under ``torchperceiver.models`` register presets, tasks, converters, adapters and CLI
commands with decorators when their package is imported. ``load_families()`` imports every family package it
finds there, so a new family is one new folder and nobody edits a central list.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")

_FAMILIES_PACKAGE = "torchperceiver.models"


def load_families() -> None:
    """Import the generic adapters and every family package under ``torchperceiver.models`` (cheap when done)."""
    importlib.import_module("torchperceiver.adapters")
    package = importlib.import_module(_FAMILIES_PACKAGE)
    for info in pkgutil.iter_modules(package.__path__):
        if info.ispkg:
            importlib.import_module(f"{_FAMILIES_PACKAGE}.{info.name}")


class Registry(Generic[T]):
    """Objects by name. ``what`` names the thing in errors: ``preset: expected one of [...], got 'x'``."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: ``@registry.register("name")``."""

        def add(obj: T) -> T:
            self.add(name, obj)
            return obj

        return add

    def add(self, name: str, obj: T) -> None:
        if name in self._items and self._items[name] is not obj:
            raise ValueError(f"{self.what} {name!r}: registered twice ({self._items[name]!r} and {obj!r})")
        self._items[name] = obj

    def get(self, name: str) -> T:
        load_families()
        if name not in self._items:
            raise ValueError(f"{self.what}: expected one of {self.names()}, got {name!r}")
        return self._items[name]

    def names(self) -> list[str]:
        load_families()
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        load_families()
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
