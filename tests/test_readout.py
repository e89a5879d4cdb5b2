"""Least-squares weight reads, tile-averaged digital weights and FP copies of analog models."""

from __future__ import annotations

import math

import pytest
import torch
from aihwkit.nn import AnalogLinear
from aihwkit.simulator.configs import SingleRPUConfig
from aihwkit.simulator.presets.devices import EcRamPresetDevice
from aihwkit.simulator.presets.utils import PresetIOParameters
from replica_helpers import FakeMultiTileLinear, make_replicas
from torch import nn

from analog_tt.tiles.readout import (
    analog_linear_layers,
    digital_weights,
    digitize,
    read_replica_weights,
    replica_weights,
)

OUT, IN, OS = 12, 40, 10


def _expected_read_error(x: torch.Tensor, y: torch.Tensor, w_hat: torch.Tensor) -> float:
    """Std of a least-squares coefficient for i.i.d. N(0,1) probes: sigma / sqrt(M - in - 1)."""
    m, n = x.shape
    resid = y.double() - x.double() @ w_hat.double().T
    sigma = math.sqrt(float(resid.pow(2).sum()) / (resid.numel() - n * y.shape[1]))
    return sigma / math.sqrt(m - n - 1)


@pytest.mark.parametrize("n_replicas", [1, 3])
def test_lstsq_read_recovers_exact_weights_within_noise(n_replicas: int) -> None:
    torch.manual_seed(0)
    layer = FakeMultiTileLinear(make_replicas(n_replicas, OUT, IN))
    exact = replica_weights(layer, "exact")
    assert exact.shape == (n_replicas, OUT, IN)
    ops: list[dict] = []
    read = replica_weights(layer, "lstsq", generator=torch.Generator().manual_seed(1), ops=ops)
    assert read.shape == exact.shape
    # the read must be noisy (it goes through the analog forward) but close
    for i in range(n_replicas):
        err = float((read[i] - exact[i]).std())
        assert err > 0
        # noise level expected from this replica's own residuals
        g = torch.Generator().manual_seed(2)
        x = torch.randn(OS * IN, IN, generator=g)
        y = layer.analog_module.replicas[i].tile.forward(x)
        expected = _expected_read_error(x, y, exact[i])
        assert 0.6 * expected < err < 1.6 * expected, (err, expected)
        # per-replica read: far closer to its own replica than to the others
        for j in range(n_replicas):
            if j != i:
                assert float((read[i] - exact[j]).std()) > 5 * err
    assert ops == [
        {
            "phase": "read",
            "op": "forward",
            "tile": "main",
            "vectors": n_replicas * OS * IN,
            "pfactor": float(n_replicas),
        }
    ]


def test_over_sampling_reduces_read_error() -> None:
    torch.manual_seed(3)
    rep = make_replicas(1, OUT, IN)[0]
    exact = rep.tile.get_weights()
    errs = {os_: float((read_replica_weights(rep, IN, os_) - exact).std()) for os_ in (2, 40)}
    assert errs[40] < 0.5 * errs[2]


def test_read_validation() -> None:
    rep = make_replicas(1, 4, 8)[0]
    with pytest.raises(ValueError, match="over_sampling must be an int >= 1"):
        read_replica_weights(rep, 8, over_sampling=0)
    with pytest.raises(ValueError, match="in_size"):
        read_replica_weights(rep, 9)
    layer = FakeMultiTileLinear([rep])
    with pytest.raises(ValueError, match=r"mode must be one of \('lstsq', 'exact'\)"):
        replica_weights(layer, "noisy")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="over_sampling"):
        digitize(nn.Sequential(layer), "lstsq", over_sampling=0)
    with pytest.raises(TypeError, match="simulator tile"):
        read_replica_weights(nn.Linear(2, 2))


