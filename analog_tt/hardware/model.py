"""Runtime and energy of multi-tile Tiki-Taka training on analog hardware, as functions of op counts.

This is the paper's hardware model (seed-analysis §1.7, §5, §6), rebuilt because its plotting
notebook (``plot.ipynb``) is lost. Every formula below was recovered by fitting the paper's summary
CSVs exactly; the units were never written down in the paper's code and are **inferences**:

* time in **seconds** here; the paper's ``times_*.csv`` store **microseconds** (900 µs per BL per
  epoch = 60000 samples x 3 layers x BL x 5 ns, seed-analysis §6.4);
* energy in **picojoules** internally (the constants of ``energy.json``, "calculated using Cimloop",
  seed-analysis §5) and **joules** in the returned ``energy_j``.

The model
---------
An analog tile performs two kinds of vector operation:

* an MVM (forward, backward, a transfer read of one column of A, a weight read-out): ``mvm_s``;
* a pulsed update with BL pulses per vector (the A update, the transfer write into the C
  replicas): ``BL x pulse_s``.

Replicas work in parallel, layers and mini-batches one after the other, so

    time = programming time + Σ_layers Σ_phases (sequential steps x time per step)

where, for the paper's network and E epochs (``paper_costs``),

    time = F(N) + E x [ mvm_s x (forward + backward + transfer-read steps)
                        + pulse_s x (BL x A-update steps + transfer_bl x transfer-write steps) ]

and the A update is serial over the mini-batch for ``shared_A`` (one A tile: 60000 steps per
layer per epoch) and parallel over the N A tiles for ``replicated_A`` (60000 / N steps).

Energy is charged per vector operation, independent of parallelism:

    energy = programming + E x (analog energy per epoch + digital periphery energy per epoch)

analog: ``forward_l`` / ``backward_l`` per MVM, ``BL x (dac_rows + dac_cols + cells x activity)``
per update vector, and the per-transfer energy ``transfer_l`` for every transfer read and every
transfer write vector (the paper's accounting, see :func:`analog_costs`). Digital: the periphery
operations of :func:`digital_ops` (abs-max noise management, scaling, bias add, activation, buffer
accesses, pulse generation, transfer bookkeeping), charged with the 32-bit primitives of
``energy.json`` (seed-analysis §6.3).

Operation counts
----------------
The count-based functions take a mapping from layer name to ::

    {"in_size": int, "out_size": int, "n_tiles": int, "variant": "shared_A" | "replicated_A",
     "batches": int, "samples": int, "bm_rounds": int,
     "phases": {phase: {"vectors": int, "sequential": int, "pulses": int}}}

with ``phase`` in :data:`PHASES`, or the raw record of :func:`analog_tt.tiles.counting.collect_op_counts`
(phase dicts at the top level, with ``bm_rounds`` / ``bm_vectors`` in each; the layer shapes,
``n_tiles`` and ``variant`` are then passed as arguments, see :func:`normalize_counts`).
``vectors`` counts analog vector operations in total (over all replicas), ``sequential`` the time
steps when replicas run in parallel, ``pulses`` the sum over update vectors of the BL used (0 for
MVM phases). Counts are totals over the run they describe (floats are accepted, for amortised
closed-form counts). ``program`` counts programming iterations (one MVM plus one pulsed update
each; ``pulses`` are the update pulses). Extra bound-management rounds are extra forward MVMs at
the forward phase's parallelism: ``phases["forward"]["bm_vectors"]`` of them when the counter gives
it, else the layer's ``bm_rounds`` x the mean mini-batch size (one round re-runs one mini-batch).

Paper accounting that we reproduce on purpose (:func:`paper_op_counts`)
----------------------------------------------------------------------
* The paper's per-epoch numbers are averages over logged runs (40 epochs for ``shared_A``;
  40, 45, 52, 58, 72 for ``replicated_A``) that include 5 SWA weight read-outs. Their MVMs are
  therefore amortised into the per-epoch costs: once in energy, twice in time (each read-out MVM
  is logged both as a forward and as a read entry) [inferred from exact fits, seed-analysis §6].
* One-off costs (programming of every replica, final weight reads) are stochastic (programming-loop
  iteration counts) and not published; :func:`paper_fixed_costs` returns the paper's own values.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

from ..core.validation import check_choice
from ..core.vocabulary import PHASES, VARIANTS

__all__ = [
    "DIGITAL_COST_CLASSES",
    "MVM_PHASES",
    "PAPER_BATCH",
    "PAPER_LAYERS",
    "PAPER_SAMPLES",
    "PHASES",
    "SCALAR_OPS_PER_CALL",
    "SCALAR_OPS_PER_TRANSFER",
    "SCALAR_OPS_PER_UPDATE",
    "TRANSFER_BL",
    "UPDATE_PHASES",
    "VARIANTS",
    "DigitalOp",
    "EnergyConstants",
    "FixedCosts",
    "LayerEnergy",
    "Timing",
    "analog_costs",
    "costs_from_counts",
    "digital_energy_pj",
    "digital_ops",
    "load_energy_constants",
    "normalize_counts",
    "paper_batches",
    "paper_costs",
    "paper_fixed_costs",
    "paper_log_epochs",
    "paper_op_counts",
    "pareto_mask",
    "sequential_steps",
    "validate_counts",
]

#: phases whose vector operations are MVMs (time ``mvm_s`` per sequential step)
MVM_PHASES = ("forward", "backward", "transfer_read", "read")
#: phases whose vector operations are pulsed updates (time ``pulse_s`` per pulse slot)
UPDATE_PHASES = ("update_A", "transfer_write")

#: The paper's network (seed-analysis §3.1): layer name -> (in_size, out_size).
PAPER_LAYERS: dict[str, tuple[int, int]] = {"l1": (784, 256), "l2": (256, 128), "l3": (128, 10)}
#: Mini-batch size and training samples per epoch of the paper's MNIST runs (§3.1).
PAPER_BATCH = 64
PAPER_SAMPLES = 60000
#: Pulses per transfer write into C (``transfer_update.desired_bl = 1``, seed-analysis §1.11).
TRANSFER_BL = 1

#: Digital cost classes (seed-analysis §6.3) and what each op of :func:`digital_ops` is charged.
DIGITAL_COST_CLASSES = ("multiplier_32", "adder_32", "buffer_{len}_{read|write}_32")

# kept at the package root: figures and tables cite it by that path
_CONSTANTS_FILE = Path(__file__).resolve().parent.parent / "energy_constants.json"

#: Scalar bookkeeping ops (adder_32 each) per layer, per forward/backward call (mini-batch), per
#: A update (mini-batch) and per transfer, by variant. Decoded from the paper's
#: ``digital_energy_summary_v{1,2}.csv``: each entry / 0.33 pJ / (938 x epochs x 3 layers) is an
#: exact integer (seed-analysis §6.3).
SCALAR_OPS_PER_CALL = {"forward": {"arithmetic": 3}, "backward": {"arithmetic": 3}}
SCALAR_OPS_PER_UPDATE = {
    "shared_A": {"arithmetic": 21, "comparison": 1, "conditional": 18, "getter_setter": 4},
    "replicated_A": {"arithmetic": 16, "conditional": 5, "getter_setter": 3},
}
SCALAR_OPS_PER_TRANSFER = {
    "shared_A": {"arithmetic": 8, "comparison": 1, "conditional": 2},
    "replicated_A": {"arithmetic": 13, "comparison": 2, "conditional": 15, "getter_setter": 1},
}


# ---------------------------------------------------------------------------------------------
# Constants
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """Time per analog step, in seconds.

    Parameters
    ----------
    pulse_s : float
        Duration of one update pulse slot, s. 5 ns: the "5ns" of the paper's energy comment, and
        the only value that makes its fitted 900 µs per BL per epoch equal to
        60000 samples x 3 layers x BL x pulse (seed-analysis §6.4).
    mvm_s : float
        Duration of one MVM (one input vector through one tile, forward or backward), s.
        0.175 µs = 63000 µs per epoch / (60000 samples x 6 MVMs) (seed-analysis §6.4; the split
        between forward and backward is unknown, both get the same time).
    """

    pulse_s: float = 5e-9
    mvm_s: float = 0.175e-6

    def __post_init__(self) -> None:
        for name in ("pulse_s", "mvm_s"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(
                    f"Timing.{name} must be a positive finite number of seconds, got {value!r}"
                )

    def scaled(self, pulse: float = 1.0, mvm: float = 1.0) -> Timing:
        """A copy with the pulse and MVM times multiplied by ``pulse`` and ``mvm``."""
        return replace(self, pulse_s=self.pulse_s * pulse, mvm_s=self.mvm_s * mvm)


@dataclass(frozen=True)
class LayerEnergy:
    """Analog energy of one layer's tile, in pJ (see ``energy_constants.json`` for each field)."""

    forward: float
    backward: float
    update_dac_rows: float
    update_dac_cols: float
    update_cells: float
    update_cell_activity: float
    transfer_dac_row: float
    transfer_dac_cols: float
    transfer_cells: float
    transfer_read_fraction: float
    name: str = ""

    @property
    def update_per_pulse(self) -> float:
        """Energy of one update vector per pulse slot, pJ: DAC rows + DAC cols + cells x activity."""
        return (
            self.update_dac_rows
            + self.update_dac_cols
            + self.update_cells * self.update_cell_activity
        )

    def update(self, bl: float) -> float:
        """Energy of one update vector with ``bl`` pulse slots, pJ (energy.json's ``update_l`` at 31)."""
        return bl * self.update_per_pulse

    @property
    def transfer(self) -> float:
        """Energy of one transfer, pJ: the one-hot pulse into C plus the row read of A.

        ``(dac_row + dac_cols + column cells) + transfer_read_fraction x forward`` (energy.json's
        ``transfer_l``).
        """
        return (
            self.transfer_dac_row
            + self.transfer_dac_cols
            + self.transfer_cells
            + self.transfer_read_fraction * self.forward
        )


