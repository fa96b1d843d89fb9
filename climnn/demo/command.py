"""``climnn demo --out DIR``: the whole loop at small scale (climnn.demo.stages)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_demo_command(sub) -> argparse.ArgumentParser:
    """Add ``demo`` to the subparsers ``sub``; its handler is ``args.handler``."""
    from climnn.demo.stages import DemoPlan

    d = DemoPlan()
    cmd = sub.add_parser("demo", help="the whole loop at T21: teacher run, dataset, "
                         "training, export, hybrid run, report (~10 min on 2 cores)")
    cmd.add_argument("--out", type=Path, required=True, help="the demo's directory")
    cmd.add_argument("--spinup-days", type=int, default=d.spinup_days,
                     help="teacher days after the packaged state's year of spin-up, "
                          f"before sampling (default {d.spinup_days})")
    cmd.add_argument("--sample-days", type=int, default=d.sample_days,
                     help=f"days of column samples (default {d.sample_days})")
    cmd.add_argument("--hybrid-days", type=int, default=d.hybrid_days,
                     help=f"days of the hybrid run (default {d.hybrid_days})")
    cmd.add_argument("--epochs", type=int, default=d.epochs,
                     help=f"training epochs (default {d.epochs})")
    cmd.add_argument("--threads", type=int, help="numba threads of the GCM runs")
    cmd.set_defaults(handler=command_demo)
    return cmd


def command_demo(args) -> int:
    from climnn.demo.stages import DemoPlan, run_demo

    plan = DemoPlan(args.spinup_days, args.sample_days, args.hybrid_days,
                    epochs=args.epochs)
    if args.out.exists() and any(args.out.iterdir()):
        raise FileExistsError(f"demo: --out {args.out} is not empty: choose a new directory "
                              "(the demo never overwrites a run)")
    run_demo(args.out, plan, args.threads)
    return 0
