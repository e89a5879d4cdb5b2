"""Regression tests of the hardware runtime / energy model against the paper's tables (issue 6).

The paper's tables (seed-analysis §4.3, in ``analog_tt/paper_data/mnist.json``) give, per
(variant, N, BL), the epochs to reach 97 %, the training time and the total energy. Fed those
epochs, :func:`analog_tt.hardware.paper_costs` must reproduce time and energy within 1 % in every
cell. Two cells groups are known exceptions of the *paper's* tables and are tested for what they
are, not skipped:

* shared_A, N = 4: the paper's logged run had extra bound-management forward rounds, which its
  per-epoch time includes (+311 µs per epoch, i.e. ~1780 extra sequential MVMs; up to +1.7 %
  at BL 2). Our model without them is low by exactly a per-epoch constant; with that many extra
  rounds it matches.
* (N = 1, BL = 31): the table lists 34 epochs, but its time, its digital energy and the shared_A
  analog energy were computed with 33; only the replicated_A analog energy used 34
  (seed-analysis §4.3, §7.21).

Every table's max relative error is printed (visible in the normal pytest output).

Run: ``.venv/bin/python -m pytest tests/test_hardware.py -q``
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from analog_tt import hardware as hw
from analog_tt.paper import load

TOLERANCE = 0.01  # the acceptance: within 1 % per cell
PAPER_N = (1, 4, 8, 16, 32)
PAPER_BL = (2, 5, 10, 31, 100)


def _rows() -> dict[tuple[str, int, int], dict]:
    return {
        (r["variant"], r["n_tiles"], r["bl"]): r
        for r in load("mnist")["epochs_time_energy"]["rows"]
    }


def _is_exception(variant: str, n: int, bl: int, quantity: str) -> bool:
    if (n, bl) == (1, 31):
        return True
    return quantity == "time_s" and variant == "shared_A" and n == 4


def _rel(model: float, paper: float) -> float:
    return model / paper - 1.0


# ---------------------------------------------------------------------------------------------
# The paper's time and energy tables
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("quantity", ["time_s", "energy_j"])
@pytest.mark.parametrize("variant", hw.VARIANTS)
def test_reproduces_paper_table(variant: str, quantity: str, capsys) -> None:
    rows = _rows()
    errors = {}
    for n in PAPER_N:
        for bl in PAPER_BL:
            row = rows[(variant, n, bl)]
            model = hw.paper_costs(n, bl, variant, row["epochs_to_97"])[quantity]
            errors[(n, bl)] = _rel(model, row[quantity])
    regular = {k: e for k, e in errors.items() if not _is_exception(variant, *k, quantity)}
    worst = max(regular, key=lambda k: abs(regular[k]))
    exceptions = {k: e for k, e in errors.items() if k not in regular}
    with capsys.disabled():
        print(
            f"\n[hardware] {quantity} {variant}: max |rel err| = {abs(regular[worst]):.3%} at "
            f"(N, BL) = {worst} over {len(regular)} cells; known exceptions (tested below): "
            + ", ".join(f"{k}: {e:+.2%}" for k, e in sorted(exceptions.items()))
        )
    bad = {k: e for k, e in regular.items() if abs(e) > TOLERANCE}
    assert not bad, f"cells off by more than 1 %: {bad}"


def test_n4_shared_A_times_include_bound_management_rounds(capsys) -> None:
    """shared_A, N = 4: the paper's time has a per-epoch surplus, constant over BL (not a BL error)."""
    rows = _rows()
    timing = hw.Timing()
    surplus, errors = [], []
    for bl in PAPER_BL:
        row = rows[("shared_A", 4, bl)]
        model = hw.paper_costs(4, bl, "shared_A", row["epochs_to_97"])
        errors.append(_rel(model["time_s"], row["time_s"]))
        surplus.append((row["time_s"] - model["time_s"]) / row["epochs_to_97"])
    surplus = np.array(surplus)
    # the model is low, by up to ~1.7 % (BL 2, the most epochs)
    assert all(-0.02 < e < 0 for e in errors), errors
    assert abs(min(errors) + 0.017) < 0.002
    # the surplus per epoch is the same at every BL (spread from the table's 1 ms rounding only):
    # it is work per epoch, independent of the update pulses
    assert surplus.std() < 20e-6, surplus
    extra_steps = surplus.mean() / timing.mvm_s
    assert 1650 < extra_steps < 1900  # ~311 µs = ~1780 extra sequential MVMs per epoch
    # that many extra bound-management forward rounds close the gap in every cell
    batches = hw.paper_batches()
    steps, samples = hw.sequential_steps(batches, 4), sum(batches)
    rounds = extra_steps * samples / (samples / len(batches) * steps)
    worst = 0.0
    for bl in PAPER_BL:
        row = rows[("shared_A", 4, bl)]
        model = hw.paper_costs(4, bl, "shared_A", row["epochs_to_97"], bm_rounds_per_epoch=rounds)
        worst = max(worst, abs(_rel(model["time_s"], row["time_s"])))
    with capsys.disabled():
        print(
            f"\n[hardware] shared_A N=4 time: without bound-management rounds {min(errors):+.2%} "
            f".. {max(errors):+.2%}; surplus {surplus.mean() * 1e6:.0f} µs/epoch = "
            f"{extra_steps:.0f} MVM steps = {rounds:.0f} rounds/epoch; with them max |rel err| "
            f"= {worst:.3%}"
        )
    assert worst < 0.002
    # the replicated_A N = 4 run had (almost) none: within 0.1 % without them
    for bl in PAPER_BL:
        row = rows[("replicated_A", 4, bl)]
        model = hw.paper_costs(4, bl, "replicated_A", row["epochs_to_97"])
        assert abs(_rel(model["time_s"], row["time_s"])) < 0.001


