"""The batched replica engine (``replica_engine="batched"``) against aihwkit's (the reference).

What is exact: with the output noise off, the batched training forward and backward give the
bits of every replica's own aihwkit call, and sharing the weight storage changes no aihwkit
update. What is statistical: with the noise on, the noise has aihwkit's spread, and training
reaches the same loss over seeds. (aihwkit's C++ forward advances the random generator that its
pulsed update draws from, even with the output noise off, so the two engines' pulse streams
differ and no training trajectory can be compared bit for bit.)
"""

from __future__ import annotations

import copy
import io
import math
import pickle

import pytest
import torch
from aihwkit.exceptions import ConfigError
from aihwkit.nn import AnalogLinear
from aihwkit.optim import AnalogSGD

from analog_tt.core.seeding import reseed_analog_tiles, seed_everything
from analog_tt.core.stats import mean_ci95
from analog_tt.presets import paper_mnist_config, spiral_config
from analog_tt.runs import RunConfig, run
from analog_tt.tiles.io_forward import io_managed_sliced

torch.set_num_threads(1)


def _layer(engine: str, n_tiles: int, n_in: int, n_out: int, out_noise: float | None = None,
           variant: str = "shared_A", count_ops: bool = False,
           out_bound: float | None = None) -> AnalogLinear:  # fmt: skip
    rpu = paper_mnist_config(n_tiles=n_tiles, variant=variant, bl=5, count_ops=count_ops)
    rpu.replica_engine = engine
    rpu.device.construction_seed = 11  # the same device-to-device draw for both engines
    if out_noise is not None:
        rpu.forward.out_noise = rpu.backward.out_noise = out_noise
    if out_bound is not None:
        rpu.forward.out_bound = rpu.backward.out_bound = out_bound
    torch.manual_seed(3)
    return AnalogLinear(n_in, n_out, bias=True, rpu_config=rpu)


def _pair(n_tiles: int, n_in: int, n_out: int, **kwargs) -> tuple:
    reference = _layer("aihwkit", n_tiles, n_in, n_out, **kwargs).analog_module.tile
    batched = _layer("batched", n_tiles, n_in, n_out, **kwargs).analog_module.tile
    weights = torch.randn(n_tiles, n_out, n_in, generator=torch.Generator().manual_seed(4)) * 0.3
    reference.set_replica_weights(weights)
    batched.set_replica_weights(weights)
    assert torch.equal(reference.get_replica_weights(), batched.get_replica_weights())
    return reference, batched


@pytest.mark.parametrize(("n_tiles", "n_in", "n_out", "batch", "out_bound"),
                         [(8, 784, 256, 64, 20.0), (8, 784, 256, 64, 2.0), (32, 256, 128, 64, 20.0),
                          (5, 128, 10, 37, 2.0), (3, 64, 20, 2, 20.0)])  # fmt: skip
def test_without_noise_the_batched_passes_give_aihwkits_bits(
    n_tiles, n_in, n_out, batch, out_bound
):
    """Forward (at out_bound 2 with bound management: most first rounds clip) and backward, even
    and uneven slices, more replicas than samples: the same bits, bar a sum that lands within
    float rounding of an ADC step boundary (``bmm`` and aihwkit's ``gemv`` add in different
    orders; one step, rare)."""
    reference, batched = _pair(n_tiles, n_in, n_out, out_noise=0.0, out_bound=out_bound)
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(batch, n_in, generator=gen) * 4
    d = torch.randn(batch, n_out, generator=gen) * 0.01
    io_pars = reference.weight_forward_io
    out_res = 1 / io_pars.out_res if io_pars.out_res > 1 else io_pars.out_res
    adc_step = 2 * io_pars.out_bound * out_res
    # a bound-management round r scales its ADC step by r; r stays below max_bm_res / inp_step
    inp_step = (
        2 * io_pars.inp_bound * (1 / io_pars.inp_res if io_pars.inp_res > 1 else io_pars.inp_res)
    )
    largest_round = 2 ** math.ceil(math.log2(io_pars.max_bm_res / inp_step))
    for new, ref, vectors in ((batched.forward(x), reference.forward(x), x),
                              (batched.backward(d), reference.backward(d), d)):  # fmt: skip
        steps = (new - ref).abs() / vectors.abs().amax(1, keepdim=True) / adc_step
        assert (new != ref).float().mean() < 1e-3
        assert steps.max() < 1.001 * largest_round, steps.max()