def test_digital_weights_average_times_alpha_and_bias() -> None:
    torch.manual_seed(1)
    layer = FakeMultiTileLinear(make_replicas(4, OUT, IN), alpha=2.5)
    stack = layer.exact_stack()
    w, b = digital_weights(layer, "exact")
    assert torch.allclose(w, 2.5 * stack.mean(0), atol=1e-6)
    assert torch.equal(b, layer.analog_module.bias.detach())
    p = torch.tensor([0.7, 0.1, 0.1, 0.1])
    w_p, _ = digital_weights(layer, "exact", replica_weighting=p)
    assert torch.allclose(w_p, 2.5 * torch.einsum("n,noi->oi", p, stack), atol=1e-6)
    with pytest.raises(ValueError, match="replica_weighting"):
        digital_weights(layer, "exact", replica_weighting=torch.tensor([0.5, 0.5]))
    nobias = FakeMultiTileLinear(make_replicas(2, OUT, IN), bias=False)
    assert digital_weights(nobias, "exact")[1] is None


def _ordinary_linear(bias: bool) -> AnalogLinear:
    cfg = SingleRPUConfig(device=EcRamPresetDevice(), forward=PresetIOParameters())
    cfg.mapping.digital_bias = True
    return AnalogLinear(IN, OUT, bias=bias, rpu_config=cfg)


