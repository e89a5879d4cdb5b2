"""SWA and performance-weighted SWA over replicas and epochs."""

from __future__ import annotations

import pytest
import torch
from replica_helpers import FakeMultiTileLinear, make_replicas
from torch import nn

from analog_tt.tiles.swa import SWA, PerformanceWeightedSWA, performance_weights

N = 3


def _model(alpha: float = 2.0) -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        FakeMultiTileLinear(make_replicas(N, 6, 10), alpha=alpha),
        nn.Sigmoid(),
        FakeMultiTileLinear(make_replicas(N, 4, 6), alpha=alpha, bias=False),
        nn.LogSoftmax(dim=1),
    )


def _set_random_weights(model: nn.Sequential, g: torch.Generator) -> dict[str, torch.Tensor]:
    """Write fresh random replica weights and biases; return the stacks that were written."""
    written = {}
    for name in ("0", "2"):
        layer = model[int(name)]
        stack = 0.1 * torch.randn(N, layer.out_features, layer.in_features, generator=g)
        for rep, w in zip(layer.analog_module.replicas, stack, strict=True):
            rep.tile.set_weights(w.clone())
        written[name] = layer.exact_stack()  # after the device's clipping
        if layer.analog_module.bias is not None:
            with torch.no_grad():
                layer.analog_module.bias.copy_(torch.randn(layer.out_features, generator=g))
            written[name + ".bias"] = layer.analog_module.bias.detach().clone()
    return written


def test_swa_equals_arithmetic_mean_of_snapshots() -> None:
    model = _model(alpha=2.0)
    g = torch.Generator().manual_seed(1)
    swa = SWA(swa_start=2, swa_freq=2, read_mode="exact")
    taken = []
    for epoch in range(8):
        written = _set_random_weights(model, g)
        if swa.update(model, epoch):
            taken.append(written)
    assert swa.epochs == [2, 4, 6] and swa.n_averaged == 3
    params = swa.averaged_params()
    for name in ("0", "2"):
        expected = torch.stack([2.0 * t[name].mean(0) for t in taken]).mean(0)
        assert torch.allclose(params[name][0], expected, atol=1e-6)
    exp_bias = torch.stack([t["0.bias"] for t in taken]).mean(0)
    assert torch.allclose(params["0"][1], exp_bias, atol=1e-6)
    assert params["2"][1] is None

    fp = swa.averaged_model(model)
    x = torch.randn(5, 10)
    h = torch.sigmoid(x @ params["0"][0].T + params["0"][1])
    ref = torch.log_softmax(h @ params["2"][0].T, dim=1)
    assert torch.allclose(fp(x), ref, atol=1e-6)
    assert isinstance(model[0], FakeMultiTileLinear)  # the analog model is untouched


def test_swa_before_start_and_schedule() -> None:
    swa = SWA(swa_start=3)
    assert [swa.due(e) for e in range(6)] == [False, False, False, True, True, True]
    with pytest.raises(ValueError, match="nothing averaged"):
        swa.averaged_params()
    assert SWA(0, 3).due(6) and not SWA(0, 3).due(4)


def test_weighted_swa_with_equal_losses_equals_plain_swa() -> None:
    model = _model()
    g = torch.Generator().manual_seed(2)
    plain = SWA(0, read_mode="exact")
    weighted = PerformanceWeightedSWA(0, n_tiles=N, read_mode="exact", temperature=0.2)
    out = torch.log_softmax(torch.randn(1, 4), dim=1).repeat(12, 1)  # every slice: same loss
    target = torch.zeros(12, dtype=torch.long)
    for epoch in range(3):
        _set_random_weights(model, g)
        losses = weighted.observe(out, target)
        assert torch.allclose(losses, losses[0].expand(N))
        plain.update(model, epoch)
        weighted.update(model, epoch)
    assert torch.allclose(weighted.replica_weights(), torch.full((N,), 1 / N, dtype=torch.float64))
    for name, (w, b) in plain.averaged_params().items():
        w2, b2 = weighted.averaged_params()[name]
        assert torch.allclose(w, w2, atol=1e-6)
        assert (b is None and b2 is None) or torch.allclose(b, b2)