def test_the_bound_management_rounds_are_exercised() -> None:
    """At out_bound 2 most first rounds clip (so the redo rounds are compared above too)."""
    _, batched = _pair(8, 784, 256, out_noise=0.0, out_bound=2.0)
    x = torch.randn(64, 784, generator=torch.Generator().manual_seed(5)) * 4
    weights = batched.shared_weights.tensor(batched.replicas)
    first = (x / x.abs().amax(1, keepdim=True)).view(8, 8, 784) @ weights.transpose(1, 2)
    assert (first.abs().amax(-1) > batched.weight_forward_io.out_bound).float().mean() > 0.5


@pytest.mark.parametrize("transposed", [False, True])
def test_with_noise_the_batched_passes_have_aihwkits_spread(transposed: bool) -> None:
    """Residual ``(y - W x) / max|x|`` over many vectors: the same spread (aihwkit's CPU normals
    come from a table, its std off by ~0.4 %), no bias."""
    reference, batched = _pair(4, 120, 48, out_noise=0.1)
    gen = torch.Generator().manual_seed(6)
    width = 48 if transposed else 120
    x = torch.randn(4000, width, generator=gen)
    weights = reference.get_replica_weights()
    exact = torch.cat([
        x[i * 1000 : (i + 1) * 1000] @ (weights[i] if transposed else weights[i].T)
        for i in range(4)
    ])  # fmt: skip
    scale = x.abs().amax(1, keepdim=True)
    passes = (lambda t: t.backward(x)) if transposed else (lambda t: t.forward(x))
    ref = ((passes(reference) - exact) / scale).flatten()
    new = ((passes(batched) - exact) / scale).flatten()
    assert abs(new.std() / ref.std() - 1) < 0.02, (new.std(), ref.std())
    assert abs(new.mean()) < 5 * new.std() / new.numel() ** 0.5


def test_sharing_the_storage_changes_no_aihwkit_update() -> None:
    """A transfer write (aihwkit's pulsed update, its own noise) on replicas whose weights live
    in the shared tensor gives the bits it gives on replicas that own them, and the tensor sees
    it with no copy."""
    results = []
    for share in (False, True):
        layer = _layer("batched", 3, 20, 6)
        reseed_analog_tiles(layer, 9)
        tile = layer.analog_module.tile
        shared = tile.shared_weights.tensor(tile.replicas) if share else None
        write = torch.randn(6, generator=torch.Generator().manual_seed(1)) * 3
        tile._write_columns(2, write, torch.zeros(1, 20), tile.replica_lr, False)
        results.append(tile.get_replica_weights())
        if share:
            assert torch.equal(shared, results[-1])
    assert torch.equal(results[0], results[1])
    assert not torch.equal(results[1][:, :, 2], _layer("batched", 3, 20, 6).analog_module.tile
                           .get_replica_weights()[:, :, 2])  # fmt: skip


def _live(tile) -> bool:
    live = torch.equal(tile.shared_weights.tensor(tile.replicas), tile.get_replica_weights())
    if tile.batched_column_reads and len(tile.grad_tiles) > 1:  # replicated_A's A tiles too
        grad = torch.stack([g.tile.get_weights() for g in tile.grad_tiles])
        live = live and torch.equal(tile.shared_grad_weights.tensor(tile.grad_tiles), grad)
    return live


def _train_step(tile, x: torch.Tensor, d: torch.Tensor) -> None:
    tile.forward(x)
    tile.backward(d)
    tile.update(x, d * 50)


@pytest.mark.parametrize("variant", ["shared_A", "replicated_A"])
def test_the_shared_storage_follows_rebuilt_and_copied_tiles(variant: str) -> None:
    """Reseeding (rebuilds the C++ tiles), load_state_dict, deepcopy and pickling: every copy
    trains on live weights of its own (replicated_A: its gradient tiles' too, which the
    transfer reads), and the original is not touched by a copy's training."""
    layer = _layer("batched", 4, 30, 8, variant=variant)
    tile = layer.analog_module.tile
    x, d = torch.rand(16, 30), torch.randn(16, 8) * 0.1
    for _ in range(3):
        _train_step(tile, x, d)
    assert _live(tile)
    reseed_analog_tiles(layer, 5)
    _train_step(tile, x, d)
    assert _live(tile)

    buffer = io.BytesIO()
    torch.save(layer, buffer)
    copies = [copy.deepcopy(layer), pickle.loads(pickle.dumps(layer))]
    buffer.seek(0)
    copies.append(torch.load(buffer, weights_only=False))
    loaded = _layer("batched", 4, 30, 8, variant=variant)
    loaded.load_state_dict(layer.state_dict())
    copies.append(loaded)
    before = tile.get_replica_weights()
    for other in copies:
        other_tile = other.analog_module.tile
        assert torch.equal(other_tile.get_replica_weights(), before)
        for _ in range(3):
            _train_step(other_tile, x, d)
        assert _live(other_tile)
        assert not torch.equal(other_tile.get_replica_weights(), before)
        assert torch.equal(tile.get_replica_weights(), before) and _live(tile)


