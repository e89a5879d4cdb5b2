"""Tests of the from-scratch Tiki-Taka (SHD) optimiser, its batched form and the device model."""

import copy

import numpy as np
import pytest
import torch
from torch import nn

from analog_tt.core.seeding import seed_everything
from analog_tt.scratch import (
    BatchedTikiTaka,
    SoftBoundsSGD,
    SpiralNet,
    TikiTaka,
    device_response,
    soft_bounds_update,
    train_classifier,
)

# ---------------------------------------------------------------------------- device model


def test_soft_bounds_update_hand_values():
    # up-step at w = 0.5, wd = 0.2: 0.1 * (1 - 0.1) = 0.09
    assert soft_bounds_update(0.5, 0.1, 0.2) == pytest.approx(0.59)
    # down-step at w = 0.5: -0.1 * (1 + 0.1) = -0.11
    assert soft_bounds_update(0.5, -0.1, 0.2) == pytest.approx(0.39)
    # at the bound 1/wd = 5 an up-step does nothing; wd = 0 is ideal
    assert soft_bounds_update(5.0, 0.1, 0.2) == pytest.approx(5.0)
    assert soft_bounds_update(0.5, 0.1, 0.0) == pytest.approx(0.6)


def test_device_response_curves():
    w = np.array([-5.0, 0.0, 2.5, 5.0])
    up, down = device_response(w, step=0.035, wd=0.2)
    np.testing.assert_allclose(up, 0.035 * np.array([2.0, 1.0, 0.5, 0.0]), atol=1e-15)
    np.testing.assert_allclose(down, 0.035 * np.array([0.0, 1.0, 1.5, 2.0]), atol=1e-15)


@pytest.mark.parametrize("kwargs", [{"step": 0.0, "wd": 0.2}, {"step": 0.1, "wd": -1.0}])
def test_device_response_rejects_bad_values(kwargs):
    with pytest.raises(ValueError):
        device_response([0.0], **kwargs)


# ---------------------------------------------------------------------------- one-weight updates


def _one_weight(w0=0.3):
    lin = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        lin.weight.fill_(w0)
    return lin


def _set_grad(lin, g):
    lin.weight.grad = torch.full_like(lin.weight, g)


def test_one_weight_hand_computed_steps():
    # lr_A = 0.5, lr_C = 0.1, wd_A = 0.2, wd_C = 0.5, t = 1, C0 = 0.3, gradients 1 then -2.
    lin = _one_weight(0.3)
    opt = TikiTaka(lin, lr_a=0.5, lr_c=0.1, transfer_every=1, wd_a=0.2, wd_c=0.5)
    _set_grad(lin, 1.0)
    opt.step()
    # A1 = 0 - 0.5 * (1 + 0) = -0.5 ; C1 = 0.3 + 0.1 * (-0.5 - 0.5*0.3*0.5) = 0.2425
    assert opt.fast_weights()[0].item() == pytest.approx(-0.5)
    assert lin.weight.item() == pytest.approx(0.2425)
    _set_grad(lin, -2.0)
    opt.step()
    # A2 = -0.5 - 0.5 * (-2 + 0.2*(-0.5)*2) = 0.6 ; C2 = 0.2425 + 0.1*(0.6 - 0.5*0.2425*0.6)
    assert opt.fast_weights()[0].item() == pytest.approx(0.6)
    assert lin.weight.item() == pytest.approx(0.2425 + 0.1 * (0.6 - 0.5 * 0.2425 * 0.6))


def test_transfer_period_and_column_order():
    # 3 input columns, t = 2: step k transfers column (k // 2) % 3 when k % 2 == 0,
    # the bias every t * n_in = 6 steps.
    lin = nn.Linear(3, 2)
    with torch.no_grad():
        lin.weight.zero_()
        lin.bias.zero_()
    opt = TikiTaka(lin, lr_a=1.0, lr_c=1.0, transfer_every=2, wd_a=0.0, wd_c=0.0)
    touched = []
    for _ in range(6):
        before_w, before_b = lin.weight.clone(), lin.bias.clone()
        lin.weight.grad = -torch.ones_like(lin.weight)
        lin.bias.grad = -torch.ones_like(lin.bias)
        opt.step()
        cols = torch.nonzero((lin.weight != before_w).any(0)).flatten().tolist()
        touched.append((cols, bool((lin.bias != before_b).any())))
    assert touched == [
        ([], False),
        ([1], False),
        ([], False),
        ([2], False),
        ([], False),
        ([0], True),
    ]