def test_n1_bl31_mixes_33_and_34_epochs(capsys) -> None:
    """(N = 1, BL = 31): listed as 34 epochs, computed with 33 except replicated_A's analog energy."""
    rows = _rows()
    report = []
    for variant in hw.VARIANTS:
        row = rows[(variant, 1, 31)]
        assert row["epochs_to_97"] == 34
        as_listed = hw.paper_costs(1, 31, variant, 34)
        # with the listed 34 epochs the time is one epoch (1/33 = +3.0 %) too long
        err_time_34 = _rel(as_listed["time_s"], row["time_s"])
        assert abs(err_time_34 - 1 / 33) < 0.002
        # with 33 epochs it matches
        at_33 = hw.paper_costs(1, 31, variant, 33)
        assert abs(_rel(at_33["time_s"], row["time_s"])) < 0.001
        # energy: fixed + 33 x digital per epoch + (33 or 34) x analog per epoch
        per_epoch = hw.paper_costs(1, 31, variant, 1, include_fixed=False)
        fixed = hw.paper_fixed_costs(1, variant)
        analog_epochs = 34 if variant == "replicated_A" else 33
        mixed = (
            (fixed.analog_energy_pj + fixed.digital_energy_pj) * 1e-12
            + analog_epochs * per_epoch["analog_energy_j"]
            + 33 * per_epoch["digital_energy_j"]
        )
        err_mixed = _rel(mixed, row["energy_j"])
        err_34 = _rel(as_listed["energy_j"], row["energy_j"])
        assert abs(err_mixed) < 0.001
        report.append(
            f"{variant}: time {err_time_34:+.2%} at 34 epochs, "
            f"{_rel(at_33['time_s'], row['time_s']):+.3%} at 33; energy {err_34:+.2%} at 34, "
            f"{err_mixed:+.3%} with analog {analog_epochs} / digital 33"
        )
    # shared_A's energy used 33 throughout: +3 % at 34; replicated_A's only its digital part
    assert (
        _rel(
            hw.paper_costs(1, 31, "shared_A", 34)["energy_j"], rows[("shared_A", 1, 31)]["energy_j"]
        )
        > 0.025
    )
    with capsys.disabled():
        print("\n[hardware] (N=1, BL=31): " + "; ".join(report))


def test_digital_energy_per_epoch_matches_paper(capsys) -> None:
    """§4.5: the digital periphery energy per epoch of the paper's logged runs."""
    table = load("mnist")["digital_energy"]
    worst = 0.0
    for variant in hw.VARIANTS:
        for n, paper in zip(table["n_tiles"], table[variant]["per_epoch_j"], strict=True):
            model = hw.paper_costs(n, 31, variant, 1, include_fixed=False)["digital_energy_j"]
            err = _rel(model, paper)
            worst = max(worst, abs(err))
            # shared_A N = 4 includes the digital side of its bound-management rounds (0.1 %)
            assert abs(err) < 0.0015, (variant, n, err)
    with capsys.disabled():
        print(f"\n[hardware] digital energy per epoch (§4.5): max |rel err| = {worst:.3%}")