def _grad_pair(n_tiles: int, n_in: int, n_out: int, transfer_noise: float,
               transfer_bound: float | None = None) -> tuple:  # fmt: skip
    """replicated_A tiles of both engines whose N gradient tiles hold the same weights."""
    tiles = []
    for engine in ("aihwkit", "batched"):
        rpu = paper_mnist_config(n_tiles=n_tiles, variant="replicated_A", bl=5)
        rpu.replica_engine = engine
        rpu.device.construction_seed = 11
        rpu.device.transfer_forward.out_noise = transfer_noise
        if transfer_bound is not None:
            rpu.device.transfer_forward.out_bound = transfer_bound
        torch.manual_seed(3)
        tiles.append(AnalogLinear(n_in, n_out, bias=True, rpu_config=rpu).analog_module.tile)
    weights = torch.randn(n_tiles, n_out, n_in, generator=torch.Generator().manual_seed(4)) * 0.3
    for tile in tiles:
        for grad_tile, weight in zip(tile.grad_tiles, weights, strict=True):
            grad_tile.tile.set_weights(weight.clone())
    assert not tiles[0].batched_column_reads and tiles[1].batched_column_reads
    return tiles[0], tiles[1], weights


def test_without_noise_the_batched_column_reads_give_aihwkits_bits() -> None:
    """replicated_A's transfer read of column k of N gradient tiles (some of it clipped at the
    output bound, all of it on the ADC grid): aihwkit's N forwards of e_k, bit for bit, also
    after the tiles' own pulsed updates changed the shared storage."""
    reference, batched, weights = _grad_pair(8, 784, 256, transfer_noise=0.0, transfer_bound=0.5)
    like = torch.zeros(1, 784)
    assert (weights.abs() > reference.transfer_read_io.out_bound).float().mean() > 0.05
    for k in (0, 17, 783):
        assert torch.equal(batched._read_columns(k, like, False),
                           reference._read_columns(k, like, False))  # fmt: skip
    x, d = torch.rand(16, 784), torch.randn(16, 256)
    for tile in (reference, batched):
        reseed_analog_tiles(tile, 2)
        tile.update(x, d)
    grad = torch.stack([g.tile.get_weights() for g in batched.grad_tiles])
    assert not torch.equal(grad, weights)  # the update wrote the A tiles
    assert torch.equal(batched.shared_grad_weights.tensor(batched.grad_tiles), grad)
    for k in (3, 400):
        new = batched._read_columns(k, like, False)
        assert torch.equal(new, io_read_reference(batched, k))


def io_read_reference(tile, k: int) -> torch.Tensor:
    """aihwkit's own reads of ``tile``'s gradient tiles (the reference path, on its weights)."""
    e_k = torch.zeros(1, tile.x_size)
    e_k[0, k] = 1.0
    return torch.stack([g.tile.forward(e_k, False, False, False, False, False)[0]
                        for g in tile.grad_tiles])  # fmt: skip


def test_with_noise_the_batched_column_reads_have_aihwkits_spread() -> None:
    reference, batched, weights = _grad_pair(4, 64, 500, transfer_noise=0.1)
    like = torch.zeros(1, 64)
    inside = weights.abs() < 0.5  # away from the output bound (1) and its clipping
    residuals = {}
    for name, tile in (("aihwkit", reference), ("batched", batched)):
        res = torch.stack([tile._read_columns(k, like, False) - weights[:, :, k]
                           for k in range(64)], dim=-1)  # fmt: skip
        residuals[name] = res[inside]
    ref, new = residuals["aihwkit"], residuals["batched"]
    assert abs(new.std() / ref.std() - 1) < 0.02, (new.std(), ref.std())
    assert abs(new.mean()) < 5 * new.std() / new.numel() ** 0.5