def test_pulse_test_a_saturates_at_its_bound():
    # Constant gradient -1 drives A towards +1/wd_A = 5 and never past it.
    lin = _one_weight(0.0)
    opt = TikiTaka(lin, lr_a=0.035, lr_c=0.035, transfer_every=10, wd_a=0.2, wd_c=0.2)
    opt.fast_weights()[0].fill_(-5.0)
    for _ in range(2000):
        _set_grad(lin, -1.0)
        opt.step()
    a = opt.fast_weights()[0].item()
    assert 4.99 < a <= 5.0
    assert 0.0 < lin.weight.item() < 5.0


# ---------------------------------------------------------------------------- reductions


def _tiny_net(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(1, 4), nn.Tanh(), nn.Linear(4, 1))


def _data(seed=1, n=16):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 1, generator=g), torch.randn(n, 1, generator=g)


def _train(model, opt, x, y, steps=25):
    for k in range(steps):
        sl = slice((4 * k) % 16, (4 * k) % 16 + 4)
        opt.zero_grad()
        nn.functional.mse_loss(model(x[sl]), y[sl]).backward()
        opt.step()


@pytest.mark.parametrize("transfer_columns", [True, False])
def test_symmetric_device_t1_is_sgd_with_undamped_momentum(transfer_columns):
    """wd = 0, t = 1, every element transferred each step => SGD(lr_A*lr_C, momentum=1).

    With ``transfer_columns=True`` this needs ``in_features == 1`` (so the single column is
    transferred at every step), hence the 1-unit-wide second layer is replaced by a 1-input one.
    """
    lr_a, lr_c = 0.3, 0.2
    if transfer_columns:
        model = nn.Sequential(nn.Linear(1, 1), nn.Tanh(), nn.Linear(1, 1))
        torch.manual_seed(0)
        for p in model.parameters():
            nn.init.normal_(p)
    else:
        model = _tiny_net()
    model = model.double()  # float64 so that the comparison is exact up to round-off
    ref = copy.deepcopy(model)
    x, y = (v.double() for v in _data())
    tt = TikiTaka(model, lr_a, lr_c, 1, wd_a=0.0, wd_c=0.0, transfer_columns=transfer_columns)
    sgd = torch.optim.SGD(ref.parameters(), lr=lr_a * lr_c, momentum=1.0, dampening=0.0)
    _train(model, tt, x, y)
    _train(ref, sgd, x, y)
    for p, q in zip(model.parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-12, atol=1e-12)


def test_symmetric_device_is_not_plain_sgd():
    # the same run differs from momentum-free SGD: the correspondence above is exact, not loose
    model, ref = _tiny_net(), _tiny_net()
    x, y = _data()
    _train(model, TikiTaka(model, 0.3, 0.2, 1, 0.0, 0.0, transfer_columns=False), x, y)
    _train(ref, torch.optim.SGD(ref.parameters(), lr=0.06), x, y)
    assert not torch.allclose(model[0].weight, ref[0].weight, atol=1e-4)