def test_digitize_mixed_model_exact_and_lstsq() -> None:
    torch.manual_seed(2)
    multi = FakeMultiTileLinear(make_replicas(3, 20, IN), alpha=1.5)
    ordinary = _ordinary_linear(bias=True)
    model = nn.Sequential(multi, nn.Sigmoid(), nn.Linear(20, IN), ordinary, nn.LogSoftmax(dim=1))
    assert list(analog_linear_layers(model)) == ["0", "3"]

    fp = digitize(model, "exact")
    assert isinstance(fp[0], nn.Linear) and isinstance(fp[3], nn.Linear)
    assert isinstance(model[0], FakeMultiTileLinear) and isinstance(model[3], AnalogLinear)
    assert fp[2] is not model[2] and torch.equal(fp[2].weight, model[2].weight)
    x = torch.randn(5, IN)
    w0 = 1.5 * multi.exact_stack().mean(0)
    w3, b3 = ordinary.get_weights()
    h = torch.sigmoid(x @ w0.T + multi.analog_module.bias)
    h = model[2](h)
    ref = torch.log_softmax(h @ w3.T + b3, dim=1)
    assert torch.allclose(fp(x), ref, atol=1e-5)

    fp_l = digitize(model, "lstsq", over_sampling=40, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(fp_l[3].bias, b3)  # digital bias: exact, never read
    err = float((fp_l[3].weight.detach() - w3).std())
    assert 0 < err < 0.25 * float(w3.std())
    assert float((fp_l[0].weight.detach() - w0).std()) < 0.25 * float(w0.std())


def test_digitize_ordinary_analog_bias_layer_reads_bias() -> None:
    torch.manual_seed(4)
    cfg = SingleRPUConfig(device=EcRamPresetDevice(), forward=PresetIOParameters())
    cfg.mapping.digital_bias = False
    layer = AnalogLinear(IN, OUT, bias=True, rpu_config=cfg)
    w, b = layer.get_weights()
    w_hat, b_hat = digital_weights(layer, "lstsq")
    assert float((w_hat - w).std()) < 0.25 * float(w.std())
    assert float((b_hat - b).std()) < 0.25 * float(b.std())


def test_digitize_without_analog_layers_raises() -> None:
    with pytest.raises(ValueError, match="no analog linear layer"):
        digitize(nn.Sequential(nn.Linear(2, 2)))


def test_digitize_analog_tt_layers_matches_layer_weights_and_counts_reads() -> None:
    from aihwkit.nn import AnalogSequential

    from analog_tt.presets import paper_mnist_config
    from analog_tt.tiles.counting import collect_op_counts

    torch.manual_seed(8)
    cfg = paper_mnist_config(n_tiles=3, count_ops=True)
    model = AnalogSequential(AnalogLinear(IN, OUT, bias=True, rpu_config=cfg), nn.Sigmoid())
    layer = model[0]
    with torch.no_grad():
        layer.analog_module.out_scaling_alpha.fill_(2.0)
        layer.analog_module.bias.normal_()
    w_exact, b_exact = digital_weights(layer, "exact")
    w_ref, b_ref = layer.get_weights()  # replica average x scales, digital bias
    assert torch.allclose(w_exact, w_ref, atol=1e-6) and torch.equal(b_exact, b_ref)
    stack = layer.analog_module.get_replica_weights()
    assert torch.allclose(replica_weights(layer, "exact"), stack)

    fp = digitize(model, "lstsq", generator=torch.Generator().manual_seed(0))
    assert isinstance(fp[0], nn.Linear)
    assert float((fp[0].weight.detach() - w_ref).std()) < 0.25 * float(w_ref.std())
    read = collect_op_counts(model)["0"]["read"]
    assert read["vectors"] == 3 * OS * IN and read["sequential"] == OS * IN


def test_digitize_aihwkit_baseline_tile_array() -> None:
    from aihwkit.simulator.presets import TikiTakaEcRamPreset

    torch.manual_seed(9)
    layer = AnalogLinear(600, 8, bias=True, rpu_config=TikiTakaEcRamPreset())  # split: in > 512
    w, b = layer.get_weights()
    fp = digitize(nn.Sequential(layer), "exact")
    assert torch.equal(fp[0].weight.detach(), w) and torch.equal(fp[0].bias.detach(), b)
    w_l, b_l = digital_weights(layer, "lstsq")
    assert torch.equal(b_l, b)  # the array's bias is digital: copied, not read
    assert 0 < float((w_l - w).std()) < 0.5 * float(w.std())
    assert replica_weights(layer, "lstsq").shape == (1, 8, 600)


@pytest.mark.parametrize("fn", [replica_weights, digital_weights])
def test_a_digital_layer_is_refused_by_name(fn):
    with pytest.raises(ValueError, match="Linear is neither a multi-tile layer nor AnalogLinear"):
        fn(torch.nn.Linear(3, 2), "exact")


def _tile_average_error(layer, probes: str, seed: int) -> float:
    exact = replica_weights(layer, "exact").mean(dim=0)
    gen = torch.Generator().manual_seed(seed)
    read, _ = digital_weights(layer, "lstsq", generator=gen, probes=probes)
    return float((read - exact * _alpha(layer)).pow(2).mean().sqrt())


def _alpha(layer) -> float:
    from analog_tt.tiles.readout import output_scale

    alpha = output_scale(layer)
    return 1.0 if alpha is None else float(alpha.flatten()[0])


def test_shared_probes_with_one_replica_are_the_per_replica_read() -> None:
    from analog_tt.core.seeding import reseed_analog_tiles
    from analog_tt.runs import RunConfig

    layer = FakeMultiTileLinear(make_replicas(1, OUT, IN))
    reads = []
    for probes in ("per_replica", "shared"):
        assert reseed_analog_tiles(layer, 3) == 1  # the same output noise for both reads
        gen = torch.Generator().manual_seed(4)
        reads.append(digital_weights(layer, "lstsq", generator=gen, probes=probes)[0])
    assert torch.equal(reads[0], reads[1])
    shared = RunConfig(n_tiles=1, read_probes="shared")
    assert shared.read_probes == "per_replica" and shared.key() == RunConfig(n_tiles=1).key()
    assert RunConfig(n_tiles=4, read_probes="shared").key() != RunConfig(n_tiles=4).key()
    with pytest.raises(ValueError, match="read_probes"):
        RunConfig(n_tiles=4, read_probes="common")


def test_shared_probe_average_is_the_average_of_shared_probe_reads() -> None:
    from analog_tt.core.seeding import reseed_analog_tiles
    from analog_tt.tiles.readout import read_shared_probes

    torch.manual_seed(0)
    layer = FakeMultiTileLinear(make_replicas(4, OUT, IN))
    reps = layer.analog_module.replicas
    reseed_analog_tiles(layer, 5)  # the same output noise for both reads
    each = read_shared_probes(reps, OS, torch.Generator().manual_seed(6))
    reseed_analog_tiles(layer, 5)
    p = torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64)
    combined = read_shared_probes(reps, OS, torch.Generator().manual_seed(6), combine=p)
    assert each.shape == (4, OUT, IN) and combined.shape == (1, OUT, IN)
    expected = torch.einsum("n,noi->oi", p, each.double()).float()
    torch.testing.assert_close(combined[0], expected, rtol=1e-5, atol=1e-6)