def test_per_epoch_structure_matches_seed_analysis() -> None:
    """§6.2 / §6.4 numbers that fall out of the constants (no fitting)."""
    # 900 µs per BL per epoch for shared_A, 900/N for replicated_A
    for n in PAPER_N:
        for variant, expected in (("shared_A", 900e-6), ("replicated_A", 900e-6 / n)):
            a = hw.paper_costs(n, 10, variant, 1, include_fixed=False)["time_per_epoch_s"]
            b = hw.paper_costs(n, 11, variant, 1, include_fixed=False)["time_per_epoch_s"]
            assert math.isclose(b - a, expected, rel_tol=1e-9)
    # the analog energy slope in BL: 3 278 517 600 pJ per BL per epoch, for every N and variant
    for variant in hw.VARIANTS:
        e10 = hw.paper_costs(8, 10, variant, 1, include_fixed=False)["analog_energy_j"]
        e11 = hw.paper_costs(8, 11, variant, 1, include_fixed=False)["analog_energy_j"]
        assert math.isclose((e11 - e10) * 1e12, 3_278_517_600, rel_tol=1e-6)
    # epoch_analog(1, BL = 2) = 7 844 023 188.7 pJ (§6.2 check value)
    e = hw.paper_costs(1, 2, "shared_A", 1, include_fixed=False)["analog_energy_j"] * 1e12
    assert math.isclose(e, 7_844_023_188.7, rel_tol=1e-9)


def test_energy_constants_reproduce_energy_json() -> None:
    """The components give back energy.json's update_l (at BL 31) and transfer_l."""
    constants = hw.load_energy_constants()
    assert constants.units == "pJ" and constants.reference_bl == 31
    expected = {
        (784, 256): (1443643.4175, 2764.796),
        (256, 128): (238923.7425, 1227.518),
        (128, 10): (11333.6, 99.9005),
    }
    for shape, (update, transfer) in expected.items():
        layer = constants.layer(*shape)
        assert math.isclose(layer.update(constants.reference_bl), update, rel_tol=1e-12)
        assert math.isclose(layer.transfer, transfer, rel_tol=1e-12)
    with pytest.raises(ValueError, match="known shapes"):
        constants.layer(10, 10)
    with pytest.raises(ValueError, match="buffer_7_read_32"):
        constants.buffer(7, "read")


def test_fixed_time_is_consistent_with_rounded_table() -> None:
    """The stored one-off times (fitted on the paper's full-precision CSV) fit the rounded §4.3 table."""
    rows = _rows()
    for variant in hw.VARIANTS:
        for n in PAPER_N:
            fixed = hw.paper_fixed_costs(n, variant).time_s
            assert 5.0e-3 < fixed < 1.2e-2  # §6.4: ~5.3e3 µs (N = 1), 1.04-1.17e4 µs (N >= 4)
            residuals, epochs = [], []
            for bl in PAPER_BL:
                if (n, bl) == (1, 31):
                    continue
                row = rows[(variant, n, bl)]
                per_epoch = hw.paper_costs(n, bl, variant, 1, include_fixed=False)["time_s"]
                residuals.append(row["time_s"] - row["epochs_to_97"] * per_epoch)
                epochs.append(row["epochs_to_97"])
            slope, intercept = np.polyfit(epochs, residuals, 1)
            # the table's 3-decimal rounding (±0.5 ms) limits the refit's precision
            assert abs(intercept - fixed) < 3e-3, (variant, n, intercept, fixed)


# ---------------------------------------------------------------------------------------------
# Count-based model == closed form
# ---------------------------------------------------------------------------------------------


def _assert_same(a: dict, b: dict, rel: float = 1e-12) -> None:
    for key in ("time_s", "energy_j", "analog_energy_j", "digital_energy_j", "fixed_energy_j"):
        assert math.isclose(a[key], b[key], rel_tol=rel, abs_tol=1e-30), (key, a[key], b[key])
    for part in ("time_s", "analog_energy_j", "digital_energy_j"):
        keys = set(a["breakdown"][part]) | set(b["breakdown"][part])
        for k in keys:
            x, y = a["breakdown"][part].get(k, 0.0), b["breakdown"][part].get(k, 0.0)
            assert math.isclose(x, y, rel_tol=rel, abs_tol=1e-18), (part, k, x, y)