@dataclass(frozen=True)
class EnergyConstants:
    """The paper's energy table (seed-analysis §5), all values in pJ.

    Attributes
    ----------
    layers : Mapping[tuple[int, int], LayerEnergy]
        Per-vector analog energies, keyed by the tile's ``(in_size, out_size)``.
    digital : Mapping[str, float]
        Digital primitives: ``buffer_{len}_{read|write}_{bits}`` per whole-vector access,
        ``adder_{bits}`` and ``multiplier_{bits}`` per scalar operation.
    reference_bl : int
        The BL at which energy.json states ``update_l`` (31).
    """

    layers: Mapping[tuple[int, int], LayerEnergy]
    digital: Mapping[str, float]
    reference_bl: int = 31
    units: str = "pJ"

    def layer(self, in_size: int, out_size: int) -> LayerEnergy:
        """The constants of a tile of shape ``in_size -> out_size``; ValueError if there are none."""
        try:
            return self.layers[(int(in_size), int(out_size))]
        except KeyError:
            known = ", ".join(f"{i}x{o}" for i, o in self.layers)
            raise ValueError(
                f"no analog energy constants for a {in_size}x{out_size} tile; known shapes "
                f"(in x out): {known}"
            ) from None

    def primitive(self, name: str) -> float:
        """A digital primitive by name (e.g. ``"multiplier_32"``), pJ."""
        try:
            return self.digital[name]
        except KeyError:
            raise ValueError(
                f"no digital energy constant {name!r}; known: {', '.join(sorted(self.digital))}"
            ) from None

    def buffer(self, length: int, access: str, bits: int = 32) -> float:
        """Energy of one whole-vector buffer access, pJ (``access`` is ``"read"`` or ``"write"``)."""
        if access not in ("read", "write"):
            raise ValueError(f"buffer access must be 'read' or 'write', got {access!r}")
        return self.primitive(f"buffer_{int(length)}_{access}_{bits}")


