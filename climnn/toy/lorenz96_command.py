"""``climnn toy lorenz96 --out DIR [--quick] [--forcing F] [--seed N]``: the Lorenz-96
parameterization experiment (climnn.toy.lorenz96_experiment) into a new directory: the
dataset, the exported network, ``metrics.json`` and the figures."""

from __future__ import annotations

import argparse
import math
from pathlib import Path


def add_lorenz96_parser(toy_subparsers) -> argparse.ArgumentParser:
    """Add ``lorenz96`` to the ``climnn toy`` subparsers; its handler is ``args.handler``."""
    cmd = toy_subparsers.add_parser(
        "lorenz96", help="two-scale Lorenz-96: a learned sub-grid parameterization online "
        "against the truth, a cubic and none")
    cmd.add_argument("--out", type=Path, required=True,
                     help="a new (or empty) directory for the store, model, metrics, figures")
    cmd.add_argument("--quick", action="store_true",
                     help="the smoke test's size: seconds, noisier figures")
    cmd.add_argument("--forcing", type=float, default=20.0, metavar="F",
                     help="the forcing F (default 20; Arnold et al. 2013 also use 18)")
    cmd.add_argument("--seed", type=int, default=0, help="seed of every random start")
    cmd.set_defaults(handler=command_lorenz96)
    return cmd


def command_lorenz96(args) -> int:
    from dataclasses import replace

    from climnn.toy.lorenz96 import Lorenz96Parameters
    from climnn.toy.lorenz96_experiment import (
        METRICS,
        full_settings,
        quick_settings,
        run_experiment,
    )

    if not math.isfinite(args.forcing):
        raise ValueError(f"toy lorenz96: --forcing {args.forcing}: must be a finite number")
    settings = replace(quick_settings() if args.quick else full_settings(), seed=args.seed)
    metrics = run_experiment(args.out, settings, Lorenz96Parameters(F=args.forcing))
    s = metrics["summary"]
    for name in ("network", "polynomial", "none"):
        print(f"{name:>10}: forecast RMSE at 0.5 MTU {s[f'{name}_forecast_rmse_0.5']:.3f}, "
              f"PDF Hellinger {s[f'{name}_pdf_hellinger']:.3f}, "
              f"ACF RMSE {s[f'{name}_acf_rmse']:.3f}")
    print(f"wrote {args.out / METRICS} and {len(metrics['figures'])} figures")
    return 0
