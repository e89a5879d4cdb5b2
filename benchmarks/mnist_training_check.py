"""Short MNIST training check of the paper configuration (784-256-128-10 sigmoid, batch 64).

Trains with ``aihwkit.optim.AnalogSGD`` on the multi-tile tile and prints / writes the test
accuracy after every epoch, evaluated digitally with the exact tile-averaged weights times the
learned output scale plus the digital bias (the paper's "exact" evaluation).

Example::

    python benchmarks/mnist_training_check.py --n-tiles 8 --epochs 3 --out check.json
"""

from __future__ import annotations

import argparse
import json
import math
import time

import torch
from aihwkit.nn import AnalogLinear
from aihwkit.optim import AnalogSGD
from torch import nn

from analog_tt.core.files import atomic_write_json
from analog_tt.core.provenance import machine_info, package_versions
from analog_tt.core.seeding import seed_everything
from analog_tt.data import load_mnist
from analog_tt.presets import paper_mnist_config


def build_model(config, init: str, sizes=(784, 256, 128, 10)) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layer = AnalogLinear(n_in, n_out, bias=True, rpu_config=config)
        if init == "xavier":
            weight = torch.empty(n_out, n_in)
            nn.init.xavier_normal_(weight)
            layer.set_weights(weight, torch.zeros(n_out))
        layers.append(layer)
        layers.append(nn.Sigmoid() if i < len(sizes) - 2 else nn.LogSoftmax(dim=1))
    return nn.Sequential(*layers)


@torch.no_grad()
def digital_accuracy(model: nn.Sequential, x: torch.Tensor, y: torch.Tensor) -> float:
    """Accuracy with exact replica-averaged weights x output scale + digital bias, in FP."""
    h = x
    for module in model:
        if isinstance(module, AnalogLinear):
            weight, bias = module.get_weights()
            h = h @ weight.T + bias
        else:
            h = module(h)
    return float((h.argmax(dim=1) == y).float().mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-tiles", type=int, default=8)
    parser.add_argument("--variant", default="shared_A", choices=["shared_A", "replicated_A"])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--bl", type=int, default=31)
    parser.add_argument("--auto-scale-start", default="paper", choices=["paper", "first", "zero"])
    parser.add_argument("--init", default="xavier", choices=["xavier", "aihwkit"])
    parser.add_argument(
        "--random-grad-init",
        action="store_true",
        help="keep the +-0.1 random start of the gradient tiles A (zero_grad_tiles=False)",
    )
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--limit-batches", type=int, default=0, help="stop each epoch early")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--data-root", default="data")
    parser.add_argument("--out", default="")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    config = paper_mnist_config(
        n_tiles=args.n_tiles,
        variant=args.variant,
        bl=args.bl,
        lr=args.lr,
        auto_scale_start=args.auto_scale_start,
        zero_grad_tiles=not args.random_grad_init,
    )
    model = build_model(config, args.init)
    optimizer = AnalogSGD(model.parameters(), lr=args.lr)
    optimizer.regroup_param_groups(model)
    loss_fn = nn.NLLLoss()

    x_train, y_train = load_mnist(args.data_root, train=True)
    x_test, y_test = load_mnist(args.data_root, train=False)
    n_batches = math.ceil(len(x_train) / args.batch_size)
    record = {
        "args": vars(args),
        "versions": package_versions(),
        "machine": machine_info(),
        "epochs": [],
        "initial_test_accuracy": digital_accuracy(model, x_test, y_test),
    }
    print(f"epoch 0 test_acc {record['initial_test_accuracy']:.4f}", flush=True)
    for epoch in range(1, args.epochs + 1):
        model.train()
        order = torch.randperm(len(x_train))
        start = time.perf_counter()
        total_loss, seen = 0.0, 0
        for b in range(n_batches):
            if args.limit_batches and b >= args.limit_batches:
                break
            idx = order[b * args.batch_size : (b + 1) * args.batch_size]
            optimizer.zero_grad()
            loss = loss_fn(model(x_train[idx]), y_train[idx])
            loss.backward()
            optimizer.step()
            total_loss += float(loss.detach()) * len(idx)
            seen += len(idx)
            if b % 200 == 0:
                print(f"  epoch {epoch} batch {b} loss {float(loss.detach()):.4f}", flush=True)
        seconds = time.perf_counter() - start
        model.eval()
        acc = digital_accuracy(model, x_test, y_test)
        scales = [
            float(m.analog_module.get_out_scale()[0]) for m in model if isinstance(m, AnalogLinear)
        ]
        entry = {
            "epoch": epoch,
            "train_loss": total_loss / max(seen, 1),
            "test_accuracy": acc,
            "seconds": seconds,
            "batches": b + 1 if not args.limit_batches else min(args.limit_batches, n_batches),
            "out_scales": scales,
        }
        record["epochs"].append(entry)
        print(
            f"epoch {epoch} loss {entry['train_loss']:.4f} test_acc {acc:.4f} "
            f"{seconds:.1f}s alpha {[round(s, 3) for s in scales]}",
            flush=True,
        )
        if args.out:
            atomic_write_json(args.out, record)
    if not args.out:
        print(json.dumps(record["epochs"], indent=1))


if __name__ == "__main__":
    main()
