"""SONATA circuits as snnbench scenarios.

A scenario's `[sonata]` table names a SONATA circuit (a circuit config, or node and edge files
with their type CSVs) and optionally a simulation config whose inputs drive the virtual nodes.
When the scenario is loaded (`expand`), every SONATA node type becomes one snnbench population
(snnbench's populations are homogeneous: one cell type, one parameter set, as a SONATA node
type is), translated by the declarative table of `nest_models`; the edges become projections per
(edge population, source node type, target node type, receptor) whose arrays stay in the HDF5
file and are read at realisation time (`files.projection_arrays`). `slicing` cuts a circuit with
positions to a disc or to the n cells nearest its centre; `column` builds the synthetic V1-like
column with bmtk's NetworkBuilder.
"""
