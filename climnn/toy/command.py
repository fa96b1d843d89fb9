"""``climnn toy NAME ...``: experiments on toy dynamical systems, one sub-subcommand a system.

    climnn toy logistic --out DIR [--quick] [--seed N]
    climnn toy lorenz96 --out DIR [--quick] (climnn.toy.lorenz96_command)

:data:`TOYS` maps each toy's name to the function that adds its parser (and handler,
``args.handler``) to ``climnn toy``'s subparsers: a new toy is one entry there.
:func:`add_toy_command` adds ``toy`` to ``climnn``'s subparsers (``climnn.cli``). torch
loads only when an experiment runs.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from climnn.toy.lorenz96_command import add_lorenz96_parser

METRICS = "metrics.json"


def add_logistic_parser(which) -> argparse.ArgumentParser:
    """Add ``logistic`` to the subparsers ``which`` of ``climnn toy``."""
    cmd = which.add_parser("logistic", help="a network with r as input, trained on the "
                           "logistic map's non-chaotic r, iterated freely into chaos; with "
                           "controls (README: Toy systems)")
    cmd.add_argument("--out", type=Path, required=True,
                     help="where metrics.json and the figures go")
    cmd.add_argument("--quick", action="store_true",
                     help="a few seconds: no hyperparameter search, short training, coarse r")
    cmd.add_argument("--seed", type=int, default=0, help="seed of the data and the networks")
    cmd.set_defaults(handler=command_logistic)
    return cmd


#: toy name -> the function adding its parser to ``climnn toy``'s subparsers.
TOYS = {"logistic": add_logistic_parser, "lorenz96": add_lorenz96_parser}


def add_toy_command(sub) -> argparse.ArgumentParser:
    """Add ``toy`` (and one sub-subcommand per entry of TOYS) to the subparsers ``sub``."""
    toy = sub.add_parser("toy", help="experiments on toy dynamical systems: "
                         + ", ".join(sorted(TOYS)))
    which = toy.add_subparsers(dest="toy", required=True, metavar="NAME",
                               help=" | ".join(sorted(TOYS)))
    for add in TOYS.values():
        add(which)
    return toy


def check_toy_out(out: Path, toy: str) -> None:
    """Refuse --out when it is a file, lies under one, or is a non-empty directory that
    holds no earlier output of this toy (whose files a new run replaces)."""
    from climnn.cli import UsageError, check_out

    try:
        check_out(out)
    except UsageError as err:
        raise UsageError(f"toy {toy}: {err}") from None
    if not out.is_dir() or not any(out.iterdir()):
        return
    try:
        earlier = json.loads((out / METRICS).read_text()).get("toy")
    except (OSError, ValueError, AttributeError):
        earlier = None
    if earlier != toy:
        raise UsageError(f"toy {toy}: --out {out} is not empty and holds no earlier "
                         f"`climnn toy {toy}` output; choose another --out (nothing was "
                         "written)")


def command_logistic(args) -> int:
    from climnn.cli import UsageError

    if args.seed < 0:
        raise UsageError(f"toy logistic: --seed {args.seed}: must be >= 0")
    check_toy_out(args.out, "logistic")
    from climnn.toy.logistic_experiment import (
        ExperimentSettings,
        metrics,
        quick_settings,
        run_experiment,
    )
    from climnn.toy.logistic_plots import write_plots
    from gcm.io.atomic import write_json

    settings = quick_settings(args.seed) if args.quick else ExperimentSettings(seed=args.seed)
    outcome = run_experiment(settings)
    figures = write_plots(outcome, args.out)
    result = metrics(outcome, settings, args.quick)
    write_json(args.out / METRICS, result)
    for name in ("true", "r_network", "no_r_network", "return_map_line"):
        entry = result["maps"][name]
        print(f"{name}: first doublings at r = " + ", ".join(
            "none" if entry[f"period_doubling_{k}"] is None
            else f"{entry[f'period_doubling_{k}']:.4f}" for k in (1, 2, 3))
            + (f"; chaos from {entry['chaos_onset']:.4f}" if entry["chaos_onset"] else
               "; no chaos")
            + (f"; Lyapunov MAE in chaos {entry['lyapunov_mae_chaos']:.3f}"
               if name != "true" and entry["lyapunov_mae_chaos"] is not None else ""))
    print(f"wrote {args.out / METRICS} and {len(figures)} figures in {outcome.seconds:.0f} s")
    return 0
