"""What the simulator adapters share: the template adapter and the translation log.

    template.py      `SimulatorBackend`: build() and collect() once; each adapter implements its hooks
    translations.py  `Translations` (the log of every change made to the model) and the grid and
                     fallback decisions as plain functions on a log, usable without a Backend
                     (GeNN's describe layer)
    caches.py        snnbench's cache directory for generated code, and fresh ones for cold runs
    devices.py       whether an NVIDIA GPU can be used here (the driver API)

Import from the submodules (base.py imports translations.py, template.py imports base.py).
"""
