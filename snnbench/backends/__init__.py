"""Backends: one module per simulator, imported only when used.

`BACKENDS` maps each backend's name to "module:class". Backend modules import their simulator
inside `Backend.load()`, never at module import, so listing backends stays cheap.

Adapters that live outside this package are added with the environment variable
SNNBENCH_EXTRA_BACKENDS="name=module:Class,other=module:Class" (read in every process, so
isolated child runs see them too).
"""

from __future__ import annotations

import importlib
import os

from .base import Backend, BackendUnavailable

BACKENDS: dict[str, str] = {
    "numba": "snnbench.backends.numba_native:NumbaBackend",
    "nest": "snnbench.backends.nest:NestBackend",
    "brian2": "snnbench.backends.brian2:Brian2Backend",
    "brian2.standalone": "snnbench.backends.brian2:Brian2StandaloneBackend",
    "bindsnet": "snnbench.backends.bindsnet:BindsNETBackend",
    "pynn.nest": "snnbench.backends.pynn_nest:PyNNNestBackend",
    "spinnaker": "snnbench.backends.spinnaker:SpiNNakerBackend",
    "genn": "snnbench.backends.genn:GeNNBackend",
    "genn.cuda": "snnbench.backends.genn:GeNNCudaBackend",
}


def _extra_backends() -> dict[str, str]:
    extra = {}
    for item in os.environ.get("SNNBENCH_EXTRA_BACKENDS", "").split(","):
        if item.strip():
            name, _, target = item.partition("=")
            extra[name.strip()] = target.strip()
    return extra


def all_backends() -> dict[str, str]:
    return {**BACKENDS, **_extra_backends()}


def backend_names() -> list[str]:
    return list(all_backends())


def backend_class(name: str) -> type[Backend]:
    try:
        target = all_backends()[name]
    except KeyError:
        raise KeyError(f"unknown backend {name!r}; known backends: {', '.join(all_backends())}") from None
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)


__all__ = ["BACKENDS", "Backend", "BackendUnavailable", "all_backends", "backend_class", "backend_names"]