@cache
def _load_constants(path: str) -> EnergyConstants:
    raw = json.loads(Path(path).read_text())
    layers = {}
    for key, values in raw["layers"].items():
        in_size, out_size = (int(v) for v in key.split("x"))
        layers[(in_size, out_size)] = LayerEnergy(**values)
    return EnergyConstants(
        layers=layers,
        digital=dict(raw["digital"]),
        reference_bl=int(raw["reference_bl"]),
        units=raw["units"],
    )


def load_energy_constants(path: str | Path | None = None) -> EnergyConstants:
    """Load the energy table (default: ``analog_tt/energy_constants.json``, the paper's values)."""
    return _load_constants(str(Path(path) if path is not None else _CONSTANTS_FILE))


@dataclass(frozen=True)
class FixedCosts:
    """One-off costs of a run (programming the replicas, final weight reads).

    Attributes
    ----------
    time_s : float
        Seconds.
    analog_energy_pj, digital_energy_pj : float
        Picojoules.
    """

    time_s: float = 0.0
    analog_energy_pj: float = 0.0
    digital_energy_pj: float = 0.0

    def __post_init__(self) -> None:
        for name in ("time_s", "analog_energy_pj", "digital_energy_pj"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"FixedCosts.{name} must be finite and >= 0, got {value!r}")


# ---------------------------------------------------------------------------------------------
# Argument checks
# ---------------------------------------------------------------------------------------------


def _check_variant(variant: str) -> str:
    return check_choice("variant", variant, VARIANTS)


# The two checks below accept integral floats (the paper's tables store counts as floats) and
# phrase the allowed values per argument; everything else uses analog_tt.core.validation.


def _check_int(name: str, value: Any, minimum: int, allowed: str) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or value != int(value)
        or value < minimum
    ):
        raise ValueError(f"{name} must be {allowed}; got {value!r}")
    return int(value)


def _check_number(name: str, value: Any, allowed: str, *, positive: bool = False) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (positive and value == 0):
        raise ValueError(f"{name} must be {allowed}; got {value!r}")
    return float(value)


def validate_counts(counts: Mapping[str, Mapping[str, Any]]) -> None:
    """Check a per-layer op-count mapping against the schema; ValueError naming what is wrong."""
    if not isinstance(counts, Mapping) or not counts:
        raise ValueError("counts must be a non-empty mapping of layer name -> per-layer counts")
    required = ("in_size", "out_size", "n_tiles", "variant", "batches", "samples", "phases")
    for layer, entry in counts.items():
        missing = [k for k in required if k not in entry]
        if missing:
            raise ValueError(f"counts[{layer!r}] lacks {', '.join(missing)}")
        _check_variant(entry["variant"])
        _check_int(f"counts[{layer!r}]['n_tiles']", entry["n_tiles"], 1, "an integer >= 1")
        unknown = set(entry["phases"]) - set(PHASES)
        if unknown:
            raise ValueError(
                f"counts[{layer!r}] has unknown phases {sorted(unknown)}; allowed: {', '.join(PHASES)}"
            )
        for phase, c in entry["phases"].items():
            for key in ("vectors", "sequential", "pulses"):
                _check_number(
                    f"counts[{layer!r}]['phases'][{phase!r}][{key!r}]",
                    c.get(key, 0),
                    "a finite number >= 0",
                )


def _phase(entry: Mapping[str, Any], phase: str) -> tuple[float, float, float]:
    c = entry["phases"].get(phase) or {}
    return float(c.get("vectors", 0)), float(c.get("sequential", 0)), float(c.get("pulses", 0))


# ---------------------------------------------------------------------------------------------
# Count-based model
# ---------------------------------------------------------------------------------------------


def _bm_vectors(entry: Mapping[str, Any]) -> tuple[float, float]:
    """Extra forward vectors and sequential steps of the bound-management rounds of one layer.

    Uses ``phases["forward"]["bm_vectors"]`` when the counter gives it (exact extra vectors),
    else the layer's ``bm_rounds`` x the mean mini-batch size (one round re-runs one mini-batch).
    The extra vectors run with the forward phase's parallelism.
    """
    forward = entry["phases"].get("forward") or {}
    vectors, sequential, _ = _phase(entry, "forward")
    if forward.get("bm_vectors"):
        extra = float(forward["bm_vectors"])
    else:
        rounds = float(entry.get("bm_rounds", 0) or 0)
        if rounds == 0:
            return 0.0, 0.0
        extra = rounds * float(entry["samples"]) / max(float(entry["batches"]), 1.0)
    return extra, extra * (sequential / vectors if vectors else 1.0)


