"""Command line: ``python -m analog_tt {doctor,data,sweep,reproduce} ...``."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m analog_tt", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("doctor", help="check the torch/aihwkit stack and train a 2x2 AnalogLinear")
    data = sub.add_parser("data", help="fetch and verify MNIST under data/MNIST/raw/")
    data.add_argument("--root", default=None, help="data folder (default: the repository's data/)")
    data.add_argument("--verify-only", action="store_true", help="only check the sha256s")
    sub.add_parser("sweep", help="run a profile's experiments (see `sweep --help`)", add_help=False)
    sub.add_parser(
        "reproduce",
        help="sweeps + all notebooks + manifest (see `reproduce --help`)",
        add_help=False,
    )
    sub.add_parser("readme", help="rewrite README.md's result tables from the files they cite")
    args, rest = parser.parse_known_args(argv)

    if args.command == "doctor":
        from .doctor import main as doctor_main

        return doctor_main()
    if args.command == "data":
        from .data import DEFAULT_ROOT, DataError, fetch_mnist, verify_mnist

        root = args.root or DEFAULT_ROOT
        try:
            verify_mnist(root) if args.verify_only else fetch_mnist(root)
        except DataError as exc:
            print(f"analog_tt data: {exc}", file=sys.stderr)
            return 1
        return 0
    if args.command == "sweep":
        from .runs.cli import sweep_main

        return sweep_main(rest)
    if args.command == "readme":
        from .report.readme import update

        print(f"README: {update()} result table(s) regenerated")
        return 0
    if args.command == "reproduce":
        from .report.pipeline import main as reproduce_main

        return reproduce_main(rest)
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
