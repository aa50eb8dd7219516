"""Backends: one module per simulator, imported only when used.

`BACKENDS` maps each backend's name to "module:class". Backend modules import their simulator
inside `Backend.load()`, never at module import, so listing backends stays cheap.
"""

from __future__ import annotations

import importlib

from .base import Backend, BackendUnavailable

BACKENDS: dict[str, str] = {
    "numba": "snnbench.backends.numba_native:NumbaBackend",
    "nest": "snnbench.backends.nest:NestBackend",
}


def backend_names() -> list[str]:
    return list(BACKENDS)


def backend_class(name: str) -> type[Backend]:
    try:
        target = BACKENDS[name]
    except KeyError:
        raise KeyError(f"unknown backend {name!r}; known backends: {', '.join(BACKENDS)}") from None
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)


__all__ = ["BACKENDS", "Backend", "BackendUnavailable", "backend_class", "backend_names"]