def normalize_counts(
    counts: Mapping[str, Mapping[str, Any]],
    *,
    layer_shapes: Mapping[str, tuple[int, int]] | None = None,
    n_tiles: int | None = None,
    variant: str | None = None,
) -> dict[str, dict[str, Any]]:
    """Bring op counts to the schema of this module and validate them.

    Accepts the schema of the module docstring (phases under ``"phases"``) and the record of
    :func:`analog_tt.tiles.counting.collect_op_counts` (phase dicts at the top level of each layer,
    with ``bm_rounds`` / ``bm_vectors`` inside each phase). Layer facts missing from a record
    (``in_size``, ``out_size``, ``n_tiles``, ``variant``) are taken from ``layer_shapes``
    (``{layer: (in_size, out_size)}``), ``n_tiles`` and ``variant``.

    Returns
    -------
    dict
        A new ``{layer: {"in_size", "out_size", "n_tiles", "variant", "batches", "samples",
        "bm_rounds", "phases": {...}}}`` mapping; the input is not modified.
    """
    if not isinstance(counts, Mapping) or not counts:
        raise ValueError("counts must be a non-empty mapping of layer name -> per-layer counts")
    out: dict[str, dict[str, Any]] = {}
    for layer, entry in counts.items():
        if not isinstance(entry, Mapping):
            raise ValueError(f"counts[{layer!r}] must be a mapping, got {type(entry).__name__}")
        phases = entry.get("phases")
        if phases is None:  # counter layout: phases at the top level
            phases = {p: dict(entry[p]) for p in PHASES if p in entry}
        else:
            phases = {p: dict(c) for p, c in phases.items()}
        rec: dict[str, Any] = {k: v for k, v in entry.items() if k not in PHASES and k != "phases"}
        if "in_size" not in rec or "out_size" not in rec:
            if not layer_shapes or layer not in layer_shapes:
                raise ValueError(
                    f"counts[{layer!r}] has no in_size/out_size; pass layer_shapes="
                    "{layer: (in_size, out_size)}"
                )
            rec["in_size"], rec["out_size"] = (int(v) for v in layer_shapes[layer])
        for key, value in (("n_tiles", n_tiles), ("variant", variant)):
            if key not in rec:
                if value is None:
                    raise ValueError(f"counts[{layer!r}] has no {key}; pass {key}=...")
                rec[key] = value
        if "bm_rounds" not in rec:
            rec["bm_rounds"] = float((phases.get("forward") or {}).get("bm_rounds", 0) or 0)
        rec["phases"] = phases
        out[layer] = rec
    validate_counts(out)
    return out


def analog_costs(
    counts: Mapping[str, Mapping[str, Any]],
    *,
    constants: EnergyConstants | None = None,
    timing: Timing | None = None,
) -> dict[str, dict[str, float]]:
    """Analog time (s) and energy (pJ) per phase, summed over layers.

    MVM phases take ``sequential x mvm_s``; update phases ``sequential x (pulses / vectors) x
    pulse_s`` (the BL per vector times the sequential vector steps). ``program`` iterations take
    one MVM plus one update each. Energy per vector: ``forward_l`` (forward, read, extra
    bound-management rounds), ``backward_l``, ``pulses x update_per_pulse`` (update_A, and the
    update half of program), and the whole per-transfer energy ``transfer_l`` for every
    ``transfer_read`` and every ``transfer_write`` vector: this is the paper's accounting (it charges
    a transfer ``1 + N`` times in shared_A and ``2N`` times in replicated_A, seed-analysis §6.2), kept
    to reproduce its tables; for the paper's grid it is at most 3.1 % of the analog and 1 % of the
    total energy per epoch (replicated_A, N = 32, BL 2).

    Returns
    -------
    dict
        ``{"time_s": {phase: s}, "energy_pj": {phase: pJ}}`` with phases :data:`PHASES` and
        ``"bm_rounds"``.
    """
    constants = constants or load_energy_constants()
    timing = timing or Timing()
    counts = normalize_counts(counts)
    time = dict.fromkeys((*PHASES, "bm_rounds"), 0.0)
    energy = dict.fromkeys((*PHASES, "bm_rounds"), 0.0)
    for entry in counts.values():
        layer = constants.layer(entry["in_size"], entry["out_size"])
        for phase in PHASES:
            vectors, sequential, pulses = _phase(entry, phase)
            bl = pulses / vectors if vectors else 0.0
            if phase in MVM_PHASES:
                time[phase] += sequential * timing.mvm_s
            elif phase in UPDATE_PHASES:
                time[phase] += sequential * bl * timing.pulse_s
            else:  # program: one MVM + one pulsed update per iteration
                time[phase] += sequential * (timing.mvm_s + bl * timing.pulse_s)
            if phase in ("forward", "read"):
                energy[phase] += vectors * layer.forward
            elif phase == "backward":
                energy[phase] += vectors * layer.backward
            elif phase == "update_A":
                energy[phase] += pulses * layer.update_per_pulse
            elif phase in ("transfer_read", "transfer_write"):
                energy[phase] += vectors * layer.transfer
            else:
                energy[phase] += vectors * layer.forward + pulses * layer.update_per_pulse
        extra, extra_seq = _bm_vectors(entry)
        time["bm_rounds"] += extra_seq * timing.mvm_s
        energy["bm_rounds"] += extra * layer.forward
    return {"time_s": time, "energy_pj": energy}


@dataclass(frozen=True)
class DigitalOp:
    """``count`` digital operations ``op`` of ``phase`` on one layer, each charged ``cost_class``."""

    layer: str
    phase: str
    op: str
    cost_class: str
    count: float


