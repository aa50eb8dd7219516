"""What the simulator adapters share: the template adapter and the translation log.

    template.py      `SimulatorBackend`: build() and collect() once; each adapter implements its hooks
    translations.py  `Translations` (the log of every change made to the model) and the grid and
                     fallback decisions as plain functions on a log, usable without a Backend
                     (GeNN's describe layer)

Import from the submodules (base.py imports translations.py, template.py imports base.py).
"""