@pytest.mark.parametrize("variant", hw.VARIANTS)
@pytest.mark.parametrize("n_tiles", [1, 2, 4, 8, 16, 32, 64])
def test_counts_model_equals_closed_form(variant: str, n_tiles: int) -> None:
    paper_n = n_tiles in PAPER_N
    for bl, epochs in ((2, 101), (31, 33.5), (100, 0)):
        kwargs = {"log_reads": paper_n, "bm_rounds_per_epoch": 50.0 if n_tiles == 4 else 0.0}
        counts = hw.paper_op_counts(n_tiles, variant, epochs, bl, **kwargs)
        fixed = hw.paper_fixed_costs(n_tiles, variant) if paper_n else hw.FixedCosts()
        from_counts = hw.costs_from_counts(counts, fixed=fixed)
        closed = hw.paper_costs(n_tiles, bl, variant, epochs, **kwargs)
        _assert_same(from_counts, closed)


def test_counts_model_accepts_counter_record_layout() -> None:
    """The raw layout of ``analog_tt.tiles.counting.collect_op_counts`` (phases at the top level)."""
    counts = hw.paper_op_counts(8, "replicated_A", 3, 10, log_reads=False, samples=640, batch=64)
    raw = {}
    for name, entry in counts.items():
        record = {"batches": entry["batches"], "samples": entry["samples"]}
        for phase, c in entry["phases"].items():
            record[phase] = {**c, "bm_rounds": 0, "bm_vectors": 0}
        raw[name] = record
    shapes = {name: hw.PAPER_LAYERS[name] for name in raw}
    got = hw.costs_from_counts(raw, layer_shapes=shapes, n_tiles=8, variant="replicated_A")
    want = hw.paper_costs(
        8, 10, "replicated_A", 3, include_fixed=False, log_reads=False, samples=640, batch=64
    )
    _assert_same(got, want)
    with pytest.raises(ValueError, match="layer_shapes"):
        hw.costs_from_counts(raw, n_tiles=8, variant="replicated_A")
    with pytest.raises(ValueError, match="variant"):
        hw.costs_from_counts(raw, layer_shapes=shapes, n_tiles=8)


def test_bound_management_vectors_from_counter() -> None:
    """``bm_vectors`` of the counter's forward phase: extra forward MVMs at forward parallelism."""
    counts = hw.paper_op_counts(4, "shared_A", 1, 31, log_reads=False)
    base = hw.costs_from_counts(counts)
    counts["l2"]["phases"]["forward"]["bm_vectors"] = 4000
    more = hw.costs_from_counts(counts)
    timing, layer = hw.Timing(), hw.load_energy_constants().layer(256, 128)
    assert math.isclose(more["breakdown"]["time_s"]["bm_rounds"], 4000 / 4 * timing.mvm_s)
    assert math.isclose(
        more["breakdown"]["analog_energy_j"]["bm_rounds"] * 1e12, 4000 * layer.forward
    )
    assert more["energy_j"] > base["energy_j"] and more["time_s"] > base["time_s"]


def test_digital_ops_cost_classes() -> None:
    counts = hw.paper_op_counts(2, "shared_A", 1, 31, log_reads=False)
    ops = hw.digital_ops(counts)
    classes = {op.cost_class for op in ops}
    assert {"multiplier_32", "adder_32"} <= classes
    assert all(c in ("multiplier_32", "adder_32") or c.startswith("buffer_") for c in classes)
    # one bias-buffer read of length out per forward vector of l1 (784 -> 256)
    reads = [
        o
        for o in ops
        if o.layer == "l1" and o.phase == "forward" and o.cost_class == "buffer_256_read_32"
    ]
    assert sum(o.count for o in reads) == 60000
    by_phase = hw.digital_energy_pj(ops, by="phase")
    assert set(by_phase) >= {"forward", "backward", "update_A", "transfer"}
    with pytest.raises(ValueError, match="by must be"):
        hw.digital_energy_pj(ops, by="colour")


# ---------------------------------------------------------------------------------------------
# Units and inputs
# ---------------------------------------------------------------------------------------------


def test_doubling_pulse_time_doubles_update_part_only() -> None:
    base = hw.paper_costs(8, 31, "shared_A", 36)
    slow = hw.paper_costs(8, 31, "shared_A", 36, timing=hw.Timing().scaled(pulse=2.0))
    for phase, t in base["breakdown"]["time_s"].items():
        factor = 2.0 if phase in hw.UPDATE_PHASES else 1.0
        assert math.isclose(slow["breakdown"]["time_s"][phase], factor * t, rel_tol=1e-12), phase
    assert slow["energy_j"] == base["energy_j"]  # time parameters do not change energy
    assert math.isclose(slow["fixed_time_s"], base["fixed_time_s"])
    fast_mvm = hw.paper_costs(8, 31, "shared_A", 36, timing=hw.Timing().scaled(mvm=0.5))
    for phase, t in base["breakdown"]["time_s"].items():
        factor = 0.5 if phase in (*hw.MVM_PHASES, "bm_rounds") else 1.0
        assert math.isclose(fast_mvm["breakdown"]["time_s"][phase], factor * t, rel_tol=1e-12), (
            phase
        )