def digital_ops(per_layer_counts: Mapping[str, Mapping[str, Any]]) -> list[DigitalOp]:
    """Expand analog op counts into the digital periphery operations of the paper's model.

    The op list per vector, per mini-batch and per transfer was decoded from the paper's
    ``digital_energy_summary_v{1,2}.csv`` (every entry divided by its cost class gives an exact
    integer per sample or per batch; seed-analysis §1.7, §6.3). For a layer ``in -> out``
    (``n = in_size``, ``m = out_size``), op names are the paper's:

    forward, per input vector
        abs n, max n (abs-max noise management), vector-element 2n (input scaling) and m (output
        rescaling), activation m: multiplier_32 per element; vector-add m (bias): adder_32;
        buffer_n read 1 and write 2, buffer_m read 1 (bias). Per mini-batch: 3 arithmetic.
    read (weight read-out MVMs, through the same periphery)
        as forward without the output rescaling.
    extra bound-management rounds, per vector
        buffer_m write + read (intermediate result), abs m and max m.
    backward, per error vector
        abs m, max m, vector-element 2m, act-derivative n; buffer_m read 1, write 2. Per
        mini-batch: 3 arithmetic.
    update_A, per update vector
        abs, max and pulse-generation on n + m elements (independent of BL), vector-element n;
        buffer_n read, buffer_m read. Per mini-batch (learning-rate auto-scale bookkeeping):
        shared_A: abs m, sum m, 21 arithmetic, 1 comparison, 18 conditional, 4 getter_setter;
        replicated_A: 16 arithmetic, 5 conditional, 3 getter_setter.
    transfer, per transfer (one column per mini-batch) and per read vector of A
        vector-element m per transfer + 4m per read vector (H accumulation, threshold, write
        vector), vector-mult m; vector-add 3m per read vector (+ m per transfer in replicated_A,
        the sum over the N reads); buffer_m read 2 and write 2; shared_A: 8 arithmetic,
        1 comparison, 2 conditional; replicated_A: abs m, sum m, 13 arithmetic, 2 comparison,
        15 conditional, 1 getter_setter.
    program
        per iteration: abs, max, pulse-generation on n + m elements, vector-element n (as an
        update vector). The paper's stochastic programming-loop bookkeeping (variance, randn) is
        not modelled.

    Parameters
    ----------
    per_layer_counts : Mapping[str, Mapping]
        Op counts in the schema of the module docstring.

    Returns
    -------
    list[DigitalOp]
        Cost class ``multiplier_32`` (per element), ``adder_32`` (per element or scalar op) or
        ``buffer_{len}_{read|write}_32`` (per whole-vector access).
    """
    per_layer_counts = normalize_counts(per_layer_counts)
    ops: list[DigitalOp] = []
    mult, add = "multiplier_32", "adder_32"
    for name, entry in per_layer_counts.items():
        n, m = int(entry["in_size"]), int(entry["out_size"])
        variant = entry["variant"]
        batches = float(entry["batches"])
        buf_n_r, buf_n_w = f"buffer_{n}_read_32", f"buffer_{n}_write_32"
        buf_m_r, buf_m_w = f"buffer_{m}_read_32", f"buffer_{m}_write_32"

        def emit(phase: str, op: str, cost_class: str, count: float, _name: str = name) -> None:
            if count:
                ops.append(DigitalOp(_name, phase, op, cost_class, float(count)))

        fwd = _phase(entry, "forward")[0]
        rd = _phase(entry, "read")[0]
        for phase, v, rescale in (("forward", fwd, True), ("read", rd, False)):
            emit(phase, "abs", mult, v * n)
            emit(phase, "max", mult, v * n)
            emit(phase, "vector-element", mult, v * (2 * n + (m if rescale else 0)))
            emit(phase, "activation", mult, v * m)
            emit(phase, "vector-add", add, v * m)
            emit(phase, "buffer-read", buf_n_r, v)
            emit(phase, "buffer-read", buf_m_r, v)
            emit(phase, "buffer-write", buf_n_w, 2 * v)
        for op, k in SCALAR_OPS_PER_CALL["forward"].items():
            emit("forward", op, add, k * batches if fwd else 0)

        extra, _ = _bm_vectors(entry)
        emit("bm_rounds", "abs", mult, extra * m)
        emit("bm_rounds", "max", mult, extra * m)
        emit("bm_rounds", "buffer-write", buf_m_w, extra)
        emit("bm_rounds", "buffer-read", buf_m_r, extra)

        bwd = _phase(entry, "backward")[0]
        emit("backward", "abs", mult, bwd * m)
        emit("backward", "max", mult, bwd * m)
        emit("backward", "vector-element", mult, bwd * 2 * m)
        emit("backward", "act-derivative", mult, bwd * n)
        emit("backward", "buffer-read", buf_m_r, bwd)
        emit("backward", "buffer-write", buf_m_w, 2 * bwd)
        for op, k in SCALAR_OPS_PER_CALL["backward"].items():
            emit("backward", op, add, k * batches if bwd else 0)

        upd = _phase(entry, "update_A")[0]
        prog = _phase(entry, "program")[0]
        for phase, v in (("update_A", upd), ("program", prog)):
            emit(phase, "abs", mult, v * (n + m))
            emit(phase, "max", mult, v * (n + m))
            emit(phase, "pulse-generation", mult, v * (n + m))
            emit(phase, "vector-element", mult, v * n)
        emit("update_A", "buffer-read", buf_n_r, upd)
        emit("update_A", "buffer-read", buf_m_r, upd)
        ub = batches if upd else 0.0
        if variant == "shared_A":  # auto-scale maxima of the whole batch, on the A side
            emit("update_A", "abs", mult, ub * m)
            emit("update_A", "sum", mult, ub * m)
        for op, k in SCALAR_OPS_PER_UPDATE[variant].items():
            emit("update_A", op, add, k * ub)

        reads = _phase(entry, "transfer_read")[0]
        transfers = batches if reads else 0.0
        emit("transfer", "vector-element", mult, transfers * m + reads * 4 * m)
        emit("transfer", "vector-mult", mult, transfers * m)
        emit("transfer", "buffer-read", buf_m_r, 2 * transfers)
        emit("transfer", "buffer-write", buf_m_w, 2 * transfers)
        if variant == "shared_A":
            emit("transfer", "vector-add", add, reads * 3 * m)
        else:  # the sum of the N reads, and the batch maxima moved here from the update
            emit("transfer", "vector-add", add, reads * 3 * m + transfers * m)
            emit("transfer", "abs", mult, transfers * m)
            emit("transfer", "sum", mult, transfers * m)
        for op, k in SCALAR_OPS_PER_TRANSFER[variant].items():
            emit("transfer", op, add, k * transfers)
    return ops


def digital_energy_pj(
    ops: list[DigitalOp], constants: EnergyConstants | None = None, *, by: str = "phase"
) -> dict[str, float]:
    """Energy of digital ops, pJ, summed by ``by`` (``"phase"``, ``"op"``, ``"layer"`` or ``"cost_class"``)."""
    if by not in ("phase", "op", "layer", "cost_class"):
        raise ValueError(f"by must be one of phase, op, layer, cost_class; got {by!r}")
    constants = constants or load_energy_constants()
    out: dict[str, float] = {}
    for op in ops:
        key = getattr(op, by)
        out[key] = out.get(key, 0.0) + op.count * constants.primitive(op.cost_class)
    return out


