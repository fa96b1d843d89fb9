"""``climnn diagnose RUN_DIR --reference REF_DIR [--years N] [--out DIR]``: the mean
climate of a run against a reference run (climnn.diagnostics.mean_climate), as
``metrics.json`` and PNG figures. The first part of the diagnostics report; the
variability, conservation and stability parts are still to come."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_diagnose_command(sub) -> argparse.ArgumentParser:
    """Add ``diagnose`` to the subparsers ``sub``; its handler is ``args.handler``."""
    cmd = sub.add_parser("diagnose", help="the mean climate of a run against a reference "
                         "run: zonal means, bias and RMSE, global means, plots")
    cmd.add_argument("run", type=Path, help="a run directory (climnn run --out)")
    cmd.add_argument("--reference", type=Path, required=True,
                     help="the run to compare with (e.g. the teacher's)")
    cmd.add_argument("--years", type=float, default=1.0,
                     help="compare the last N years of each run (default 1)")
    cmd.add_argument("--out", type=Path, help="where metrics.json and the figures go "
                     "(default: RUN/diagnostics)")
    cmd.set_defaults(handler=command_diagnose)
    return cmd


def command_diagnose(args) -> int:
    from climnn.diagnostics.mean_climate import compare_mean_climate, mean_climate_metrics
    from climnn.diagnostics.mean_climate_plots import write_mean_climate_plots
    from gcm.io.atomic import atomic_path
    from gcm.io.history import open_history

    if not args.years > 0:
        raise ValueError(f"diagnose: --years {args.years:g}: must be > 0")
    run, reference = open_history(args.run), open_history(args.reference)
    comparison = compare_mean_climate(run, reference, args.years,
                                      (f"run {args.run}", f"reference {args.reference}"))
    metrics = {"run": str(args.run), "reference": str(args.reference), "years": args.years,
               **mean_climate_metrics(comparison)}
    out = args.out or args.run / "diagnostics"
    figures = write_mean_climate_plots(comparison, out)
    with atomic_path(out / "metrics.json") as tmp:
        tmp.write_text(json.dumps(metrics, indent=1) + "\n")
    for key in ("ta_zonal_mean_rmse", "pr_global_mean_relative_difference"):
        if key in metrics:
            print(f"{key}: {metrics[key]:.4g}")
    print(f"wrote {out / 'metrics.json'} and {len(figures)} figures")
    return 0
