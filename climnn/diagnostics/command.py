"""``climnn diagnose RUN_DIR [--reference REF_DIR] [--model TRAIN_DIR] [--stability JSON]
[--years N] [--out DIR]``: is a hybrid run any good? Its stability, mean climate,
precipitation extremes, equatorial wave spectra and conservation (with --model the
network's offline skill, with --stability its offline stability verdict), against a
reference run when one is given, as ``report.html``, ``report.md``, PNG figures and a
flat ``metrics.json`` with the stability verdict."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_diagnose_command(sub) -> argparse.ArgumentParser:
    """Add ``diagnose`` to the subparsers ``sub``; its handler is ``args.handler``."""
    cmd = sub.add_parser("diagnose", help="judge a run: stability, mean climate, extremes, "
                         "conservation, against a reference run; report.html and metrics")
    cmd.add_argument("run", type=Path, help="a run directory (climnn run --out)")
    cmd.add_argument("--reference", type=Path,
                     help="the run to compare with (e.g. the teacher's)")
    cmd.add_argument("--model", type=Path, metavar="TRAIN_DIR",
                     help="the network's training directory: its `climnn evaluate` "
                          "figures go into the report")
    cmd.add_argument("--stability", type=Path, metavar="STABILITY_JSON",
                     help="`climnn stability`'s stability.json of the run's network: its "
                          "verdict beside the run's outcome")
    cmd.add_argument("--years", type=float, default=1.0,
                     help="judge the last N years of each run (default 1)")
    cmd.add_argument("--out", type=Path, help="where the report goes "
                     "(default: RUN/diagnostics)")
    cmd.set_defaults(handler=command_diagnose)
    return cmd


def command_diagnose(args) -> int:
    from climnn.diagnostics import report_sections as sections
    from climnn.diagnostics.report import write_report
    from gcm.io.atomic import atomic_path
    from gcm.io.history import open_history

    if not args.years > 0:
        raise ValueError(f"diagnose: --years {args.years:g}: must be > 0")
    if args.model is not None and not args.model.is_dir():
        raise FileNotFoundError(f"diagnose: --model {args.model} is not a directory")
    if args.stability is not None:
        sections.read_stability(args.stability)  # refused before any work
    run = open_history(args.run)
    reference = open_history(args.reference) if args.reference is not None else None
    names = (f"run {args.run}", f"reference {args.reference}")
    check_inputs(run, reference, args.years, names)
    out = args.out or args.run / "diagnostics"
    out.mkdir(parents=True, exist_ok=True)

    metrics = {"run": str(args.run), "reference": str(args.reference or ""),
               "years": args.years}
    parts = []
    steps = [("stability", lambda: sections.stability_section(
                 args.run, run, None if reference is None else (args.reference, reference),
                 args.years, out)),
             ("mean climate", lambda: sections.mean_climate_section(
                 run, reference, args.years, names, out)),
             ("extremes", lambda: sections.extremes_section(run, reference, args.years, out)),
             ("equatorial waves", lambda: sections.wave_spectrum_section(
                 run, reference, args.years, out)),
             ("conservation", lambda: sections.conservation_section(run, args.years, out))]
    if args.model is not None:
        steps.append(("offline skill", lambda: sections.offline_skill_section(args.model,
                                                                              out)))
    if args.stability is not None:
        steps.append(("offline stability", lambda: sections.offline_stability_section(
            args.stability, metrics["stability_verdict"], out)))
    for what, make in steps:
        print(f"diagnose: {what} ...", flush=True)
        figures, section = make()
        metrics.update(figures)
        parts.append(section)

    title = f"climnn diagnostics: {args.run}" + (f" against {args.reference}"
                                                  if args.reference else "")
    paths = write_report(out, title, metrics["stability_verdict"], parts)
    with atomic_path(out / "metrics.json") as tmp:
        tmp.write_text(json.dumps(metrics, indent=1) + "\n")
    for key in ("stability_verdict", "ta_zonal_mean_rmse",
                "pr_global_mean_relative_difference"):
        if key in metrics:
            value = metrics[key]
            print(f"{key}: {value:.4g}" if isinstance(value, float) else f"{key}: {value}")
    print(f"wrote {paths[1]}")
    return 0


def check_inputs(run, reference, years: float, names: tuple[str, str]) -> None:
    """Refuse, before any work, runs that cannot be compared or are shorter than the
    years asked for (a ComparisonError naming the run and what differs)."""
    from climnn.diagnostics.mean_climate import check_comparable, last_years

    if reference is not None:
        check_comparable(run, reference)
    last_years(run, years, names[0])
    if reference is not None:
        last_years(reference, years, names[1])