def _result(
    analog: dict[str, dict[str, float]],
    digital: dict[str, float],
    fixed: FixedCosts,
) -> dict[str, Any]:
    run_time = sum(analog["time_s"].values())
    analog_pj = sum(analog["energy_pj"].values())
    digital_pj = sum(digital.values())
    energy_pj = fixed.analog_energy_pj + fixed.digital_energy_pj + analog_pj + digital_pj
    return {
        "time_s": fixed.time_s + run_time,
        "energy_j": energy_pj * 1e-12,
        "energy_pj": energy_pj,
        "fixed_time_s": fixed.time_s,
        "training_time_s": run_time,
        "analog_energy_j": (fixed.analog_energy_pj + analog_pj) * 1e-12,
        "digital_energy_j": (fixed.digital_energy_pj + digital_pj) * 1e-12,
        "fixed_energy_j": (fixed.analog_energy_pj + fixed.digital_energy_pj) * 1e-12,
        "breakdown": {
            "time_s": dict(analog["time_s"]),
            "analog_energy_j": {k: v * 1e-12 for k, v in analog["energy_pj"].items()},
            "digital_energy_j": {k: v * 1e-12 for k, v in digital.items()},
        },
    }


def costs_from_counts(
    counts: Mapping[str, Mapping[str, Any]],
    *,
    fixed: FixedCosts | None = None,
    constants: EnergyConstants | None = None,
    timing: Timing | None = None,
    layer_shapes: Mapping[str, tuple[int, int]] | None = None,
    n_tiles: int | None = None,
    variant: str | None = None,
) -> dict[str, Any]:
    """Time and energy of a run from its op counts (plus optional one-off ``fixed`` costs).

    ``counts`` may be in this module's schema or the raw record of
    :func:`analog_tt.tiles.counting.collect_op_counts`; ``layer_shapes``, ``n_tiles`` and ``variant``
    fill what a record lacks (see :func:`normalize_counts`).

    Returns
    -------
    dict
        ``time_s`` (s), ``energy_j`` (J), ``energy_pj``, ``fixed_time_s``, ``training_time_s``,
        ``analog_energy_j``, ``digital_energy_j``, ``fixed_energy_j`` and ``breakdown``
        (per phase: ``time_s``, ``analog_energy_j``, ``digital_energy_j``).
    """
    constants = constants or load_energy_constants()
    counts = normalize_counts(counts, layer_shapes=layer_shapes, n_tiles=n_tiles, variant=variant)
    analog = analog_costs(counts, constants=constants, timing=timing)
    digital = digital_energy_pj(digital_ops(counts), constants)
    return _result(analog, digital, fixed or FixedCosts())


# ---------------------------------------------------------------------------------------------
# The paper's network: counts and closed form
# ---------------------------------------------------------------------------------------------


def paper_batches(samples: int = PAPER_SAMPLES, batch: int = PAPER_BATCH) -> list[int]:
    """Mini-batch sizes of one epoch (60000 / 64: 937 batches of 64 and one of 32)."""
    samples = _check_int("samples", samples, 1, "an integer >= 1")
    batch = _check_int("batch", batch, 1, "an integer >= 1")
    full, rest = divmod(samples, batch)
    return [batch] * full + ([rest] if rest else [])