def test_op_counts_are_the_same_with_either_engine() -> None:
    reference, batched = _pair(8, 784, 256, out_noise=0.0, count_ops=True, out_bound=2.0)
    x = torch.randn(64, 784, generator=torch.Generator().manual_seed(5)) * 4
    reference.forward(x)
    batched.forward(x)
    assert reference.op_counts == batched.op_counts
    assert reference.op_counts["forward"]["bm_rounds"] > 0


def test_sliced_mvm_checks_its_shapes() -> None:
    io_pars = paper_mnist_config().forward
    with pytest.raises(ValueError, match=r"expected weights \[N, out, in\]"):
        io_managed_sliced(torch.zeros(2, 3, 4), torch.zeros(3, 5, 4), io_pars)


def test_bad_engines_are_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match="replica_engine must be one of"):
        RunConfig(replica_engine="gpu")
    with pytest.raises(ValueError, match="needs a multi-tile algorithm"):
        RunConfig(algorithm="tt_v1", dataset="spiral", network="2-16-3-relu-x25",
                  replica_engine="batched")  # fmt: skip
    rpu = spiral_config(n_tiles=2)
    rpu.replica_engine = "batched"
    rpu.forward.inp_noise = 0.01
    with pytest.raises(ConfigError, match="use replica_engine='aihwkit'"):
        AnalogLinear(4, 3, rpu_config=rpu)


def test_the_default_engine_keeps_every_stored_key() -> None:
    cfg = RunConfig(n_tiles=8)
    assert cfg.replace(replica_engine="aihwkit").key() == cfg.key()
    assert cfg.replace(replica_engine="batched").key() != cfg.key()


def _regression_losses(engine: str, seed: int, steps: int = 400) -> tuple[float, float]:
    """One 4-replica replicated_A layer (the paper's noisy MNIST tile) learning a random linear
    map with AnalogSGD: mean loss of the first 20 and of the last 50 steps."""
    seed_everything(seed)
    rpu = paper_mnist_config(n_tiles=4, variant="replicated_A", bl=31, auto_scale_start="first")
    rpu.replica_engine = engine
    layer = AnalogLinear(32, 8, bias=False, rpu_config=rpu)
    reseed_analog_tiles(layer, seed + 100)
    gen = torch.Generator().manual_seed(1000 + seed)  # the same task and data for both engines
    target = torch.randn(8, 32, generator=gen) * 0.2
    optimizer = AnalogSGD(layer.parameters(), lr=0.1)
    optimizer.regroup_param_groups(layer)
    losses = []
    for _ in range(steps):
        x = torch.rand(16, 32, generator=gen)
        optimizer.zero_grad()
        loss = ((layer(x) - x @ target.T) ** 2).mean()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return sum(losses[:20]) / 20, sum(losses[-50:]) / 50


def test_batched_training_reaches_aihwkits_loss() -> None:
    """8 tasks, each trained by both engines (paired: same task, data and device draw; each
    engine its own noise). Training works (the loss falls by a third or more), and the paired
    difference of the final losses is 0 within its 95 % CI, and that CI lies within 3 % of the
    final loss (the paired differences seen are 0.3-1.3 %)."""
    first, final, difference = [], [], []
    for seed in range(8):
        start_ref, end_ref = _regression_losses("aihwkit", seed)
        _, end_new = _regression_losses("batched", seed)
        first.append(start_ref)
        final.append(end_ref)
        difference.append((end_new - end_ref) / end_ref)
    assert max(f / s for f, s in zip(final, first, strict=True)) < 0.67, (first, final)
    mean, half_width, _ = mean_ci95(difference)
    assert mean - half_width < 0 < mean + half_width, difference
    assert -0.03 < mean - half_width and mean + half_width < 0.03, difference


SPIRAL = {"dataset": "spiral", "network": "2-32-3-relu-x25", "algorithm": "agad", "lr": 0.01,
          "bl": 31, "n_per_class": 30, "epochs": 2, "batch_size": 8, "n_tiles": 4,
          "out_noise": 0.1, "variant": "replicated_A"}  # fmt: skip


def test_a_batched_run_is_bit_reproducible() -> None:
    cfg = RunConfig(**SPIRAL, replica_engine="batched")
    seed_everything(0)
    first = run(cfg, progress=False)
    again = run(cfg, progress=False)
    assert [e["train_loss"] for e in first["epochs"]] == [e["train_loss"] for e in again["epochs"]]
    other = run(cfg.replace(replica_engine="aihwkit"), progress=False)
    assert [e["train_loss"] for e in other["epochs"]] != [e["train_loss"] for e in first["epochs"]]