def test_soft_bounds_sgd_reduces_to_sgd_and_biases_towards_zero():
    model, ref = _tiny_net(), _tiny_net()
    x, y = _data()
    _train(model, SoftBoundsSGD(model.parameters(), lr=0.1, wd=0.0), x, y)
    _train(ref, torch.optim.SGD(ref.parameters(), lr=0.1), x, y)
    for p, q in zip(model.parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(p, q)
    w = torch.nn.Parameter(torch.tensor([1.0]))
    opt = SoftBoundsSGD([w], lr=0.1, wd=0.5)
    w.grad = torch.tensor([2.0])
    opt.step()  # 1 - 0.2 - 0.5 * 1 * 0.2
    assert w.item() == pytest.approx(0.7)


# ---------------------------------------------------------------------------- batched form


def test_batched_with_one_replica_equals_single_form():
    seed_everything(3)
    template = SpiralNet(n_hidden=8)
    single = copy.deepcopy(template)
    x = torch.randn(40, 2)
    y = torch.randint(0, 3, (40,))
    kw = {"lr_a": 0.05, "lr_c": 0.05, "transfer_every": [5, 1], "wd_a": 0.2, "wd_c": 0.2}
    opt = TikiTaka(single, **kw)
    batched = BatchedTikiTaka(template, 1, **kw)
    loss_fn = nn.CrossEntropyLoss()
    for k in range(30):
        sl = slice((8 * k) % 40, (8 * k) % 40 + 8)
        opt.zero_grad()
        loss_fn(single(x[sl]), y[sl]).backward()
        opt.step()
        batched.train_step(x[sl], y[sl], loss_fn)
    for p, q in zip(single.parameters(), batched.replicas[0].parameters(), strict=True):
        assert torch.equal(p, q)
    for a, b in zip(opt.fast_weights(), batched.fast, strict=True):
        assert torch.equal(a, b)
    torch.testing.assert_close(single(x), batched(x))


def test_batched_transfer_same_a_into_every_replica_with_own_soft_bound():
    lin = _one_weight(0.0)
    bt = BatchedTikiTaka(lin, 2, lr_a=1.0, lr_c=0.5, transfer_every=1, wd_a=0.0, wd_c=0.5)
    with torch.no_grad():
        bt.replicas[0].weight.fill_(1.0)
        bt.replicas[1].weight.fill_(-1.0)
    # chunk 0: x=1, y=0 -> dL/dw = 2*(w*1 - 0)*1 = 2 ; chunk 1: x=1, y=0 -> 2*(-1) = -2 ; mean 0
    # so use different targets: chunk 1 y = -3 -> 2*(-1+3) = 4 ; mean g = 3, A = -3
    x = torch.tensor([[1.0], [1.0]])
    y = torch.tensor([[0.0], [-3.0]])
    bt.train_step(x, y, nn.functional.mse_loss)
    assert bt.fast[0].item() == pytest.approx(-3.0)
    # C_i += 0.5 * (A - 0.5 * C_i * |A|)
    assert bt.replicas[0].weight.item() == pytest.approx(1.0 + 0.5 * (-3.0 - 0.5 * 1.0 * 3.0))
    assert bt.replicas[1].weight.item() == pytest.approx(-1.0 + 0.5 * (-3.0 + 0.5 * 1.0 * 3.0))
    avg = (bt.replicas[0].weight + bt.replicas[1].weight) / 2
    torch.testing.assert_close(bt(torch.ones(1, 1)), avg.detach())


# ---------------------------------------------------------------------------- determinism, errors


def _spiral_run(seed):
    rng = seed_everything(seed)
    x = torch.from_numpy(rng.standard_normal((60, 2)).astype(np.float32))
    y = torch.from_numpy(rng.integers(0, 3, 60))
    model = SpiralNet(n_hidden=16)
    return train_classifier(
        model,
        lambda m: TikiTaka(m, 0.05, 0.05, [5, 1]),
        x,
        y,
        epochs=3,
        batch_size=16,
        seed=seed,
        x_test=x,
        y_test=y,
    )


def test_determinism_under_same_seed():
    assert _spiral_run(7) == _spiral_run(7)
    assert _spiral_run(7) != _spiral_run(8)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"lr_a": 0.0, "lr_c": 0.1},
        {"lr_a": 0.1, "lr_c": -1.0},
        {"lr_a": 0.1, "lr_c": 0.1, "wd_a": -0.2},
        {"lr_a": 0.1, "lr_c": 0.1, "wd_c": float("nan")},
        {"lr_a": 0.1, "lr_c": 0.1, "transfer_every": 0},
        {"lr_a": 0.1, "lr_c": 0.1, "transfer_every": [1, 1, 1]},
        {"lr_a": 0.1, "lr_c": 0.1, "transfer_every": 1.5},
    ],
)
def test_bad_hyper_parameters_raise(kwargs):
    with pytest.raises(ValueError):
        TikiTaka(SpiralNet(n_hidden=4), **kwargs)


def test_non_linear_parameters_raise():
    model = nn.Sequential(nn.Linear(2, 4), nn.BatchNorm1d(4), nn.Linear(4, 3))
    with pytest.raises(ValueError, match="nn.Linear"):
        TikiTaka(model, 0.1, 0.1)
    with pytest.raises(ValueError, match="n_replicas"):
        BatchedTikiTaka(SpiralNet(n_hidden=4), 0, 0.1, 0.1)
