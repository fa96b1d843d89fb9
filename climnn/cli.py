"""The ``climnn`` command: one subcommand per job.

    climnn run CONFIG [--days N] [--out DIR] [--format zarr|netcdf] [--restart FILE]
    climnn generate CONFIG --out DATA.zarr --days N [--every K]
    climnn convert climsim|cbrain INPUT... --out DATA.zarr
    climnn stats DATA.zarr
    climnn bench NAME [--json]

Every bad input ends with one line ``climnn: error: ...`` naming the file and the field,
and exit status 2; output already written is never touched by a failed start. A job that
needs an optional dependency that is missing (torch: the ``ml`` extra) ends the same way.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="climnn", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the GCM from a YAML configuration")
    run.add_argument("config", type=Path, nargs="?",
                     help="experiment YAML (run/*.yaml); optional with --restart")
    run.add_argument("--days", type=float, help="simulated days (default: the config's time.days)")
    run.add_argument("--out", type=Path, help="output directory (default: out/<name>)")
    run.add_argument("--format", choices=("zarr", "netcdf"), help="history format")
    run.add_argument("--restart", type=Path, help="continue from this restart file")
    run.add_argument("--threads", type=int, help="numba threads (default: the config's)")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="override a config key, e.g. --set resolution.truncation=31")

    convert = sub.add_parser("convert", help="convert ClimSim or SPCAM/CBRAIN netCDF to the "
                             "climnn zarr schema (data/README.md)")
    convert.add_argument("source", choices=("climsim", "cbrain"), help="which data")
    convert.add_argument("inputs", type=Path, nargs="+", help="input netCDF files")
    convert.add_argument("--out", type=Path, required=True, help="the zarr store to write")
    convert.add_argument("--grid-info", type=Path, help="ClimSim grid-info file")
    convert.add_argument("--overwrite", action="store_true", help="replace an existing store")
    convert.add_argument("--scheduler", help="address of a dask.distributed scheduler")

    gen = sub.add_parser("generate", help="a teacher run that stores column samples as it goes")
    gen.add_argument("config", type=Path, help="experiment YAML (e.g. run/aquaplanet.yaml)")
    gen.add_argument("--out", type=Path, required=True,
                     help="the zarr store (a directory of member stores with --segments)")
    gen.add_argument("--days", type=float, required=True, help="simulated days")
    gen.add_argument("--every", type=int, default=1, help="store a sample every K steps")
    gen.add_argument("--checkpoint-every", type=int, default=8, metavar="SAMPLES",
                     help="write the resume point every so many samples")
    gen.add_argument("--segments", type=int, default=1,
                     help="independent ensemble members, run in parallel with dask")
    gen.add_argument("--scheduler", help="address of a dask.distributed scheduler")
    gen.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="override a config key")
    gen.add_argument("--quiet", action="store_true", help="no progress bar")

    stats = sub.add_parser("stats", help="per-level statistics of a dataset, stored inside it")
    stats.add_argument("store", type=Path, help="a climnn zarr store")
    stats.add_argument("--scheduler", help="address of a dask.distributed scheduler")

    bench = sub.add_parser("bench", help="run a benchmark and print its figures")
    bench.add_argument("name", choices=sorted(_benchmarks()), help="which benchmark")
    bench.add_argument("--json", action="store_true", help="one JSON object on stdout")
    bench.add_argument("--quick", action="store_true",
                       help="fewer steps and no spin-up (noisier, earlier-state figures)")
    from climnn.training.command import add_train_command

    add_train_command(sub)
    return parser


def _benchmarks() -> dict:
    from climnn.bench import BENCHMARKS

    return BENCHMARKS


def command_run(args) -> int:
    from gcm.config import load_config
    from gcm.model import Model
    from gcm.simulation import Simulation

    overrides = parse_overrides(args.set)
    if args.format:
        overrides["output.format"] = args.format
    if args.threads is not None:
        overrides["threads"] = args.threads
    if args.restart is not None:
        config = load_config(args.config, **overrides) if args.config else None
        sim = Simulation.from_restart(args.restart, output_dir=args.out,
                                      progress=not args.quiet, config=config)
    else:
        if args.config is None:
            raise ValueError("run: give a configuration file (run/*.yaml) or --restart FILE")
        config = load_config(args.config, **overrides)
        out = args.out or Path("out") / config.name
        sim = Simulation(Model(config), out, progress=not args.quiet)
    days = args.days if args.days is not None else sim.model.config.time.days
    sim.run(days)
    print(f"{sim.model.config.name}: {days:g} days to {sim.model.time.isoformat()} in "
          f"{sim.output_dir} ({sim.simulated_years_per_day:.0f} simulated years/day); "
          f"restart: {sim.last_restart}")
    return 0


def parse_overrides(items: list[str]) -> dict:
    """``["a.b=3", "c=x"]`` -> ``{"a.b": 3, "c": "x"}``, values read as YAML."""
    import yaml

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set {item!r}: expected KEY=VALUE, e.g. time.step_minutes=20")
        out[key.strip()] = yaml.safe_load(value)
    return out


def _client(address):
    if not address:
        return None
    from dask.distributed import Client

    return Client(address)


def command_convert(args) -> int:
    from climnn.data.convert import convert_cbrain, convert_climsim

    client = _client(args.scheduler)
    if args.source == "climsim":
        out = convert_climsim(args.inputs, args.out, grid_info=args.grid_info, client=client,
                              overwrite=args.overwrite)
    else:
        if args.grid_info:
            raise ValueError("convert cbrain: --grid-info is for ClimSim only")
        out = convert_cbrain(args.inputs, args.out, client=client, overwrite=args.overwrite)
    print(f"wrote {out}")
    return 0


def command_generate(args) -> int:
    from climnn.data.generate import generate, generate_segments
    from gcm.config import load_config

    config = load_config(args.config, **parse_overrides(args.set))
    if args.segments > 1:
        paths = generate_segments(config, args.out, args.days, args.every, args.segments,
                                  args.scheduler, str(args.config))
        print(f"wrote {len(paths)} members into {args.out}")
    else:
        result = generate(config, args.out, args.days, args.every, str(args.config),
                          progress=not args.quiet, checkpoint_samples=args.checkpoint_every)
        print(f"{result.path}: {result.samples} samples")
    return 0


def command_stats(args) -> int:
    from climnn.data.stats import compute_statistics

    stats = compute_statistics(args.store, client=_client(args.scheduler))
    print(f"statistics of {len(stats.data_vars)} figures written into {args.store}/stats")
    return 0


def command_bench(args) -> int:
    import json

    from climnn.bench import BENCHMARKS, format_table

    figures = BENCHMARKS[args.name](quick=args.quick)
    print(json.dumps(figures) if args.json else format_table(args.name, figures))
    return 0


def main(argv: list[str] | None = None) -> int:
    from climnn.extras import MissingExtraError
    from gcm.model import ModelBlowUpError

    args = build_parser().parse_args(argv)
    handlers = {"run": command_run, "bench": command_bench, "convert": command_convert,
                "stats": command_stats, "generate": command_generate}
    try:
        return handlers.get(args.command, getattr(args, "handler", None))(args)
    except ModelBlowUpError as err:
        print(f"climnn: error: {err}", file=sys.stderr)
        return 3
    except (ValueError, FileNotFoundError, FileExistsError, KeyError, MissingExtraError) as err:
        message = err.args[0] if err.args else str(err)
        print(f"climnn: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("climnn: interrupted; a restart file was written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