def sequential_steps(batch_sizes: list[int], n_tiles: int) -> int:
    """Time steps to push the batches through N replicas: Σ ceil(b / N) (the paper's Times/Pfactor)."""
    return sum(-(-b // n_tiles) for b in batch_sizes)


def paper_log_epochs(n_tiles: int, variant: str) -> float:
    """Epochs of the paper's logged run whose averages define its per-epoch costs (§3.3, §4.5)."""
    from ..paper import load

    table = load("mnist")["log_runs"]["logged_epochs"][_check_variant(variant)]
    if str(n_tiles) not in table:
        raise ValueError(
            f"the paper logged n_tiles in {{{', '.join(table)}}} for {variant}; got {n_tiles!r} "
            "(pass log_reads=False, or log_epochs=..., for other N)"
        )
    return float(table[str(n_tiles)])


def _paper_reads(
    n_tiles: int, variant: str, log_reads: bool, log_epochs: float | None
) -> tuple[int, float]:
    if not log_reads:
        return 0, 1.0
    from ..paper import load

    swa_reads = int(load("mnist")["log_runs"]["swa_reads"])
    if log_epochs is None:
        log_epochs = paper_log_epochs(n_tiles, variant)
    return swa_reads, _check_number(
        "log_epochs", log_epochs, "a number of epochs > 0", positive=True
    )


def paper_op_counts(
    n_tiles: int,
    variant: str,
    epochs: float,
    bl: float = 31,
    *,
    log_reads: bool = True,
    log_epochs: float | None = None,
    bm_rounds_per_epoch: float = 0.0,
    samples: int = PAPER_SAMPLES,
    batch: int = PAPER_BATCH,
) -> dict[str, dict[str, Any]]:
    """Op counts of training the paper's network (784-256-128-10, batch 64, 60000 samples/epoch).

    Per layer and epoch: every sample makes one forward and one backward MVM and one A-update
    vector with ``bl`` pulses; every one of the 938 mini-batches transfers one column (one read of
    A in shared_A, N reads in replicated_A; N writes with :data:`TRANSFER_BL` pulses).

    Parameters
    ----------
    n_tiles : int
        Number of replicas N (>= 1).
    variant : {"shared_A", "replicated_A"}
    epochs : float
        Training epochs (>= 0; fractional allowed for amortised counts).
    bl : float
        Update pulses per A-update vector (> 0).
    log_reads : bool
        Add the paper's amortised SWA read-outs (5 per logged run, each ``in x N`` probe vectors,
        parallel over N, counted twice in sequential steps as in the paper's runtime log) to
        the ``read`` phase. True reproduces the paper's tables.
    log_epochs : float, optional
        Length of the logged run they are amortised over (default: the paper's, see
        :func:`paper_log_epochs`).
    bm_rounds_per_epoch : float
        Extra bound-management rounds per epoch, spread evenly over the three layers.
    samples, batch : int
        Training samples per epoch and mini-batch size (default: the paper's 60000 and 64); other
        values give the closed form of a smaller run, e.g. to compare with measured counts.

    Returns
    -------
    dict
        The op-count schema of the module docstring (float counts).
    """
    n_tiles = _check_int("n_tiles", n_tiles, 1, "an integer >= 1")
    _check_variant(variant)
    epochs = _check_number("epochs", epochs, "a number of epochs >= 0")
    bl = _check_number("bl", bl, "a number of pulses > 0", positive=True)
    bm = _check_number("bm_rounds_per_epoch", bm_rounds_per_epoch, "a number >= 0")
    swa_reads, log_epochs_ = _paper_reads(n_tiles, variant, log_reads, log_epochs)
    batches = paper_batches(samples, batch)
    steps = sequential_steps(batches, n_tiles)
    n_batches, samples = len(batches), sum(batches)
    replicated = variant == "replicated_A"
    counts: dict[str, dict[str, Any]] = {}
    for name, (in_size, out_size) in PAPER_LAYERS.items():
        reads = swa_reads * epochs / log_epochs_
        a_reads = n_batches * (n_tiles if replicated else 1)
        counts[name] = {
            "in_size": in_size,
            "out_size": out_size,
            "n_tiles": n_tiles,
            "variant": variant,
            "batches": n_batches * epochs,
            "samples": samples * epochs,
            "bm_rounds": bm * epochs / len(PAPER_LAYERS),
            "phases": {
                "forward": {"vectors": samples * epochs, "sequential": steps * epochs, "pulses": 0},
                "backward": {
                    "vectors": samples * epochs,
                    "sequential": steps * epochs,
                    "pulses": 0,
                },
                "update_A": {
                    "vectors": samples * epochs,
                    "sequential": (steps if replicated else samples) * epochs,
                    "pulses": samples * bl * epochs,
                },
                "transfer_read": {
                    "vectors": a_reads * epochs,
                    "sequential": n_batches * epochs,
                    "pulses": 0,
                },
                "transfer_write": {
                    "vectors": n_batches * n_tiles * epochs,
                    "sequential": n_batches * epochs,
                    "pulses": n_batches * n_tiles * TRANSFER_BL * epochs,
                },
                "program": {"vectors": 0, "sequential": 0, "pulses": 0},
                "read": {
                    "vectors": reads * in_size * n_tiles,
                    "sequential": 2 * reads * in_size,
                    "pulses": 0,
                },
            },
        }
    return counts


@cache
def _paper_fixed_table() -> dict[tuple[str, int], FixedCosts]:
    from ..paper import load

    out = {}
    for row in load("mnist")["fixed_costs"]["rows"]:
        out[(row["variant"], int(row["n_tiles"]))] = FixedCosts(
            time_s=row["time_s"],
            analog_energy_pj=row["analog_energy_j"] * 1e12,
            digital_energy_pj=row["digital_energy_j"] * 1e12,
        )
    return out


def paper_fixed_costs(n_tiles: int, variant: str) -> FixedCosts:
    """The paper's one-off costs (programming + final reads) of its logged runs, per N and variant.

    These are the paper's values (``analog_tt/paper_data/mnist.json`` ``fixed_costs``), not a
    model: they come from stochastic programming-loop iteration counts that were not published.
    """
    _check_variant(variant)
    n_tiles = _check_int("n_tiles", n_tiles, 1, "an integer >= 1")
    table = _paper_fixed_table()
    if (variant, n_tiles) not in table:
        known = sorted({n for (_, n) in table})
        raise ValueError(f"the paper reports one-off costs for n_tiles in {known}; got {n_tiles}")
    return table[(variant, n_tiles)]


def paper_costs(
    n_tiles: int,
    bl: float,
    variant: str,
    epochs: float,
    *,
    timing: Timing | None = None,
    constants: EnergyConstants | None = None,
    fixed: FixedCosts | None = None,
    include_fixed: bool = True,
    log_reads: bool = True,
    log_epochs: float | None = None,
    bm_rounds_per_epoch: float = 0.0,
    samples: int = PAPER_SAMPLES,
    batch: int = PAPER_BATCH,
) -> dict[str, Any]:
    """Closed-form time and energy of training the paper's network (§6, without a training run).

    Per epoch (L = 3 layers, S = 60000 samples, B = 938 mini-batches, K = Σ_b ceil(b/N) parallel
    steps, R = swa_reads / log_epochs amortised read-outs, Σ over layers):

    * time = mvm_s x [2 L K + L B + 2 R Σ in] + pulse_s x [BL L (S or K) + L B TRANSFER_BL]
      (S for shared_A: serial A update; K for replicated_A);
    * analog energy = S Σ(forward + backward) + BL S Σ update_per_pulse
      + B (1 + N or 2N) Σ transfer + R N Σ in x forward;
    * digital energy: the ops of :func:`digital_ops`, written out per sample, per batch and per
      transfer.

    Totals = ``fixed`` + epochs x per-epoch. This function is independent of :func:`costs_from_counts`
    (which sums the same terms from op counts); the tests check that both agree.

    Parameters
    ----------
    n_tiles : int
        Replicas N (>= 1).
    bl : float
        Update pulses per A-update vector (> 0).
    variant : {"shared_A", "replicated_A"}
    epochs : float
        Epochs of training (>= 0), e.g. the epochs to reach 97 %.
    timing, constants
        Defaults: :class:`Timing` and the paper's energy table.
    fixed : FixedCosts, optional
        One-off costs; default (``include_fixed``): the paper's :func:`paper_fixed_costs` when it
        has them for this N, else none.
    log_reads, log_epochs, bm_rounds_per_epoch, samples, batch
        As in :func:`paper_op_counts`.

    Returns
    -------
    dict
        As :func:`costs_from_counts`, plus ``n_tiles``, ``bl``, ``variant``, ``epochs``,
        ``time_per_epoch_s`` and ``energy_per_epoch_j``.
    """
    n_tiles = _check_int("n_tiles", n_tiles, 1, "an integer >= 1")
    _check_variant(variant)
    bl = _check_number("bl", bl, "a number of pulses > 0", positive=True)
    epochs = _check_number("epochs", epochs, "a number of epochs >= 0")
    bm = _check_number("bm_rounds_per_epoch", bm_rounds_per_epoch, "a number >= 0")
    constants = constants or load_energy_constants()
    timing = timing or Timing()
    if fixed is None:
        fixed = FixedCosts()
        if include_fixed and (variant, n_tiles) in _paper_fixed_table():
            fixed = paper_fixed_costs(n_tiles, variant)
    swa_reads, log_epochs_ = _paper_reads(n_tiles, variant, log_reads, log_epochs)
    reads = swa_reads / log_epochs_  # read-outs per epoch

    batches = paper_batches(samples, batch)
    S, B = sum(batches), len(batches)
    K = sequential_steps(batches, n_tiles)
    L = len(PAPER_LAYERS)
    replicated = variant == "replicated_A"
    layers = [constants.layer(i, o) for i, o in PAPER_LAYERS.values()]
    sum_in = sum(i for i, _ in PAPER_LAYERS.values())
    mean_batch = S / B
    bm_seq = bm * mean_batch * K / S  # extra forward steps per epoch

    t = {
        "forward": timing.mvm_s * L * K,
        "backward": timing.mvm_s * L * K,
        "update_A": timing.pulse_s * bl * L * (K if replicated else S),
        "transfer_read": timing.mvm_s * L * B,
        "transfer_write": timing.pulse_s * TRANSFER_BL * L * B,
        "program": 0.0,
        "read": timing.mvm_s * 2 * reads * sum_in,
        "bm_rounds": timing.mvm_s * bm_seq,
    }
    e = {
        "forward": S * sum(x.forward for x in layers),
        "backward": S * sum(x.backward for x in layers),
        "update_A": S * bl * sum(x.update_per_pulse for x in layers),
        "transfer_read": B * (n_tiles if replicated else 1) * sum(x.transfer for x in layers),
        "transfer_write": B * n_tiles * sum(x.transfer for x in layers),
        "program": 0.0,
        "read": reads
        * n_tiles
        * sum(i * x.forward for (i, _), x in zip(PAPER_LAYERS.values(), layers, strict=True)),
        "bm_rounds": bm / L * mean_batch * sum(x.forward for x in layers),
    }

    M, A = constants.primitive("multiplier_32"), constants.primitive("adder_32")
    call_ops = {k: sum(v.values()) for k, v in SCALAR_OPS_PER_CALL.items()}
    update_ops = sum(SCALAR_OPS_PER_UPDATE[variant].values())
    transfer_ops = sum(SCALAR_OPS_PER_TRANSFER[variant].values())
    d = dict.fromkeys(("forward", "read", "bm_rounds", "backward", "update_A", "transfer"), 0.0)
    for (n, m), layer_bm in zip(PAPER_LAYERS.values(), [bm / L] * L, strict=True):
        rn, wn = constants.buffer(n, "read"), constants.buffer(n, "write")
        rm, wm = constants.buffer(m, "read"), constants.buffer(m, "write")
        # forward, per sample: abs+max n, scaling 2n, rescale m, activation m; bias add m; buffers
        d["forward"] += (
            S * (M * (4 * n + 2 * m) + A * m + rn + rm + 2 * wn) + B * call_ops["forward"] * A
        )
        # read-outs (per epoch: reads x N x in probe vectors), no output rescaling
        d["read"] += reads * n_tiles * n * (M * (4 * n + m) + A * m + rn + rm + 2 * wn)
        d["bm_rounds"] += layer_bm * mean_batch * (2 * M * m + wm + rm)
        d["backward"] += S * (M * (4 * m + n) + rm + 2 * wm) + B * call_ops["backward"] * A
        per_batch_update = A * update_ops + (0.0 if replicated else M * 2 * m)
        d["update_A"] += S * (M * (4 * n + 3 * m) + rn + rm) + B * per_batch_update
        a_reads = n_tiles if replicated else 1
        common = M * (m + 4 * m * a_reads + m) + 2 * rm + 2 * wm
        if replicated:
            d["transfer"] += B * (common + A * (3 * m * a_reads + m) + M * 2 * m + A * transfer_ops)
        else:
            d["transfer"] += B * (common + A * 3 * m * a_reads + A * transfer_ops)

    run_time = {k: epochs * v for k, v in t.items()}
    analog = {k: epochs * v for k, v in e.items()}
    digital = {k: epochs * v for k, v in d.items() if v}
    out = _result({"time_s": run_time, "energy_pj": analog}, digital, fixed)
    out.update(
        n_tiles=n_tiles,
        bl=bl,
        variant=variant,
        epochs=epochs,
        time_per_epoch_s=sum(t.values()),
        energy_per_epoch_j=(sum(e.values()) + sum(d.values())) * 1e-12,
    )
    return out


def pareto_mask(time_s: Any, energy_j: Any) -> Any:
    """Boolean mask of the settings on the time-energy Pareto front (both to be minimised).

    A setting is on the front when no other setting is at least as good in both time and energy
    and strictly better in one. NaNs are never on the front.
    """
    import numpy as np

    t, e = np.asarray(time_s, dtype=float), np.asarray(energy_j, dtype=float)
    if t.shape != e.shape or t.ndim != 1:
        raise ValueError(
            f"time_s and energy_j must be 1-D of equal length, got {t.shape}, {e.shape}"
        )
    ok = np.isfinite(t) & np.isfinite(e)
    mask = np.zeros(t.shape, dtype=bool)
    for i in np.flatnonzero(ok):
        dominated = ok & (t <= t[i]) & (e <= e[i]) & ((t < t[i]) | (e < e[i]))
        mask[i] = not dominated.any()
    return mask