def test_units() -> None:
    """Seconds and joules: N = 1, BL = 2, 101 epochs is 6.6 s and 2.5 J (paper: 6.606e6 µs, 2.503e12 pJ)."""
    c = hw.paper_costs(1, 2, "shared_A", 101)
    assert 6.5 < c["time_s"] < 6.7
    assert 2.4 < c["energy_j"] < 2.6
    assert math.isclose(c["energy_pj"], c["energy_j"] * 1e12)
    assert math.isclose(c["energy_j"], c["analog_energy_j"] + c["digital_energy_j"], rel_tol=1e-12)
    assert hw.paper_costs(1, 2, "shared_A", 0, include_fixed=False)["time_s"] == 0.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_tiles": 0}, "n_tiles must be an integer >= 1"),
        ({"n_tiles": 2.5}, "n_tiles must be an integer >= 1"),
        ({"variant": "v1"}, r"variant must be one of \('shared_A', 'replicated_A'\), got 'v1'"),
        ({"bl": 0}, "bl must be a number of pulses > 0"),
        ({"bl": -3}, "bl must be a number of pulses > 0"),
        ({"epochs": -1}, "epochs must be a number of epochs >= 0"),
        ({"epochs": float("nan")}, "epochs must be"),
    ],
)
def test_bad_input(kwargs: dict, match: str) -> None:
    args = {"n_tiles": 4, "bl": 31, "variant": "shared_A", "epochs": 10, **kwargs}
    with pytest.raises(ValueError, match=match):
        hw.paper_costs(args["n_tiles"], args["bl"], args["variant"], args["epochs"])
    with pytest.raises(ValueError, match=match):
        hw.paper_op_counts(args["n_tiles"], args["variant"], args["epochs"], args["bl"])


def test_bad_counts_and_timing() -> None:
    good = hw.paper_op_counts(2, "shared_A", 1, 31, log_reads=False)
    bad_phase = {
        k: {**v, "phases": {**v["phases"], "warp": {"vectors": 1}}} for k, v in good.items()
    }
    with pytest.raises(ValueError, match="unknown phases"):
        hw.costs_from_counts(bad_phase)
    negative = {
        k: {**v, "phases": {**v["phases"], "forward": {"vectors": -1}}} for k, v in good.items()
    }
    with pytest.raises(ValueError, match="vectors"):
        hw.costs_from_counts(negative)
    with pytest.raises(ValueError, match="non-empty mapping"):
        hw.costs_from_counts({})
    with pytest.raises(ValueError, match="pulse_s"):
        hw.Timing(pulse_s=0)
    with pytest.raises(ValueError, match="paper reports one-off costs"):
        hw.paper_fixed_costs(64, "shared_A")
    # N the paper did not log: no one-off costs and no amortised log reads unless asked for
    with pytest.raises(ValueError, match="log_reads=False"):
        hw.paper_costs(64, 31, "shared_A", 30)
    assert hw.paper_costs(64, 31, "shared_A", 30, log_reads=False)["fixed_time_s"] == 0.0


