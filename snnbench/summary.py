"""The figures of a run that go into its record: sizes, counts, rates, synaptic events."""

from __future__ import annotations

from .output import SimulationOutput
from .record import Figures, PopulationResult, Resolved
from .scenario.resolve import ResolvedScenario


def summarise(output: SimulationOutput, resolved: ResolvedScenario) -> Figures:
    transient = resolved.scenario.run.transient
    simtime = resolved.simtime
    pops: dict[str, PopulationResult] = {}
    for name, pop in output.populations.items():
        pops[name] = PopulationResult.model_validate(dict(
            size=int(pop.size),
            cell_type=pop.cell_type,
            recorded=int(pop.recorded.size),
            spikes=int(pop.n_spikes),
            rate_hz=pop.rate_hz(0.0, simtime),
            rate_hz_after_transient=pop.rate_hz(transient, simtime) if transient < simtime else None,
        ), strict=False)
    # Synaptic events: each spike of a presynaptic population reaches its mean out-degree of
    # targets per projection (spike counts of partly recorded populations are scaled up). Plastic
    # events are those of plastic projections alone (with plasticity off, none are: the projections
    # the run made static are static): each updates a weight, the cost a fit's plastic term measures.
    events = plastic_events = 0.0
    for proj in resolved.projections:
        pre = output.populations[proj.pre]
        n_syn = output.synapses.get(proj.label, 0)
        if pre.recorded.size:
            n = pre.n_spikes * (pre.size / pre.recorded.size) * n_syn / pre.size
            events += n
            plastic_events += n if proj.spec.plastic else 0.0
    has_plastic = any(p.plastic for p in resolved.scenario.projections)
    plasticity = {"plasticity": "off" if resolved.overrides.plasticity == "off" else "on"} if has_plastic else {}
    extra = {"weights": {label: w.summary() for label, w in output.weights.items()}} if output.weights else {}
    return Figures.model_validate(dict(
        **extra,
        neurons=resolved.N_pop,
        sources=sum(p.size for p in resolved.sources.values()),
        synapses=int(output.n_synapses),  # numpy integers would pass as floats
        synapses_per_projection=dict(output.synapses),
        populations=pops,
        synaptic_events=float(events),
        plastic_synaptic_events=float(plastic_events),
        resolved=Resolved.model_validate(dict(N_pop=resolved.N_pop, scale=resolved.scale, simtime=simtime, dt=resolved.dt,
                                              seed=resolved.seed, transient=transient, **plasticity,
                                              **({"cut": resolved.cut} if resolved.cut else {})), strict=False),
    ), strict=False)