def test_shared_probes_read_the_tile_average_as_well_as_per_replica_probes() -> None:
    # each replica's output noise is its own in both reads, so the error of the tile average is
    # the same in distribution; a read that shared the noise too would be sqrt(N) = 2x worse
    torch.manual_seed(0)
    layer = FakeMultiTileLinear(make_replicas(4, OUT, IN))
    errors = {
        probes: [_tile_average_error(layer, probes, seed) for seed in range(12)]
        for probes in ("per_replica", "shared")
    }
    mean = {k: sum(v) / len(v) for k, v in errors.items()}
    assert 0.85 < mean["shared"] / mean["per_replica"] < 1.15, mean


@pytest.mark.slow  # about 1-3 minutes: 24 noisy reads of a 784-64-10 model with 4 replicas
def test_shared_probes_give_the_tile_average_the_same_test_accuracy() -> None:
    """Run level: a trained MNIST MLP with 4 diverged replicas per layer, read 8 times with each
    probe rule and engine; the tile average's test accuracy agrees (Welch) and its spread is
    alike."""
    from aihwkit.nn import AnalogSequential

    from analog_tt.core.stats import welch
    from analog_tt.data import load_mnist
    from analog_tt.presets import paper_mnist_config
    from analog_tt.runs.evaluation import accuracy_and_loss
    from analog_tt.tiles.readout import analog_linear_layers, build_digital_model

    torch.manual_seed(0)
    x, y = load_mnist(train=True, subset=6000, seed=0)
    x_test, y_test = load_mnist(train=False, subset=2000, seed=0)
    float_model = nn.Sequential(nn.Linear(784, 64), nn.Sigmoid(), nn.Linear(64, 10))
    opt = torch.optim.SGD(float_model.parameters(), lr=0.5)
    for _ in range(3):
        for i in range(0, len(x), 64):
            opt.zero_grad()
            nn.functional.cross_entropy(float_model(x[i : i + 64]), y[i : i + 64]).backward()
            opt.step()
    config = paper_mnist_config(n_tiles=4)
    model = AnalogSequential(AnalogLinear(784, 64, rpu_config=config), nn.Sigmoid(),
                             AnalogLinear(64, 10, rpu_config=config))  # fmt: skip
    model.eval()
    for analog, trained in zip((model[0], model[2]), (float_model[0], float_model[2]), strict=True):
        analog.set_weights(trained.weight.detach(), trained.bias.detach())
        for replica in analog.analog_module.tile.replicas:  # diverged replicas, as in training
            w = replica.tile.get_weights()
            replica.tile.set_weights(w + 0.05 * w.abs().max() * torch.randn_like(w))
    accuracy = {}
    # "shared" batches the replicas' forward in torch (engine "auto"); "shared_aihwkit" is the
    # same read through every replica's aihwkit forward (the reference path)
    for name_, probes, engine in [
        ("per_replica", "per_replica", "aihwkit"),
        ("shared", "shared", "auto"),
        ("shared_aihwkit", "shared", "aihwkit"),
    ]:
        accuracy[name_] = []
        for seed in range(8):
            gen = torch.Generator().manual_seed(100 + seed)
            snap = {
                name: digital_weights(layer, "lstsq", generator=gen, probes=probes, engine=engine)
                for name, layer in analog_linear_layers(model).items()
            }
            accuracy[name_].append(
                accuracy_and_loss(build_digital_model(model, snap), x_test, y_test)[0]
            )
    exact = {
        name: digital_weights(layer, "exact") for name, layer in analog_linear_layers(model).items()
    }
    exact_acc = accuracy_and_loss(build_digital_model(model, exact), x_test, y_test)[0]
    assert exact_acc > 0.85, exact_acc  # a model worth reading
    for reference in ("per_replica", "shared_aihwkit"):
        test = welch(accuracy["shared"], accuracy[reference])
        assert test["verdict"] == "indistinguishable", (reference, test, accuracy)
        assert abs(test["difference"]) < 0.005, (reference, test, accuracy)
        print(reference, test["p_value"])
    print({k: [round(a, 4) for a in v] for k, v in accuracy.items()}, exact_acc)
    spread = {k: float(torch.tensor(v).std()) for k, v in accuracy.items()}
    assert spread["shared"] < 3 * spread["per_replica"] + 1e-3, spread