@pytest.mark.parametrize("variant", hw.VARIANTS)
def test_counts_measured_by_our_tile_agree_with_closed_form(variant: str) -> None:
    """A few training batches of the paper's network on our multi-tile tile, counted by
    ``analog_tt.counting``, give the closed form's costs (200 samples: 3 batches of 64 + one of 8).

    Measured counts may legitimately differ in two places, checked as inequalities: transfer
    writes are skipped when the write vector is zero, and iterative bound management may add
    forward rounds.
    """
    torch = pytest.importorskip("torch")
    pytest.importorskip("aihwkit")
    from aihwkit.nn import AnalogLinear
    from aihwkit.optim import AnalogSGD

    from analog_tt.presets import paper_mnist_config
    from analog_tt.tiles.counting import collect_op_counts

    torch.manual_seed(0)
    n_tiles, bl, samples, batch = 4, 31, 200, 64
    layers = [
        AnalogLinear(
            i,
            o,
            bias=True,
            rpu_config=paper_mnist_config(n_tiles=n_tiles, variant=variant, bl=bl, count_ops=True),
        )
        for i, o in hw.PAPER_LAYERS.values()
    ]
    model = torch.nn.Sequential(
        layers[0],
        torch.nn.Sigmoid(),
        layers[1],
        torch.nn.Sigmoid(),
        layers[2],
        torch.nn.LogSoftmax(dim=1),
    )
    optimizer = AnalogSGD(model.parameters(), lr=0.1)
    optimizer.regroup_param_groups(model)
    x, y = torch.rand(samples, 784), torch.randint(0, 10, (samples,))
    model.train()
    for start in range(0, samples, batch):
        optimizer.zero_grad()
        loss = torch.nn.functional.nll_loss(
            model(x[start : start + batch]), y[start : start + batch]
        )
        loss.backward()
        optimizer.step()
    raw = collect_op_counts(model)
    assert len(raw) == len(hw.PAPER_LAYERS)
    shapes = dict(zip(raw, hw.PAPER_LAYERS.values(), strict=True))
    measured = hw.costs_from_counts(raw, layer_shapes=shapes, n_tiles=n_tiles, variant=variant)
    closed = hw.paper_costs(
        n_tiles, bl, variant, 1, include_fixed=False, log_reads=False, samples=samples, batch=batch
    )
    for part in ("time_s", "analog_energy_j"):
        got, want = measured["breakdown"][part], closed["breakdown"][part]
        for phase in ("forward", "backward", "update_A", "transfer_read"):
            assert math.isclose(got[phase], want[phase], rel_tol=1e-12), (part, phase)
        assert got["transfer_write"] <= want["transfer_write"] * (1 + 1e-12)
        assert got["bm_rounds"] >= 0.0
    for phase in ("forward", "backward", "update_A"):
        got = measured["breakdown"]["digital_energy_j"][phase]
        assert got >= closed["breakdown"]["digital_energy_j"][phase] * (1 - 1e-12), phase


def test_notebook_07_smoke_writes_only_to_output_dir(tmp_path, repo_root) -> None:
    """The notebook runs with its smoke defaults and writes only under ``output_dir``."""
    papermill = pytest.importorskip("papermill")
    measured = tmp_path / "epochs_to_97.csv"
    measured.write_text(
        "profile,variant,n_tiles,bl,lr,target,n_seeds,n_reached,mean,ci95,paper_mean\n"
        "paper,shared_A,1,31,0.1,0.97,2,2,33.0,0.5,34\n"
        "paper,replicated_A,2,31,0.1,0.97,2,2,40.0,0.7,\n"
        "paper,shared_A,8,31,0.1,0.97,2,1,36.0,,36\n"  # a seed short of 97 %: left out
        "quick,shared_A,4,31,0.1,0.8,2,2,30,3,35\n"  # another target: never epochs to 97 %
    )
    figures = repo_root / "figures"
    # only the names this notebook writes (other notebooks may write figures/ concurrently)
    before = {p: p.stat().st_mtime_ns for p in figures.rglob("hw_*") if p.is_file()}
    out = tmp_path / "figures"
    papermill.execute_notebook(
        str(repo_root / "notebooks" / "07_runtime_energy.ipynb"),
        str(tmp_path / "07_out.ipynb"),
        parameters={"output_dir": str(out), "measured_csv": str(measured)},
        cwd=str(repo_root / "notebooks"),
        kernel_name="python3",
        progress_bar=False,
    )
    for name in (
        "hw_time_energy",
        "hw_time_energy_measured",
        "hw_speedup_vs_n",
        "hw_pareto_front",
        "hw_sensitivity_timing",
    ):
        assert (out / f"{name}.png").is_file() and (out / f"{name}.pdf").is_file(), name
    for name in ("hw_costs", "hw_speedup", "hw_pareto", "hw_sensitivity"):
        assert (out / "tables" / f"{name}.csv").is_file() and (
            out / "tables" / f"{name}.md"
        ).is_file()
    after = {p: p.stat().st_mtime_ns for p in figures.rglob("hw_*") if p.is_file()}
    assert after == before, "the notebook wrote into the repository's figures/"
    import pandas as pd

    costs = pd.read_csv(out / "tables" / "hw_costs.csv")
    measured_rows = costs[costs["source"] != "paper"]
    assert set(measured_rows["source"]) == {"measured (paper profile)"}
    assert sorted(measured_rows["n_tiles"]) == [1, 2]  # not the quick row, not the unreached cell
