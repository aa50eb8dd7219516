"""Backends: one module per simulator, and the registry of their classes.

Each adapter is a `Backend` subclass that says what it is in class attributes: `name`,
`packages` (its provenance), `runs_on` (CPU, GPU, board), `accepted_options`, the cell types
and connectors it supports. `register()` below adds each class once; everything that needs the
list of backends (the CLI, provenance, the asv suites, the tests) asks this registry. Adapter
modules import their simulator inside `Backend.load()`, never at module import, so importing
them all here stays cheap and a backend's options are validated without its simulator.

Adapters that live outside this package are added with the environment variable
SNNBENCH_EXTRA_BACKENDS="name=module:Class,other=module:Class" (read in every process, so
isolated child runs see them too); they are imported when first asked for.
"""

from __future__ import annotations

import importlib
import os

from . import annarchy, bindsnet, brainpy, brian2, genn, nest, numba_native, pynn_nest, spinnaker
from .base import RUNS_ON, Backend, BackendUnavailable, Option, OptionError

REGISTRY: dict[str, type[Backend]] = {}


def register(cls: type[Backend]) -> type[Backend]:
    """Add a backend class to the registry under its `name`."""
    if cls.name in REGISTRY and REGISTRY[cls.name] is not cls:
        raise ValueError(f"backend name {cls.name!r} registered twice ({REGISTRY[cls.name].__qualname__}, {cls.__qualname__})")
    REGISTRY[cls.name] = cls
    return cls


register(numba_native.NumbaBackend)
register(nest.NestBackend)
register(brian2.Brian2Backend)
register(brian2.Brian2StandaloneBackend)
register(bindsnet.BindsNETBackend)
register(pynn_nest.PyNNNestBackend)
register(spinnaker.SpiNNakerBackend)
register(genn.GeNNBackend)
register(genn.GeNNCudaBackend)
register(annarchy.ANNarchyBackend)
register(annarchy.ANNarchyCudaBackend)
register(brainpy.BrainPyBackend)
register(brainpy.BrainPyGpuBackend)


def _extra_backends() -> dict[str, str]:
    extra = {}
    for item in os.environ.get("SNNBENCH_EXTRA_BACKENDS", "").split(","):
        if item.strip():
            name, _, target = item.partition("=")
            extra[name.strip()] = target.strip()
    return extra


def backend_names(runs_on: str | None = None) -> list[str]:
    """Registered backends, then SNNBENCH_EXTRA_BACKENDS; with `runs_on`, only the registered
    backends that run there ("CPU", "GPU" or "board")."""
    if runs_on is not None:
        if runs_on not in RUNS_ON:
            raise ValueError(f"runs_on must be one of {', '.join(RUNS_ON)}, not {runs_on!r}")
        return [name for name, cls in REGISTRY.items() if runs_on in cls.runs_on]
    return list(REGISTRY) + [name for name in _extra_backends() if name not in REGISTRY]


def backend_class(name: str) -> type[Backend]:
    if name in REGISTRY:
        return REGISTRY[name]
    extra = _extra_backends()
    if name not in extra:
        raise KeyError(f"unknown backend {name!r}; known backends: {', '.join(backend_names())}")
    module, _, cls = extra[name].partition(":")
    return getattr(importlib.import_module(module), cls)


__all__ = ["REGISTRY", "RUNS_ON", "Backend", "BackendUnavailable", "Option", "OptionError", "backend_class",
           "backend_names", "register"]