def test_weighted_swa_favours_the_best_replica() -> None:
    model = _model(alpha=1.0)
    g = torch.Generator().manual_seed(3)
    written = _set_random_weights(model, g)
    pw = PerformanceWeightedSWA(0, n_tiles=N, read_mode="exact", temperature=0.01)
    # batch of 9 -> slices of 3; replica 1 predicts the target confidently, the others not
    logits = torch.zeros(9, 4)
    logits[3:6, 0] = 8.0
    out = torch.log_softmax(logits, dim=1)
    target = torch.zeros(9, dtype=torch.long)
    pw.observe(out, target)
    p = pw.replica_weights()
    assert int(p.argmax()) == 1 and float(p[1]) > 0.999
    pw.update(model, 0)
    assert torch.allclose(pw.averaged_params()["0"][0], written["0"][1], atol=1e-4)


def test_loss_ema_momentum_and_idle_replicas() -> None:
    pw = PerformanceWeightedSWA(
        0, n_tiles=4, momentum=0.9, loss_fn=lambda o, t: (o - t).abs().mean()
    )
    out = torch.zeros(3, 1)  # B = 3 < N = 4: replica 3 gets no rows
    pw.observe(out, torch.full((3, 1), 1.0))
    pw.observe(out, torch.full((3, 1), 2.0))
    assert torch.allclose(
        pw.tile_losses[:3], torch.full((3,), 0.9 * 1.0 + 0.1 * 2.0, dtype=torch.float64)
    )
    assert not bool(pw.tile_seen[3])
    assert torch.allclose(pw.replica_weights(), torch.full((4,), 0.25, dtype=torch.float64))


def test_performance_weights_formulas() -> None:
    losses = torch.tensor([0.5, 1.0, 2.0])
    inv = 1 / (losses.double() + 1e-8)
    assert torch.allclose(performance_weights(losses, 0.2), torch.softmax(inv / 0.2, 0))
    assert torch.allclose(performance_weights(losses, 0.0), inv / inv.sum())
    assert torch.allclose(performance_weights(losses, -1.0), torch.tensor([4, 2, 1.0]).double() / 7)


def test_state_dict_round_trip_continues_identically() -> None:
    model = _model()
    g = torch.Generator().manual_seed(4)
    snaps = []
    for _ in range(3):
        _set_random_weights(model, g)
        snaps.append(PerformanceWeightedSWA(0, N, read_mode="exact").snapshot(model))
    out = torch.log_softmax(torch.randn(12, 4, generator=g), dim=1)
    target = torch.randint(0, 4, (12,), generator=g)

    full = PerformanceWeightedSWA(0, N, read_mode="exact")
    full.observe(out, target)
    for s in snaps:
        full.add_snapshot(s)

    first = PerformanceWeightedSWA(0, N, read_mode="exact")
    first.observe(out, target)
    first.add_snapshot(snaps[0])
    first.add_snapshot(snaps[1])
    resumed = PerformanceWeightedSWA(0, N, read_mode="exact")
    resumed.load_state_dict(first.state_dict())
    resumed.add_snapshot(snaps[2])
    assert resumed.n_averaged == full.n_averaged == 3
    assert torch.equal(resumed.tile_losses, full.tile_losses)
    for name, (w, _) in full.averaged_params().items():
        assert torch.equal(resumed.averaged_params()[name][0], w)
    with pytest.raises(ValueError, match="swa_start differs"):
        SWA(5, read_mode="exact").load_state_dict({**SWA(0, read_mode="exact").state_dict()})
    with pytest.raises(ValueError, match="is for"):
        SWA(0).load_state_dict(first.state_dict())


def test_swa_validation() -> None:
    with pytest.raises(ValueError, match="swa_start"):
        SWA(-1)
    with pytest.raises(ValueError, match="swa_freq"):
        SWA(0, 0)
    with pytest.raises(ValueError, match=r"read_mode must be one of \('lstsq', 'exact'\)"):
        SWA(0, read_mode="mean")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="over_sampling must be an int >= 1"):
        SWA(0, over_sampling=0)
    with pytest.raises(ValueError, match="n_tiles"):
        PerformanceWeightedSWA(0, n_tiles=0)
    with pytest.raises(ValueError, match="momentum"):
        PerformanceWeightedSWA(0, n_tiles=2, momentum=1.0)
    with pytest.raises(ValueError, match="has 3 replicas, n_tiles is 2"):
        PerformanceWeightedSWA(0, n_tiles=2, read_mode="exact").update(_model(), 0)
    with pytest.raises(ValueError, match="no analog linear layer"):
        SWA(0).update(nn.Sequential(nn.Linear(2, 2)), 0)
