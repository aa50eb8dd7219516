"""The scenario model: a network written once, in PyNN's standard cell types and units.

A scenario file (TOML) is validated into these immutable pydantic models. Structure, types,
units and unknown keys are checked field by field; cross-references (projection endpoints,
weight units and signs, connector sizes) are checked by `Scenario._check_semantics`. Every
problem is reported with its key path (see `snnbench.scenario.errors`).

Units (PyNN): ms, mV, nA, uS, nF, Hz (and, where PyNN says so: nS, 1/ms, mV/ms). A number is taken in that unit; a string such as
"200 pF" is converted, and a string with the wrong dimension is an error.

Numbers must be finite (TOML has `nan` and `inf`; a string unit can overflow to infinity):
every float field refuses them, except the few where infinity means something and is written
out on purpose (`duration` of a Poisson source, the bounds of `normal_clipped`, the `velocity`
of a distance-dependent delay); NaN is refused everywhere.
"""

from __future__ import annotations

import math
import re
from functools import partial
from typing import Annotated, Any, Literal, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveInt,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_serializer,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic_core import PydanticCustomError

from .units import UnitError, to_standard

# ----------------------------------------------------------------------------- base


class Strict(BaseModel):
    """Immutable model that rejects unknown keys and says which keys it expected."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _reject_unknown_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            allowed = set(cls.model_fields)
            for key in data:
                if key not in allowed:
                    raise PydanticCustomError(
                        "unknown_key",
                        "unknown key '{key}'; expected one of: {allowed}",
                        {"key": key, "allowed": ", ".join(sorted(allowed))},
                    )
        return data


def _semantic_error(path: str, message: str) -> PydanticCustomError:
    """An error found by a cross-field check, located by its key path."""
    return PydanticCustomError("scenario", "{message}", {"path": path, "message": message})


# --------------------------------------------------------------------- unit-typed values


def _not_nan(value: float) -> float:
    if math.isnan(value):
        raise ValueError("expected a number, got nan")
    return value


# A float where +-inf means "unbounded" or "forever"; NaN is still refused.
MaybeInfinite = Annotated[float, Field(allow_inf_nan=True), AfterValidator(_not_nan)]


def _convert(value: Any, kind: str) -> Any:
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        try:
            return to_standard(value, kind)
        except UnitError as exc:
            raise ValueError(str(exc)) from None
    return value


def _convert_distribution(value: Any, kind: str) -> Any:
    """Convert a number, a unit string, or the numeric keys of a distribution table."""
    if isinstance(value, dict):
        converted = dict(value)
        for key in ("low", "high", "mu", "sigma"):
            if key in converted:
                try:
                    converted[key] = to_standard(converted[key], kind)
                except UnitError as exc:
                    raise ValueError(f"{key}: {exc}") from None
        return converted
    return _convert(value, kind)


def _unit(kind: str) -> BeforeValidator:
    return BeforeValidator(partial(_convert, kind=kind))


Time = Annotated[float, _unit("time")]
Voltage = Annotated[float, _unit("voltage")]
Current = Annotated[float, _unit("current")]
Capacitance = Annotated[float, _unit("capacitance")]
Rate = Annotated[float, _unit("rate")]
PositiveTime = Annotated[float, _unit("time"), Field(gt=0)]
NonNegativeTime = Annotated[float, _unit("time"), Field(ge=0)]


# --------------------------------------------------------------------------- distributions


class Uniform(Strict):
    """Uniform on [low, high) (PyNN RandomDistribution('uniform', low=, high=))."""

    distribution: Literal["uniform"]
    low: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if not self.low < self.high:
            raise ValueError(f"uniform needs low < high, got low={self.low}, high={self.high}")
        return self

    @property
    def bounds(self) -> tuple[float, float]:
        return self.low, self.high

    @property
    def mean(self) -> float:
        return 0.5 * (self.low + self.high)


class Normal(Strict):
    """Normal(mu, sigma) (PyNN RandomDistribution('normal', mu=, sigma=))."""

    distribution: Literal["normal"]
    mu: float
    sigma: Annotated[float, Field(ge=0)]

    @property
    def bounds(self) -> tuple[float, float]:
        return (-math.inf, math.inf) if self.sigma > 0 else (self.mu, self.mu)

    @property
    def mean(self) -> float:
        return self.mu


class NormalClipped(Strict):
    """Normal(mu, sigma) redrawn until inside [low, high] (PyNN 'normal_clipped')."""

    distribution: Literal["normal_clipped"]
    mu: float
    sigma: Annotated[float, Field(ge=0)]
    low: MaybeInfinite = -math.inf
    high: MaybeInfinite = math.inf

    @model_validator(mode="after")
    def _reachable(self) -> NormalClipped:
        if not self.low < self.high:
            raise ValueError(f"normal_clipped needs low < high, got low={self.low}, high={self.high}")
        if self.sigma == 0 and not self.low <= self.mu <= self.high:
            raise ValueError("normal_clipped with sigma 0 needs low <= mu <= high")
        # Redrawing from a window more than 6 sigma away from mu would never end.
        if self.sigma > 0:
            gap = max(self.low - self.mu, self.mu - self.high, 0.0)
            if gap > 6 * self.sigma:
                raise ValueError("normal_clipped window [low, high] is more than 6 sigma from mu")
        return self

    @property
    def bounds(self) -> tuple[float, float]:
        return self.low, self.high

    @property
    def mean(self) -> float:
        # The mean of the truncated normal; used only for sign checks and summaries.
        from scipy.stats import truncnorm

        if self.sigma == 0:
            return self.mu
        a, b = (self.low - self.mu) / self.sigma, (self.high - self.mu) / self.sigma
        return float(truncnorm.mean(a, b, loc=self.mu, scale=self.sigma))


Distribution = Annotated[Union[Uniform, Normal, NormalClipped], Field(discriminator="distribution")]


def _value(kind: str) -> Any:
    """A constant or a distribution of values of one physical kind."""
    return Annotated[Union[float, Distribution], BeforeValidator(partial(_convert_distribution, kind=kind))]


VoltageValue = _value("voltage")


class DistanceDelay(Strict):
    """A delay that grows with distance on a grid: offset + r / velocity (ms; r in sheet units,
    velocity in sheet units per ms; an infinite velocity makes every delay `offset`)."""

    distribution: Literal["distance"]
    offset: Annotated[float, Field(gt=0)]
    velocity: Annotated[MaybeInfinite, Field(gt=0)] = math.inf

    @property
    def bounds(self) -> tuple[float, float]:
        return (self.offset, math.inf) if math.isfinite(self.velocity) else (self.offset, self.offset)

    @property
    def mean(self) -> float:
        return self.offset


def _convert_delay(value: Any) -> Any:
    if isinstance(value, dict) and value.get("distribution") == "distance":
        converted = dict(value)
        if "offset" in converted:
            converted["offset"] = _convert(converted["offset"], "time")
        return converted
    return _convert_distribution(value, "time")


DelayValue = Annotated[
    Union[float, Annotated[Union[Uniform, Normal, NormalClipped, DistanceDelay], Field(discriminator="distribution")]],
    BeforeValidator(_convert_delay),
]


# ------------------------------------------------------------------------ cell parameters


PositiveCapacitance = Annotated[float, _unit("capacitance"), Field(gt=0)]
Conductance = Annotated[float, _unit("conductance"), Field(ge=0)]


def _reset_below(model, threshold_key: str):
    """v_reset must lie below the threshold (v_thresh, or AdEx's v_spike)."""
    threshold = getattr(model, threshold_key)
    if not model.v_reset < threshold:
        raise _semantic_error("v_reset", f"v_reset ({model.v_reset} mV) must be below {threshold_key} ({threshold} mV)")
    return model


class IFCurrDeltaParameters(Strict):
    """PyNN IF_curr_delta: the leaky integrate-and-fire membrane every IF_* type shares; synaptic
    input steps v (weights in mV). Defaults are PyNN's."""

    cm: PositiveCapacitance = 1.0
    tau_m: PositiveTime = 20.0
    tau_refrac: NonNegativeTime = 0.1
    v_rest: Voltage = -65.0
    v_reset: Voltage = -65.0
    v_thresh: Voltage = -50.0
    i_offset: Current = 0.0

    @model_validator(mode="after")
    def _reset_below_threshold(self):
        return _reset_below(self, "v_thresh")

    @property
    def resting_v(self) -> float:
        """The initial v when the scenario gives none."""
        return self.v_rest


class IFCurrExpParameters(IFCurrDeltaParameters):
    """PyNN IF_curr_exp (defaults are PyNN's)."""

    tau_syn_E: PositiveTime = 5.0
    tau_syn_I: PositiveTime = 5.0


class IFCondExpParameters(IFCurrExpParameters):
    """PyNN IF_cond_exp (defaults are PyNN's)."""

    e_rev_E: Voltage = 0.0
    e_rev_I: Voltage = -70.0


class IFCurrAlphaParameters(IFCurrExpParameters):
    """PyNN IF_curr_alpha: alpha-shaped current of time constant tau_syn (defaults are PyNN's)."""

    tau_syn_E: PositiveTime = 0.5
    tau_syn_I: PositiveTime = 0.5


class IFCondAlphaParameters(IFCondExpParameters):
    """PyNN IF_cond_alpha: alpha-shaped conductance of time constant tau_syn (defaults are PyNN's)."""

    tau_syn_E: PositiveTime = 0.3
    tau_syn_I: PositiveTime = 0.5


class EIFCondExpIsfaIstaParameters(Strict):
    """PyNN EIF_cond_exp_isfa_ista: the adaptive exponential integrate-and-fire cell (AdEx, Brette &
    Gerstner 2005) with exponential conductances. Defaults are PyNN's; a is in nS, b in nA."""

    cm: PositiveCapacitance = 0.281
    tau_refrac: NonNegativeTime = 0.1
    v_spike: Voltage = -40.0  # the spike is detected (and v reset) where v reaches v_spike
    v_reset: Voltage = -70.6
    v_rest: Voltage = -70.6
    tau_m: PositiveTime = 9.3667
    i_offset: Current = 0.0
    a: Annotated[float, _unit("conductance_nS")] = 4.0
    b: Current = 0.0805
    delta_T: Annotated[float, _unit("voltage"), Field(ge=0)] = 2.0
    tau_w: PositiveTime = 144.0
    v_thresh: Voltage = -50.4  # where the exponential term takes over
    e_rev_E: Voltage = 0.0
    tau_syn_E: PositiveTime = 5.0
    e_rev_I: Voltage = -80.0
    tau_syn_I: PositiveTime = 5.0

    @model_validator(mode="after")
    def _ordered_potentials(self):
        _reset_below(self, "v_spike")
        if self.delta_T > 0 and not self.v_thresh < self.v_spike:
            raise _semantic_error("v_spike", f"v_spike ({self.v_spike} mV) must be above v_thresh ({self.v_thresh} mV)")
        return self

    @property
    def resting_v(self) -> float:
        return self.v_rest


class IzhikevichParameters(Strict):
    """PyNN Izhikevich (Izhikevich 2003): dv/dt = 0.04 v^2 + 5 v + 140 - u + I, du/dt = a (b v - u);
    v >= 30 mV: v <- c, u <- u + d. a, b in 1/ms, c in mV, d in mV/ms; synaptic input steps v
    (weights in mV). Defaults are PyNN's."""

    a: Annotated[float, _unit("inverse_time")] = 0.02
    b: Annotated[float, _unit("inverse_time")] = 0.2
    c: Voltage = -65.0
    d: Annotated[float, _unit("voltage_rate")] = 2.0
    i_offset: Current = 0.0

    @property
    def resting_v(self) -> float:
        return -70.0  # PyNN's default initial v for this type (it has no resting-potential parameter)


class HHCondExpParameters(Strict):
    """PyNN HH_cond_exp: the single-compartment Hodgkin-Huxley cell of Traub & Miles (1991) with
    exponential conductances (NEST's hh_cond_exp_traub). Conductances in uS. Defaults are PyNN's."""

    gbar_Na: Conductance = 20.0
    gbar_K: Conductance = 6.0
    g_leak: Conductance = 0.01
    cm: PositiveCapacitance = 0.2
    v_offset: Voltage = -63.0  # shifts the gating rate functions ("V_T")
    e_rev_Na: Voltage = 50.0
    e_rev_K: Voltage = -90.0
    e_rev_leak: Voltage = -65.0
    e_rev_E: Voltage = 0.0
    e_rev_I: Voltage = -80.0
    tau_syn_E: PositiveTime = 0.2
    tau_syn_I: PositiveTime = 2.0
    i_offset: Current = 0.0

    @property
    def resting_v(self) -> float:
        return self.e_rev_leak


InverseTime = Annotated[float, _unit("inverse_time")]
PositiveRate = Annotated[float, _unit("inverse_time"), Field(gt=0)]
Fraction = Annotated[float, Field(ge=0, le=1)]
# The mechanisms of each GLIF variant (Teeter et al. 2018) as NEST's glif_psc flags:
# (spike_dependent_threshold, after_spike_currents, adapting_threshold).
GLIF_VARIANTS = {1: (False, False, False), 2: (True, False, False), 3: (False, True, False),
                 4: (True, True, False), 5: (True, True, True)}


class GLIFCurrAlphaParameters(Strict):
    """NEST's glif_psc (the Allen Institute's generalized LIF cells, Teeter et al. 2018, as the
    Billeh et al. 2020 V1 model uses them), a named extension of PyNN's set in PyNN's units. No
    PyNN standard type exists: the name follows PyNN's pattern (current-based, alpha-shaped PSCs).

    `variant` 1-5 is GLIF1 (LIF), GLIF2 (LIF_R: spike-dependent threshold, reset from the last v),
    GLIF3 (LIF_ASC: after-spike currents), GLIF4 (LIF_R_ASC), GLIF5 (LIF_R_ASC_A: adapting
    threshold); NEST's flags follow from it (GLIF_VARIANTS). `tau_syn` has one time constant per
    receptor port: projections name a port "syn1", "syn2", ... (NEST's receptor_type 1, 2, ...).
    The cell has no i_offset: glif_psc has no constant current. Defaults are glif_psc's."""

    variant: Literal[1, 2, 3, 4, 5] = 1
    cm: PositiveCapacitance = 0.05872  # NEST's C_m 58.72 pF
    tau_m: PositiveTime = 58.72 / 9.43  # C_m / g of NEST's defaults (g 9.43 nS)
    tau_refrac: PositiveTime = 3.75  # glif_psc needs t_ref > 0
    v_rest: Voltage = -78.85
    v_reset: Voltage = -78.85  # GLIF1/3; GLIF2/4/5 reset to v_rest + voltage_reset_fraction (v - v_rest) + voltage_reset_add
    v_thresh: Voltage = -51.68  # the threshold's constant part (NEST's V_th = th_inf + E_L)
    th_spike_add: Voltage = 0.37  # GLIF2/4/5: added to the threshold's spike component at each spike
    th_spike_decay: PositiveRate = 0.009  # its decay rate (1/ms)
    voltage_reset_fraction: Fraction = 0.20
    voltage_reset_add: Voltage = 18.51
    th_voltage_index: InverseTime = 0.005  # GLIF5: the threshold's voltage component (1/ms)
    th_voltage_decay: PositiveRate = 0.09
    asc_init: list[Current] = Field(default_factory=lambda: [0.0, 0.0])  # GLIF3/4/5: after-spike currents (nA)
    asc_decay: list[PositiveRate] = Field(default_factory=lambda: [0.003, 0.1])  # their decay rates (1/ms)
    asc_amps: list[Current] = Field(default_factory=lambda: [-0.00918, -0.19894])  # added at each spike (nA)
    asc_r: list[Fraction] = Field(default_factory=lambda: [1.0, 1.0])  # what is kept of each at a spike
    tau_syn: Annotated[list[PositiveTime], Field(min_length=1)] = Field(default_factory=lambda: [2.0])  # ms, per port

    @model_validator(mode="after")
    def _consistent(self):
        _reset_below(self, "v_thresh")
        sizes = {key: len(getattr(self, key)) for key in ("asc_init", "asc_decay", "asc_amps", "asc_r")}
        if self.has_asc and len(set(sizes.values())) != 1:
            raise _semantic_error("asc_decay", "asc_init, asc_decay, asc_amps and asc_r need one value per after-spike "
                                  f"current each, got {sizes}")
        return self

    @property
    def has_theta_spike(self) -> bool:
        return GLIF_VARIANTS[self.variant][0]

    @property
    def has_asc(self) -> bool:
        return GLIF_VARIANTS[self.variant][1]

    @property
    def has_theta_voltage(self) -> bool:
        return GLIF_VARIANTS[self.variant][2]

    @property
    def n_ports(self) -> int:
        return len(self.tau_syn)

    @property
    def resting_v(self) -> float:
        return self.v_rest


class PoissonParameters(Strict):
    """PyNN SpikeSourcePoisson: rate (Hz) from `start` for `duration` ms."""

    rate: Annotated[float, _unit("rate"), Field(ge=0)] = 1.0
    start: NonNegativeTime = 0.0
    duration: Annotated[MaybeInfinite, _unit("time"), Field(gt=0)] = math.inf


class ArrayParameters(Strict):
    """PyNN SpikeSourceArray: one list of times for every source, or one list per source."""

    spike_times: Union[list[Time], list[list[Time]]] = Field(default_factory=list)


class Record(Strict):
    """What is recorded: spikes of all cells (true), none (false) or the first n; v of the first k."""

    spikes: Union[bool, NonNegativeInt] = True
    v: NonNegativeInt = 0


class InitialValues(Strict):
    """Initial membrane potential; unset means v_rest (the type's resting potential: see
    `resting_v` of each parameter class)."""

    v: Union[VoltageValue, None] = None


class AdExInitialValues(InitialValues):
    """PyNN's initial values of EIF_cond_exp_isfa_ista: v, and the adaptation current w (nA)."""

    w: Current = 0.0


class IzhikevichInitialValues(InitialValues):
    """PyNN's initial values of Izhikevich: v (PyNN's default -70 mV), and the recovery variable u (mV/ms)."""

    u: Annotated[float, _unit("voltage_rate")] = -14.0


Gate = Annotated[float, Field(ge=0, le=1)]


class HHInitialValues(InitialValues):
    """PyNN's initial values of HH_cond_exp: v, and the gating variables (PyNN's defaults: Na
    channels closed, m = 0, h = 1; K channels closed, n = 0)."""

    m: Gate = 0.0
    h: Gate = 1.0
    n: Gate = 0.0


class Grid(Strict):
    """Cells on a rows x cols grid over the torus [0, 1)^2: cell i = r * cols + c sits at
    ((c + 0.5) / cols, (r + 0.5) / rows). N_pop scaling scales rows and cols by sqrt(scale)."""

    shape: tuple[PositiveInt, PositiveInt]
    torus: Literal[True] = True

    @property
    def size(self) -> int:
        return self.shape[0] * self.shape[1]


class SonataNodes(Strict):
    """The SONATA node type a population was made from (written by the `[sonata]` expansion)."""

    nodes_file: str
    node_types_file: str
    population: str  # the SONATA node population
    node_type_id: int
    model_template: str = ""


class _Population(Strict):
    size: Union[PositiveInt, None] = None  # given, or from the grid, or from `size_of`
    size_of: Union[str, None] = None  # this population has as many members as that one (e.g. one source per cell)
    grid: Union[Grid, None] = None
    scales: bool = True  # whether N_pop scaling applies to this population
    record: Record = Record()
    sonata: Union[SonataNodes, None] = None  # made from a SONATA node type (see snnbench.sonata)

    @model_validator(mode="after")
    def _one_size(self):
        given = [k for k in ("size", "size_of") if getattr(self, k) is not None]
        if self.grid is not None:
            if self.size_of is not None:
                raise _semantic_error("size_of", "a population on a grid takes its size from the grid")
            if self.size is not None and self.size != self.grid.size:
                raise _semantic_error("size", f"size {self.size} differs from the grid's {self.grid.size} cells")
            return self.model_copy(update={"size": self.grid.size})
        if len(given) != 1:
            raise _semantic_error("size", "give exactly one of size, size_of or grid")
        return self

    @property
    def is_source(self) -> bool:
        return self.cell_type.startswith("SpikeSource")  # type: ignore[attr-defined]


class IFCondExpPopulation(_Population):
    cell_type: Literal["IF_cond_exp"]
    parameters: IFCondExpParameters = IFCondExpParameters()
    initial_values: InitialValues = InitialValues()


class IFCurrExpPopulation(_Population):
    cell_type: Literal["IF_curr_exp"]
    parameters: IFCurrExpParameters = IFCurrExpParameters()
    initial_values: InitialValues = InitialValues()


class IFCurrAlphaPopulation(_Population):
    cell_type: Literal["IF_curr_alpha"]
    parameters: IFCurrAlphaParameters = IFCurrAlphaParameters()
    initial_values: InitialValues = InitialValues()


class IFCondAlphaPopulation(_Population):
    cell_type: Literal["IF_cond_alpha"]
    parameters: IFCondAlphaParameters = IFCondAlphaParameters()
    initial_values: InitialValues = InitialValues()


class IFCurrDeltaPopulation(_Population):
    cell_type: Literal["IF_curr_delta"]
    parameters: IFCurrDeltaParameters = IFCurrDeltaParameters()
    initial_values: InitialValues = InitialValues()


class AdExPopulation(_Population):
    cell_type: Literal["EIF_cond_exp_isfa_ista"]
    parameters: EIFCondExpIsfaIstaParameters = EIFCondExpIsfaIstaParameters()
    initial_values: AdExInitialValues = AdExInitialValues()


class IzhikevichPopulation(_Population):
    cell_type: Literal["Izhikevich"]
    parameters: IzhikevichParameters = IzhikevichParameters()
    initial_values: IzhikevichInitialValues = IzhikevichInitialValues()


class HHPopulation(_Population):
    cell_type: Literal["HH_cond_exp"]
    parameters: HHCondExpParameters = HHCondExpParameters()
    initial_values: HHInitialValues = HHInitialValues()


class GLIFPopulation(_Population):
    cell_type: Literal["GLIF_curr_alpha"]
    parameters: GLIFCurrAlphaParameters = GLIFCurrAlphaParameters()
    initial_values: InitialValues = InitialValues()


class PoissonSourcePopulation(_Population):
    cell_type: Literal["SpikeSourcePoisson"]
    scales: bool = False
    parameters: PoissonParameters = PoissonParameters()


class EventStream(Strict):
    """Spike times from an event-camera stream (x, y, t, p), as tonic makes them.

    Either a synthetic `generator` ("moving_dot": a bright dot of `radius` pixels moving at
    `speed` pixels/ms in `direction` degrees, wrapping at the edges) or a `file` (.npy structured
    array with fields x, y, t in microseconds, p; relative to the scenario file). `transforms`
    are tonic transforms by name with their keyword arguments. Source index = x + W y, plus W H p
    with `polarity = "separate"`.
    """

    sensor: tuple[PositiveInt, PositiveInt]  # width, height (pixels)
    polarity: Literal["merge", "separate"] = "merge"
    generator: Union[Literal["moving_dot"], None] = None
    file: Union[str, None] = None
    speed: Annotated[float, Field(ge=0)] = 0.1  # pixels per ms
    radius: Annotated[float, Field(gt=0)] = 3.0  # pixels
    direction: float = 0.0  # degrees
    start: Union[tuple[float, float], None] = None  # pixels; default: the sensor's centre
    duration: Union[PositiveTime, None] = None  # ms; default: the whole run
    seed: NonNegativeInt = 0
    transforms: list[dict[str, Any]] = Field(default_factory=list)

    @field_validator("file")
    @classmethod
    def _relative_to_scenario(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        base = (info.context or {}).get("base_dir")
        from pathlib import Path

        path = Path(value)
        if not path.is_absolute() and base is not None:
            path = Path(base) / path
        if not path.exists():
            raise ValueError(f"no event file {str(path)!r}")
        return str(path)

    @model_validator(mode="after")
    def _one_origin(self):
        if (self.generator is None) == (self.file is None):
            raise ValueError("give exactly one of generator or file")
        for spec in self.transforms:
            if "name" not in spec:
                raise ValueError("every transform needs a name (a tonic.transforms class)")
        return self

    @property
    def size(self) -> int:
        return self.sensor[0] * self.sensor[1] * (2 if self.polarity == "separate" else 1)


class SonataSpikes(Strict):
    """A SONATA spike file (/spikes/<population>/timestamps, node_ids) driving virtual nodes."""

    file: str
    population: str


class ArraySourcePopulation(_Population):
    cell_type: Literal["SpikeSourceArray"]
    scales: bool = False
    parameters: ArrayParameters = ArrayParameters()
    events: Union[EventStream, None] = None  # spike times from an event stream instead of parameters
    spike_file: Union[SonataSpikes, None] = None  # spike times from a SONATA spike file instead of parameters


Population = Annotated[
    Union[IFCondExpPopulation, IFCurrExpPopulation, IFCurrAlphaPopulation, IFCondAlphaPopulation, IFCurrDeltaPopulation,
          AdExPopulation, IzhikevichPopulation, HHPopulation, GLIFPopulation, PoissonSourcePopulation,
          ArraySourcePopulation],
    Field(discriminator="cell_type"),
]
# PyNN's standard cell types that a scenario can use (the names are PyNN's).
PYNN_CELL_TYPES = ("IF_cond_exp", "IF_curr_exp", "IF_curr_alpha", "IF_cond_alpha", "IF_curr_delta",
                   "EIF_cond_exp_isfa_ista", "Izhikevich", "HH_cond_exp")
# Every cell type: PyNN's, and the named extensions (NEST models PyNN has no standard type for).
CELL_TYPES = PYNN_CELL_TYPES + ("GLIF_curr_alpha",)
# Cells whose receptors are numbered ports (one synaptic time constant each) instead of PyNN's
# excitatory and inhibitory pair: projections onto them name a port, "syn1", "syn2", ...
MULTI_RECEPTOR = ("GLIF_curr_alpha",)
# What a weight onto each type means (PyNN's convention): a conductance (uS, >= 0), a current
# (nA; inhibitory <= 0) or a step of v (mV, PyNN's "voltage-based synapses"; inhibitory <= 0).
CONDUCTANCE_BASED = ("IF_cond_exp", "IF_cond_alpha", "EIF_cond_exp_isfa_ista", "HH_cond_exp")
VOLTAGE_STEP = ("IF_curr_delta", "Izhikevich")
SOURCE_TYPES = ("SpikeSourcePoisson", "SpikeSourceArray")


# ------------------------------------------------------------------------------ connectors


class FixedProbability(Strict):
    """Each pair connected with probability p (PyNN FixedProbabilityConnector)."""

    type: Literal["fixed_probability"]
    p: Annotated[float, Field(ge=0, le=1)]
    allow_self_connections: bool = True


class FixedInDegree(Strict):
    """Every post cell gets n pre cells (PyNN FixedNumberPreConnector)."""

    type: Literal["fixed_in_degree"]
    n: NonNegativeInt
    allow_self_connections: bool = True
    with_replacement: bool = False


class FixedTotalNumber(Strict):
    """n connections drawn uniformly over all pairs (PyNN FixedTotalNumberConnector)."""

    type: Literal["fixed_total_number"]
    n: NonNegativeInt
    allow_self_connections: bool = True
    with_replacement: bool = True


class GaussianInDegree(Strict):
    """Every post cell gets n pre cells drawn around its own position: offsets ~ N(0, sigma^2)
    in each direction, wrapped on the torus and snapped to the pre grid (Spreizer et al. 2019).
    Both populations need a grid. Multapses are allowed; autapses only if allowed."""

    type: Literal["gaussian_in_degree"]
    n: NonNegativeInt
    sigma: Annotated[float, Field(gt=0)]
    allow_self_connections: bool = False


class OneToOne(Strict):
    type: Literal["one_to_one"]


class AllToAll(Strict):
    type: Literal["all_to_all"]
    allow_self_connections: bool = True


class FromList(Strict):
    """Explicit connections [pre, post] or [pre, post, weight, delay] (PyNN FromListConnector)."""

    type: Literal["from_list"]
    connections: Union[list[tuple[NonNegativeInt, NonNegativeInt]], list[tuple[NonNegativeInt, NonNegativeInt, float, float]]]


class SonataEdges(Strict):
    """The edges of a SONATA edge population between two node types, onto one receptor: read from
    the HDF5 file when the network is realised, never copied here (written by the `[sonata]`
    expansion). `n`: how many the whole circuit has."""

    type: Literal["sonata_edges"]
    edges_file: str
    edge_types_file: str
    population: str  # the SONATA edge population
    synaptic_models_dir: Union[str, None] = None
    n: NonNegativeInt
    pre_size: Union[PositiveInt, None] = None  # the node types' sizes in the whole circuit (a slice's expected count)
    post_size: Union[PositiveInt, None] = None


Connector = Annotated[
    Union[FixedProbability, FixedInDegree, FixedTotalNumber, GaussianInDegree, OneToOne, AllToAll, FromList, SonataEdges],
    Field(discriminator="type"),
]

# Weights are in uS onto conductance-based cells, in nA onto current-based ones and in mV onto
# IF_curr_delta and Izhikevich: the unit depends on the target, so a weight written with a unit
# is converted in Scenario._check_semantics.
_Num = Union[float, str]


class _RawUniform(Uniform):
    low: _Num  # type: ignore[assignment]
    high: _Num  # type: ignore[assignment]

    @model_validator(mode="after")
    def _ordered(self):
        return self


class _RawNormal(Normal):
    mu: _Num  # type: ignore[assignment]
    sigma: _Num  # type: ignore[assignment]


class _RawNormalClipped(NormalClipped):
    mu: _Num  # type: ignore[assignment]
    sigma: _Num  # type: ignore[assignment]
    low: Union[MaybeInfinite, str] = -math.inf  # type: ignore[assignment]
    high: Union[MaybeInfinite, str] = math.inf  # type: ignore[assignment]

    @model_validator(mode="after")
    def _reachable(self):
        return self


RawWeight = Union[
    float,
    str,
    Annotated[Union[_RawUniform, _RawNormal, _RawNormalClipped], Field(discriminator="distribution")],
]
Weight = Union[float, Distribution]


# ------------------------------------------------------------------------- plastic synapses
# PyNN's STDPMechanism (pyNN.standardmodels.synapses): a timing dependence and a weight
# dependence, with PyNN's names and defaults; w_min and w_max are in the weight's unit (uS onto
# IF_cond_exp, nA onto IF_curr_exp; converted in Scenario._check_semantics).

_WeightBound = Union[float, str]


class SpikePairRule(Strict):
    """All spike pairs count (Song et al. 2000): a pre spike followed by a post spike dt > 0 ms
    later potentiates by A_plus exp(-dt/tau_plus), the reverse depresses by A_minus exp(-dt/tau_minus);
    the amplitudes scale the weight dependence's terms (w_max, or the distance to a bound)."""

    type: Literal["SpikePairRule"]
    tau_plus: PositiveTime = 20.0
    tau_minus: PositiveTime = 20.0
    A_plus: Annotated[float, Field(ge=0)] = 0.01
    A_minus: Annotated[float, Field(ge=0)] = 0.01


class _WeightDependence(Strict):
    w_min: _WeightBound = 0.0
    w_max: _WeightBound = 1.0


class AdditiveWeightDependence(_WeightDependence):
    """dw = w_max A_plus K+ (potentiation), -w_max A_minus K- (depression), clipped to [w_min, w_max]."""

    type: Literal["AdditiveWeightDependence"]


class MultiplicativeWeightDependence(_WeightDependence):
    """dw = (w_max - w) A_plus K+ (potentiation), -(w - w_min) A_minus K- (depression)."""

    type: Literal["MultiplicativeWeightDependence"]


class AdditivePotentiationMultiplicativeDepression(_WeightDependence):
    """dw = w_max A_plus K+ (potentiation, clipped at w_max), -(w - w_min) A_minus K- (depression)."""

    type: Literal["AdditivePotentiationMultiplicativeDepression"]


WeightDependence = Annotated[
    Union[AdditiveWeightDependence, MultiplicativeWeightDependence, AdditivePotentiationMultiplicativeDepression],
    Field(discriminator="type"),
]


class STDPMechanism(Strict):
    """PyNN's STDPMechanism. `dendritic_delay_fraction` (PyNN's, default 1): the part of the
    connection delay d that lies in the post cell's dendrite: the synapse sees a post spike
    fraction * d after it and a pre spike (1 - fraction) * d after it (1: NEST's convention)."""

    type: Literal["STDPMechanism"]
    timing_dependence: SpikePairRule
    weight_dependence: WeightDependence
    dendritic_delay_fraction: Annotated[float, Field(ge=0, le=1)] = 1.0

    @property
    def rule(self) -> str:
        return self.weight_dependence.type

    @property
    def describe(self) -> str:
        return f"STDPMechanism(SpikePairRule, {self.weight_dependence.type})"

    @property
    def bounds(self) -> tuple[float, float]:
        return self.weight_dependence.w_min, self.weight_dependence.w_max


class PowerLawSTDP(Strict):
    """NEST's stdp_pl_synapse_hom (Morrison et al. 2007), a named extension of PyNN's set, with
    NEST's parameters: potentiation dw = lambda w^mu K+ with w in pA or nS, as NEST reads it (in
    PyNN's nA or uS: lambda 1000^(mu - 1) w^mu K+), depression dw = -lambda alpha w K- (floored at 0).
    tau_minus is a parameter of the post cell in NEST: every plastic projection onto one
    population must give the same. The whole delay is dendritic, as in NEST."""

    type: Literal["stdp_pl_synapse_hom"]
    tau_plus: PositiveTime = 20.0
    tau_minus: PositiveTime = 20.0
    lambda_: Annotated[float, Field(ge=0, alias="lambda")] = 0.1
    alpha: Annotated[float, Field(ge=0)] = 1.0
    mu: Annotated[float, Field(ge=0, le=1)] = 0.4

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _reject_unknown_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            allowed = {"type", "tau_plus", "tau_minus", "lambda", "alpha", "mu"}
            for key in data:
                if key not in allowed:
                    raise PydanticCustomError("unknown_key", "unknown key '{key}'; expected one of: {allowed}",
                                              {"key": key, "allowed": ", ".join(sorted(allowed))})
        return data

    @property
    def rule(self) -> str:
        return self.type

    @property
    def describe(self) -> str:
        return self.type

    @property
    def dendritic_delay_fraction(self) -> float:
        return 1.0

    @property
    def bounds(self) -> tuple[float, float]:
        return 0.0, math.inf


Synapse = Annotated[Union[STDPMechanism, PowerLawSTDP], Field(discriminator="type")]
PLASTICITY_RULES = ("AdditiveWeightDependence", "MultiplicativeWeightDependence",
                    "AdditivePotentiationMultiplicativeDepression", "stdp_pl_synapse_hom")


class WeightRecord(Strict):
    """Weights of a plastic projection at chosen times (ms, 0 <= t <= simtime, on the dt grid):
    every synapse's weight (a histogram of `bins` bins over the projection's weight range when it
    has more than `max_synapses` synapses) and the trajectory of its first `synapses` synapses."""

    times: Annotated[list[NonNegativeTime], Field(min_length=1)]
    synapses: NonNegativeInt = 0
    bins: PositiveInt = 50
    max_synapses: NonNegativeInt = 100_000

    @field_validator("times")
    @classmethod
    def _increasing(cls, times: list[float]) -> list[float]:
        if any(b <= a for a, b in zip(times, times[1:])):
            raise ValueError("recording times must increase")
        return times


class ProjectionRecord(Strict):
    weights: Union[WeightRecord, None] = None


_PORT = re.compile(r"^syn([1-9][0-9]*)$")


def _receptor_name(value: Any) -> Any:
    if value in ("excitatory", "inhibitory") or (isinstance(value, str) and _PORT.match(value)):
        return value
    raise PydanticCustomError("receptor", "expected 'excitatory', 'inhibitory' or a receptor port 'syn1', 'syn2', ... "
                              "of a multi-receptor cell ({types})", {"types": ", ".join(MULTI_RECEPTOR)})


Receptor = Annotated[str, BeforeValidator(_receptor_name)]


def receptor_port(receptor: str) -> int | None:
    """The 1-based port a receptor names ("syn2" -> 2), or None for "excitatory"/"inhibitory"."""
    match = _PORT.match(receptor)
    return int(match.group(1)) if match else None


def receptor_index(receptor: str) -> int:
    """A receptor as a row of the simulators' input buffers: 0 excitatory, 1 inhibitory, k - 1 port k."""
    port = receptor_port(receptor)
    return port - 1 if port is not None else int(receptor == "inhibitory")


class Projection(Strict):
    """Connections from `pre` to `post` onto one receptor (PyNN's "excitatory" or "inhibitory", or
    a port "synK" of a multi-receptor cell): static synapses unless `synapse` is plastic (PyNN's
    STDPMechanism or NEST's power-law rule); `record.weights` samples the weights."""

    name: Union[str, None] = None
    pre: str
    post: str
    receptor: Receptor
    connector: Connector
    weight: RawWeight
    delay: DelayValue
    synapse: Union[Synapse, None] = None  # None: PyNN's StaticSynapse
    record: ProjectionRecord = ProjectionRecord()

    @property
    def label(self) -> str:
        return self.name or f"{self.pre}->{self.post}"

    @property
    def plastic(self) -> bool:
        return self.synapse is not None

    @model_serializer(mode="wrap")
    def _omit_static_defaults(self, handler) -> dict[str, Any]:
        # A static projection serialises (and hashes) as it did before plasticity existed.
        data = handler(self)
        if self.synapse is None:
            data.pop("synapse", None)
        if self.record.weights is None:
            data.pop("record", None)
        return data

    @field_serializer("weight")
    def _serialise_weight(self, weight: Any) -> Any:
        # After validation a weight is a float or a Uniform/Normal/NormalClipped in standard
        # units, not the raw type the field is declared with (see Scenario._check_semantics).
        return weight.model_dump() if isinstance(weight, BaseModel) else weight


# ------------------------------------------------------------------------------- scenario


class Meta(Strict):
    title: str
    source: Annotated[str, Field(min_length=1)]  # the publication or code the file follows
    description: str = ""


class RunSettings(Strict):
    dt: PositiveTime = 0.1
    simtime: PositiveTime = 1000.0
    seed: NonNegativeInt = 1
    transient: NonNegativeTime = 0.0  # dropped by the statistics


class Scaling(Strict):
    """How connectivity follows N_pop.

    hold = "probability": connection probabilities are kept (in-degrees grow with N_pop);
    hold = "in_degree": in-degrees are kept (probabilities shrink as N_pop grows).
    weights = "inverse_sqrt_in_degree": weights scale as 1/sqrt(K_scale) (Potjans-Diesmann rule).
    full_scale_rates_hz: the rates that the DC compensation of a k_scale assumes.
    """

    hold: Literal["probability", "in_degree"] = "probability"
    weights: Literal["constant", "inverse_sqrt_in_degree"] = "constant"
    # full-scale firing rates, for the DC compensation when in-degrees are scaled (k_scale)
    full_scale_rates_hz: dict[str, Annotated[float, Field(ge=0)]] = Field(default_factory=dict)


class Expected(Strict):
    """Published activity for this scenario, for tests and reports (rates are [low, high] Hz)."""

    rate_hz: dict[str, tuple[float, float]] = Field(default_factory=dict)
    cv_isi: dict[str, tuple[float, float]] = Field(default_factory=dict)  # population -> mean CV of the ISIs (cells with >= 3 spikes)
    # plastic projection -> [low, high] of its weights' mean / standard deviation at the end of the
    # run, in the weight's unit (uS or nA): the weight distribution the rule settles into
    weight_mean: dict[str, tuple[float, float]] = Field(default_factory=dict)
    weight_sd: dict[str, tuple[float, float]] = Field(default_factory=dict)
    source: str = ""

    @field_validator("rate_hz", "cv_isi", "weight_mean", "weight_sd")
    @classmethod
    def _ordered_bands(cls, bands: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
        for name, (low, high) in bands.items():
            if not 0 <= low <= high:
                raise ValueError(f"{name}: expected 0 <= low <= high, got [{low}, {high}]")
        return bands


COLUMN_CELLS = (10, 200_000)  # the sizes the built column takes (its file's key, --N-pop, --scale)


class SonataColumn(Strict):
    """The synthetic V1-like column (snnbench.sonata.column), built with bmtk into a cache folder."""

    cells: Annotated[int, Field(ge=COLUMN_CELLS[0], le=COLUMN_CELLS[1])] = 1000  # cells of the column (LGN sources not counted)
    lgn: Annotated[int, Field(ge=1, le=100_000)] = 200  # virtual LGN-like sources
    lgn_rate: Annotated[float, _unit("rate"), Field(gt=0)] = 15.0  # Hz, their Poisson rate
    # um, of the column in the x-z plane; none: 400 um x sqrt(cells / 1000), the same density at every size
    radius: Union[Annotated[float, Field(gt=0)], None] = None
    seed: NonNegativeInt = 0


class SonataSection(Strict):
    """A SONATA circuit as populations and projections (snnbench.sonata; paths relative to the
    scenario file). Give `circuit` (a circuit config), or `nodes` and `edges`, or `column`."""

    circuit: Union[str, None] = None
    simulation: Union[str, None] = None  # a simulation config: its inputs drive the virtual nodes
    nodes: list[dict[str, str]] = Field(default_factory=list)  # [{nodes_file, node_types_file}]
    edges: list[dict[str, str]] = Field(default_factory=list)  # [{edges_file, edge_types_file}]
    components: dict[str, str] = Field(default_factory=dict)  # point_neuron_models_dir, synaptic_models_dir
    poisson: dict[str, Annotated[float, _unit("rate"), Field(ge=0)]] = Field(default_factory=dict)  # node population: Hz
    record_v: NonNegativeInt = 0  # v of the first k cells of each node type
    column: Union[SonataColumn, None] = None
    download: str = ""  # where the files come from, for the message when they are missing


_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Scenario(Strict):
    """A validated scenario. `id` is set from the file name by the loader."""

    id: str = ""
    scenario: Meta
    run: RunSettings = RunSettings()
    scaling: Scaling = Scaling()
    populations: dict[str, Population]
    projections: list[Projection] = Field(default_factory=list)
    expected: Union[Expected, None] = None
    sonata: Union[SonataSection, None] = None  # expanded into populations and projections by the loader
    # The TOML data before expansion and its folder, kept by the loader for a built column, which
    # --N-pop / --scale rebuild at another size (scenario.load.column_scenario); not part of the content.
    _column_source: Union[tuple[dict, Any], None] = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _check_semantics(self) -> Scenario:
        pops = dict(self.populations)
        for name, pop in self.populations.items():  # sizes given by another population
            if pop.size_of is not None:
                target = self.populations.get(pop.size_of)
                if target is None:
                    raise _semantic_error(f"populations.{name}.size_of", f"unknown population {pop.size_of!r}")
                if target.size is None:
                    raise _semantic_error(f"populations.{name}.size_of", f"{pop.size_of!r} takes its size from another population itself")
                pops[name] = pop.model_copy(update={"size": target.size})
        if not any(not p.is_source for p in pops.values()):
            raise _semantic_error("populations", f"needs at least one population of neurons ({', '.join(CELL_TYPES)})")
        for name, pop in pops.items():
            path = f"populations.{name}"
            if not _NAME.match(name):
                raise _semantic_error(path, "population names must be identifiers (letters, digits, _)")
            self._check_record(path, pop)
            if isinstance(pop, ArraySourcePopulation):
                self._check_spike_times(path, pop)
                if pop.events is not None:
                    if pop.parameters.spike_times:
                        raise _semantic_error(f"{path}.events", "give spike_times or events, not both")
                    if pop.size != pop.events.size:
                        raise _semantic_error(f"{path}.size", f"an event stream of {pop.events.sensor[0]} x {pop.events.sensor[1]} "
                                              f"pixels ({pop.events.polarity} polarities) feeds {pop.events.size} sources, not {pop.size}")
                    if pop.scales:
                        raise _semantic_error(f"{path}.scales", "an event stream's sources cannot scale with N_pop")
                if pop.spike_file is not None and (pop.parameters.spike_times or pop.events is not None):
                    raise _semantic_error(f"{path}.spike_file", "give one of spike_times, events or spike_file")
        converted, labels = [], set()
        for i, proj in enumerate(self.projections):
            path = f"projections[{i}]"
            for end in ("pre", "post"):
                if getattr(proj, end) not in pops:
                    raise _semantic_error(
                        f"{path}.{end}",
                        f"unknown population {getattr(proj, end)!r}; expected one of: {', '.join(pops)}",
                    )
            post = pops[proj.post]
            if post.is_source:
                raise _semantic_error(f"{path}.post", f"{proj.post!r} is a spike source and cannot receive connections")
            if proj.label in labels:
                raise _semantic_error(f"{path}.name", f"duplicate projection name {proj.label!r}")
            labels.add(proj.label)
            self._check_connector(path, proj, pops[proj.pre], post)
            if isinstance(proj.connector, GaussianInDegree) or isinstance(proj.delay, DistanceDelay):
                for end in ("pre", "post"):
                    if pops[getattr(proj, end)].grid is None:
                        raise _semantic_error(f"{path}.{end}", f"{getattr(proj, end)!r} has no grid: distance-dependent "
                                              "connectors and delays need both populations on a grid")
            _check_receptor(f"{path}.receptor", proj.receptor, proj.post, post)
            weight = _convert_weight(f"{path}.weight", proj.weight, post.cell_type)
            _check_weight_sign(f"{path}.weight", weight, post.cell_type, proj.receptor)
            _check_delay(f"{path}.delay", proj.delay)
            synapse = _check_plasticity(path, proj, weight, post.cell_type)
            converted.append(proj.model_copy(update={"weight": weight, "synapse": synapse}))
        if self.run.transient >= self.run.simtime:
            raise _semantic_error("run.transient", "the transient must be shorter than simtime")
        for name in self.scaling.full_scale_rates_hz:
            if name not in pops:
                raise _semantic_error(f"scaling.full_scale_rates_hz.{name}", "unknown population")
        if self.expected:
            for key in ("rate_hz", "cv_isi"):
                for name in getattr(self.expected, key):
                    if name not in pops:
                        raise _semantic_error(f"expected.{key}.{name}", "unknown population")
            plastic = {p.label for p in converted if p.synapse is not None}
            for key in ("weight_mean", "weight_sd"):
                for name in getattr(self.expected, key):
                    if name not in plastic:
                        raise _semantic_error(f"expected.{key}.{name}", "not a plastic projection (its name or PRE->POST)")
        return self.model_copy(update={"populations": pops, "projections": converted})

    @staticmethod
    def _check_record(path: str, pop) -> None:
        rec = pop.record
        if not isinstance(rec.spikes, bool) and rec.spikes > pop.size:
            raise _semantic_error(f"{path}.record.spikes", f"cannot record {rec.spikes} of {pop.size} cells")
        if rec.v > pop.size:
            raise _semantic_error(f"{path}.record.v", f"cannot record v of {rec.v} of {pop.size} cells")
        if pop.is_source and rec.v:
            raise _semantic_error(f"{path}.record.v", "spike sources have no membrane potential")

    @staticmethod
    def _check_spike_times(path: str, pop: ArraySourcePopulation) -> None:
        times = pop.parameters.spike_times
        nested = bool(times) and isinstance(times[0], list)
        if nested and len(times) != pop.size:
            raise _semantic_error(
                f"{path}.parameters.spike_times",
                f"expected one list of times per source ({pop.size}), got {len(times)}",
            )
        flat = [t for ts in times for t in ts] if nested else times
        if any(t <= 0 for t in flat):
            raise _semantic_error(f"{path}.parameters.spike_times", "spike times must be > 0 ms")

    @staticmethod
    def _check_connector(path: str, proj: Projection, pre, post) -> None:
        conn, cpath = proj.connector, f"{path}.connector"
        same = proj.pre == proj.post
        if isinstance(conn, OneToOne) and pre.size != post.size:
            raise _semantic_error(cpath, f"one_to_one needs equal sizes, got {pre.size} and {post.size}")
        if isinstance(conn, FixedInDegree) and not conn.with_replacement:
            available = pre.size - (1 if same and not conn.allow_self_connections else 0)
            if conn.n > available:
                raise _semantic_error(
                    f"{cpath}.n", f"in-degree {conn.n} without replacement exceeds the {available} available pre cells"
                )
        if isinstance(conn, FromList):
            for k, row in enumerate(conn.connections):
                if row[0] >= pre.size or row[1] >= post.size:
                    raise _semantic_error(
                        f"{cpath}.connections[{k}]", f"index out of range for sizes {pre.size} x {post.size}"
                    )
                if len(row) == 4 and row[3] <= 0:
                    raise _semantic_error(f"{cpath}.connections[{k}]", "delays must be > 0 ms")

    # ---------------------------------------------------------------- convenience

    @property
    def cell_populations(self) -> dict[str, Any]:
        return {n: p for n, p in self.populations.items() if not p.is_source}

    @property
    def source_populations(self) -> dict[str, Any]:
        return {n: p for n, p in self.populations.items() if p.is_source}

    def with_cell_types(self, cell_types) -> Scenario:
        """This scenario with only the cell populations of the given types (every source kept), and
        the projections between what is kept: for running a scenario of many cell types on a
        backend that has some of them (the exact tier of `single-neuron`)."""
        pops = {n: p for n, p in self.populations.items() if p.is_source or p.cell_type in cell_types}
        projections = [p for p in self.projections if p.pre in pops and p.post in pops]
        return self.model_copy(update={"populations": pops, "projections": projections})


def _weight_kind(cell_type: str) -> str:
    return "conductance" if cell_type in CONDUCTANCE_BASED else "voltage" if cell_type in VOLTAGE_STEP else "current"


def _convert_weight(path: str, raw: Any, cell_type: str) -> Weight:
    kind = _weight_kind(cell_type)
    try:
        if isinstance(raw, BaseModel):
            fields = raw.model_dump()
            for key in ("low", "high", "mu", "sigma"):
                if key in fields:
                    fields[key] = to_standard(fields[key], kind)
            return {"uniform": Uniform, "normal": Normal, "normal_clipped": NormalClipped}[fields["distribution"]](
                **fields
            )
        value = to_standard(raw, kind)
        if not math.isfinite(value):
            raise UnitError(f"expected a finite weight, got {raw!r}")
        return value
    except UnitError as exc:
        raise _semantic_error(path, f"onto {cell_type}: {exc}") from None
    except ValidationError as exc:  # a distribution that is invalid once converted
        detail = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in exc.errors())
        raise _semantic_error(path, detail) from None


def _check_receptor(path: str, receptor: str, name: str, post) -> None:
    """A port onto a multi-receptor cell, one it has; excitatory or inhibitory onto any other."""
    port = receptor_port(receptor)
    if post.cell_type in MULTI_RECEPTOR:
        n = post.parameters.n_ports
        if port is None:
            raise _semantic_error(path, f"{name!r} is {post.cell_type}, whose receptors are its ports syn1..syn{n} "
                                  "(one per tau_syn): name one instead of excitatory/inhibitory")
        if port > n:
            raise _semantic_error(path, f"{name!r} ({post.cell_type}) has {n} receptor port(s), syn1..syn{n} "
                                  f"(one per tau_syn): no port {receptor!r}")
    elif port is not None:
        raise _semantic_error(path, f"receptor ports name the ports of a multi-receptor cell ({', '.join(MULTI_RECEPTOR)}); "
                              f"{name!r} is {post.cell_type}: use 'excitatory' or 'inhibitory'")


def _check_weight_sign(path: str, weight: Weight, cell_type: str, receptor: str) -> None:
    """PyNN's convention: conductances are >= 0; currents are >= 0 (excitatory) or <= 0 (inhibitory).
    A port of a multi-receptor cell takes currents of either sign (NEST's glif_psc: the sign is the
    weight's, the port only chooses the time constant)."""
    low, high = (weight, weight) if isinstance(weight, float) else weight.bounds
    mean = weight if isinstance(weight, float) else weight.mean
    kind, unit = ("voltage-step", "mV") if cell_type in VOLTAGE_STEP else ("current", "nA")
    if cell_type in CONDUCTANCE_BASED:
        if low < 0:
            raise _semantic_error(path, "conductance weights (uS) must be >= 0; use normal_clipped with low = 0")
    elif receptor == "excitatory" and (mean < 0 or low < 0 and high <= 0):
        raise _semantic_error(path, f"excitatory {kind} weights onto {cell_type} must be >= 0 {unit}")
    elif receptor == "inhibitory" and (mean > 0 or high > 0 and low >= 0):
        raise _semantic_error(path, f"inhibitory {kind} weights onto {cell_type} must be <= 0 {unit} (PyNN's sign convention)")


def _check_delay(path: str, delay: Any) -> None:
    low = delay if isinstance(delay, float) else delay.bounds[0]
    if low <= 0:
        raise _semantic_error(path, "delays must be > 0 ms; use normal_clipped with low >= dt")


def _check_plasticity(path: str, proj: Projection, weight: Weight, cell_type: str) -> Any:
    """The plastic synapse with its weight bounds in standard units; the weights inside them."""
    syn = proj.synapse
    if syn is None:
        if proj.record.weights is not None:
            raise _semantic_error(f"{path}.record.weights", "the weights of a static projection do not change; "
                                  "give the projection a plastic synapse to record them")
        return None
    low, high = (weight, weight) if isinstance(weight, float) else weight.bounds
    if isinstance(syn, STDPMechanism):
        wd, kind = syn.weight_dependence, _weight_kind(cell_type)
        bounds = {}
        for key in ("w_min", "w_max"):
            try:
                bounds[key] = to_standard(getattr(wd, key), kind)
            except UnitError as exc:
                raise _semantic_error(f"{path}.synapse.weight_dependence.{key}", f"onto {cell_type}: {exc}") from None
        if not 0 <= bounds["w_min"] <= bounds["w_max"]:
            raise _semantic_error(f"{path}.synapse.weight_dependence",
                                  f"expected 0 <= w_min <= w_max, got w_min={bounds['w_min']}, w_max={bounds['w_max']}")
        syn = syn.model_copy(update={"weight_dependence": wd.model_copy(update=bounds)})
    w_min, w_max = syn.bounds
    if low < w_min or high > w_max:
        raise _semantic_error(f"{path}.weight", f"plastic weights must lie in [w_min, w_max] = [{w_min}, {w_max}]; "
                              f"got weights in [{low}, {high}] (an inhibitory current synapse's negative weights cannot be plastic)")
    return syn
