"""The ``climnn`` command: one subcommand per job.

    climnn run CONFIG [--days N] [--out DIR] [--format zarr|netcdf] [--restart FILE]
    climnn run --resume DIR          (continue the run in DIR from its newest restart)
    climnn generate CONFIG --out DATA.zarr --days N [--every K]
    climnn convert climsim|cbrain INPUT... --out DATA.zarr
    climnn stats DATA.zarr
    climnn bench NAME [--json]
    climnn train CONFIG --data DATA.zarr --out DIR [--epochs N] [--resume]
    climnn evaluate DIR --data DATA.zarr [--out OUTDIR] [--checkpoint best|last]
    climnn export DIR --out MODEL.pt
    climnn diagnose RUN [--reference REF] [--model TRAIN_DIR] [--years N] [--out DIR]
    climnn demo --out DIR            (the whole loop at T21, ending with a report)
    climnn stability MODEL_FILE --data DATA.zarr [--out DIR] [--threshold PER_DAY]
    climnn toy logistic|lorenz96 --out DIR [--quick]

Every bad input ends with one line ``climnn: error: ...`` naming the file and the field,
and exit status 2; output already written is never touched by a failed start. A job that
needs an optional dependency that is missing (torch: the ``ml`` extra) ends the same way.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


class UsageError(ValueError):
    """A command line that cannot run: the message names the option and what it allows."""


class _Parser(argparse.ArgumentParser):
    """argparse whose errors are one UsageError line instead of usage text and an exit."""

    def error(self, message):
        command = self.prog.removeprefix("climnn").strip()  # "run", "convert", ...
        raise UsageError(f"{command}: {message}" if command else message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="climnn", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the GCM from a YAML configuration")
    run.add_argument("config", type=Path, nargs="?",
                     help="experiment YAML (run/*.yaml); optional with --restart")
    run.add_argument("--days", type=float, help="simulated days (default: the config's time.days)")
    run.add_argument("--out", type=Path, help="output directory (default: out/<name>)")
    run.add_argument("--format", choices=("zarr", "netcdf"), help="history format")
    run.add_argument("--restart", type=Path, help="continue from this restart file (the "
                     "history after its time is removed and written again)")
    run.add_argument("--resume", type=Path, metavar="DIR",
                     help="continue the run in DIR from its newest restart file")
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
    gen.add_argument("config", type=Path, nargs="?",
                     help="experiment YAML (e.g. run/aquaplanet.yaml); optional with --restart")
    gen.add_argument("--restart", type=Path,
                     help="start from this restart file of a run (e.g. the end of a spin-up, "
                          "whose saved configuration then rules); --days count from it")
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
    gen.add_argument("--history", action="store_true",
                     help="also write the run's history (output.interval_hours) into "
                          "DATA.zarr.generate/, a run directory for climnn diagnose")
    gen.add_argument("--quiet", action="store_true", help="no progress bar")

    stats = sub.add_parser("stats", help="per-level statistics of a dataset, stored inside it")
    stats.add_argument("store", type=Path, help="a climnn zarr store")
    stats.add_argument("--scheduler", help="address of a dask.distributed scheduler")
    stats.add_argument("--period", nargs=2, metavar=("START", "END"),
                       help="statistics of the times in [START, END) only (ISO dates): the "
                            "training period, so that normalization never sees the test "
                            "period")

    bench = sub.add_parser("bench", help="run a benchmark and print its figures")
    bench.add_argument("name", choices=sorted(_benchmarks()), help="which benchmark")
    bench.add_argument("--json", action="store_true", help="one JSON object on stdout")
    bench.add_argument("--quick", action="store_true",
                       help="fewer steps and no spin-up (noisier, earlier-state figures)")
    from climnn.export.command import add_export_command
    from climnn.training.command import add_evaluate_command, add_train_command

    add_train_command(sub)
    add_evaluate_command(sub)
    add_export_command(sub)
    from climnn.diagnostics.command import add_diagnose_command

    add_diagnose_command(sub)
    from climnn.demo.command import add_demo_command

    add_demo_command(sub)
    from climnn.diagnostics.stability_command import add_stability_command

    add_stability_command(sub)
    from climnn.toy.command import add_toy_command

    add_toy_command(sub)
    return parser


def _benchmarks() -> dict:
    from climnn.bench import BENCHMARKS

    return BENCHMARKS


def option_rules() -> dict:
    """Numeric options and what they allow, as gcm.config's fields declare it:
    ``{dest: (flag, Allowed)}`` (a function so that gcm loads only when a command runs)."""
    from gcm.config import AT_LEAST_ONE, allowed_for

    return {
        "days": ("--days", allowed_for("time.days")),
        "threads": ("--threads", allowed_for("threads")),
        "every": ("--every", AT_LEAST_ONE),
        "checkpoint_every": ("--checkpoint-every", AT_LEAST_ONE),
        "segments": ("--segments", AT_LEAST_ONE),
    }

#: Options a restart overrules: its saved configuration is the one that runs.
RESTART_RULES = ("format", "set", "threads")


def check_options(args) -> None:
    """Refuse a numeric option outside what option_rules() allows, naming it and its
    value."""
    from gcm.config import value_problem

    for dest, (flag, allowed) in option_rules().items():
        value = getattr(args, dest, None)
        if value is None:
            continue
        problem = value_problem(value, allowed)
        if problem:
            raise UsageError(f"{flag} {value:g}: {problem}")


def check_out(path: Path | None, flag: str = "--out") -> None:
    """Refuse an output path that is an existing file or lies under one."""
    if path is None:
        return
    if path.exists() and not path.is_dir():
        raise UsageError(f"{flag} {path}: is an existing file; expected a directory")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise UsageError(f"{flag} {path}: {parent} is a file, not a directory")
            return


def check_days(days: float, config, source: str, flag: str = "--days") -> None:
    """Refuse a run length that is not a whole number of the config's time steps, saying
    the nearest one that is."""
    from gcm.config import is_whole_steps, nearest_steps

    dt = config.time.step_minutes * 60.0
    if not is_whole_steps(days * 86400.0, dt):
        nearest = nearest_steps(days * 86400.0, dt) * dt / 86400.0
        raise UsageError(f"{flag} {days:g}: not a whole number of "
                         f"{config.time.step_minutes:g}-minute steps (time.step_minutes in "
                         f"{source}); nearest allowed: {nearest:.10g}")


def load_with_overrides(config_path: Path, items: list[str]):
    """The validated ModelConfig of ``config_path`` with ``--set`` items applied; messages
    name ``--set KEY=VALUE`` for the keys it set."""
    from gcm.config import load_config

    if config_path is None:
        raise UsageError("give a configuration file (run/*.yaml)")
    return load_config(config_path, origins=override_origins(items), **parse_overrides(items))


def command_run(args) -> int:
    from gcm.model import Model
    from gcm.simulation import Simulation

    check_options(args)
    if args.resume is not None:
        from gcm.io.restart import latest_restart

        if args.restart is not None:
            raise UsageError("run: give --restart FILE or --resume DIR, not both")
        check_out(args.resume, "--resume")
        args.restart, args.out = latest_restart(args.resume), args.out or args.resume
    check_out(args.out)
    if args.restart is not None:
        _check_restart_options(args)
        config = load_with_overrides(args.config, []) if args.config else None
        sim = Simulation.from_restart(args.restart, output_dir=args.out,
                                      progress=not args.quiet, config=config)
        if args.days is None and sim.unfinished_steps:  # finish the interrupted run
            args.days = sim.unfinished_steps * sim.model.dt / 86400.0
    else:
        if args.config is None:
            raise UsageError("run: give a configuration file (run/*.yaml) or --restart FILE")
        items = list(args.set)
        if args.format:
            items.append(f"output.format={args.format}")
        if args.threads is not None:
            items.append(f"threads={args.threads}")
        config = load_with_overrides(args.config, items)
        if args.days is not None:
            check_days(args.days, config, str(args.config))
        out = args.out or Path("out") / config.name
        check_out(out)
        sim = Simulation(Model(config), out, progress=not args.quiet)
    days = args.days if args.days is not None else sim.model.config.time.days
    from gcm.timing import StepTimer

    sim.model.timer = StepTimer()  # the run log splits each interval's time by section
    sim.run(days)
    print(f"{sim.model.config.name}: {days:g} days to {sim.model.time.isoformat()} in "
          f"{sim.output_dir} ({sim.simulated_years_per_day:.0f} simulated years/day); "
          f"restart: {sim.last_restart}")
    return 0


def _check_restart_options(args) -> None:
    """Refuse options a restart overrules, and a --days its time step cannot reach."""
    given = [f"--{name}" for name in RESTART_RULES if getattr(args, name) not in (None, [])]
    if given:
        raise UsageError(f"run --restart {args.restart}: {', '.join(given)} cannot be used "
                         "with --restart: the restart's saved configuration rules (its format, "
                         "keys and threads); start a new run with --out to change them")
    if not args.restart.exists():
        raise UsageError(f"run --restart {args.restart}: no such file")
    if args.days is not None and args.restart.is_file():
        saved = _restart_config(args.restart)
        if saved is not None:
            check_days(args.days, saved, f"the restart {args.restart}")


def _restart_config(path: Path):
    """The configuration saved in restart ``path``, or None when it cannot be read here
    (the restart's own loading then names what is wrong with it)."""
    from gcm.config import ConfigError, config_from_dict
    from gcm.io.restart import load_restart

    try:
        return config_from_dict(load_restart(path)[1]["config"], f"{path} (saved configuration)")
    except (ValueError, KeyError, OSError, ConfigError):
        return None


def parse_overrides(items: list[str]) -> dict:
    """``["a.b=3", "c=x"]`` -> ``{"a.b": 3, "c": "x"}``, values read as YAML."""
    return dict(_override(item) for item in items)


def override_origins(items: list[str]) -> dict[str, str]:
    """``{"a.b": "--set a.b=3", ...}``: where each override came from, for messages."""
    return {_override(item)[0]: f"--set {item}" for item in items}


def _override(item: str) -> tuple[str, object]:
    import yaml

    key, sep, value = item.partition("=")
    if not sep or not key.strip():
        raise UsageError(f"--set {item}: expected KEY=VALUE, e.g. time.step_minutes=20")
    try:
        return key.strip(), yaml.safe_load(value)
    except yaml.YAMLError as err:
        reason = str(err).splitlines()[0]
        raise UsageError(f"--set {item}: the value is not valid YAML ({reason})") from None


def _client(address):
    if not address:
        return None
    from dask.distributed import Client

    return Client(address)


def command_convert(args) -> int:
    from climnn.data.convert import convert_cbrain, convert_climsim

    check_out(args.out)
    if args.out.exists() and not args.overwrite:
        raise UsageError(f"convert: --out {args.out} exists; pass --overwrite to replace it")
    if args.grid_info is not None and args.source != "climsim":
        raise UsageError("convert cbrain: --grid-info is for ClimSim only")
    if args.grid_info is not None and not args.grid_info.is_file():
        raise UsageError(f"convert: --grid-info {args.grid_info}: no such file")
    client = _client(args.scheduler)
    if args.source == "climsim":
        out = convert_climsim(args.inputs, args.out, grid_info=args.grid_info, client=client,
                              overwrite=args.overwrite)
    else:
        out = convert_cbrain(args.inputs, args.out, client=client, overwrite=args.overwrite)
    print(f"wrote {out}")
    return 0


def command_generate(args) -> int:
    from climnn.data.generate import generate, generate_segments

    check_options(args)
    check_out(args.out)
    config = _generation_config(args)
    check_days(args.days, config, str(args.config or args.restart))
    steps = round(args.days * 1440.0 / config.time.step_minutes)
    if steps < args.every:
        raise UsageError(f"generate: --days {args.days:g} is {steps} steps, fewer than "
                         f"--every {args.every}: no sample would be stored")
    if config.physics.scheme == "none":
        raise UsageError(f"generate: physics.scheme is 'none' in {args.config}: there is "
                         "no physics to sample; choose a scheme (e.g. --set "
                         "physics.scheme=teacher)")
    if args.segments > 1:
        if args.history:
            raise UsageError("generate: --history writes one run's history; it cannot be "
                             "used with --segments (run the members without it)")
        if args.restart is not None:
            raise UsageError("generate: --segments and --restart cannot be used together "
                             "(members differ by their initial noise)")
        paths = generate_segments(config, args.out, args.days, args.every, args.segments,
                                  args.scheduler, str(args.config))
        print(f"wrote {len(paths)} members into {args.out}")
    else:
        result = generate(config, args.out, args.days, args.every,
                          str(args.config or args.restart), progress=not args.quiet,
                          checkpoint_samples=args.checkpoint_every, start_from=args.restart,
                          history=args.history)
        print(f"{result.path}: {result.samples} samples")
    return 0


def _generation_config(args):
    """The configuration a generation runs: the YAML file with --set, or with --restart
    the restart's saved one (a YAML file given too must be the same configuration)."""
    if args.restart is None:
        if args.config is None:
            raise UsageError("generate: give a configuration file (run/*.yaml) or --restart FILE")
        return load_with_overrides(args.config, args.set)
    if args.set:
        raise UsageError(f"generate --restart {args.restart}: --set cannot be used with "
                         "--restart: the restart's saved configuration rules")
    if not args.restart.is_file():
        raise UsageError(f"generate --restart {args.restart}: no such file")
    from gcm.config import ConfigError, config_from_dict
    from gcm.io.restart import load_restart

    try:
        saved = config_from_dict(load_restart(args.restart)[1]["config"],
                                 f"{args.restart} (saved configuration)")
    except (ValueError, KeyError, OSError, ConfigError) as err:
        raise UsageError(f"generate --restart {args.restart}: not a readable gcm restart "
                         f"({err})") from None
    if args.config is not None:
        given = load_with_overrides(args.config, [])
        if given.digest() != saved.digest():
            raise UsageError(f"generate --restart {args.restart}: written with another "
                             f"configuration than {args.config}; leave the file out to "
                             "run the restart's own")
    return saved


def command_stats(args) -> int:
    from climnn.data.stats import compute_statistics

    stats = compute_statistics(args.store, client=_client(args.scheduler),
                               period=tuple(args.period) if args.period else None)
    print(f"statistics of {len(stats.data_vars)} figures written into {args.store}/stats")
    return 0


def command_bench(args) -> int:
    import json

    from climnn.bench import BENCHMARKS, format_table

    figures = BENCHMARKS[args.name](quick=args.quick)
    print(json.dumps(figures) if args.json else format_table(args.name, figures))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv``; returns the exit status (2: bad input, with one line
    ``climnn: error: ...`` on stderr; 3: the model blew up; 130: interrupted)."""
    from climnn.extras import MissingExtraError
    from gcm.model import ModelBlowUpError

    handlers = {"run": command_run, "bench": command_bench, "convert": command_convert,
                "stats": command_stats, "generate": command_generate}
    try:
        args = build_parser().parse_args(argv)
        return handlers.get(args.command, getattr(args, "handler", None))(args)
    except ModelBlowUpError as err:
        print(f"climnn: error: {err}", file=sys.stderr)
        return 3
    except (ValueError, OSError, KeyError, MissingExtraError) as err:
        print(f"climnn: error: {_one_line(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as err:
        print(f"climnn: {err or 'interrupted'}", file=sys.stderr)
        return 128 + getattr(err, "signum", 2)


def _one_line(err: BaseException) -> str:
    """The message of ``err`` as one line (OSError: its file and reason)."""
    if isinstance(err, OSError) and err.strerror:
        message = f"{err.filename}: {err.strerror}" if err.filename else err.strerror
    else:
        message = str(err.args[0]) if err.args else str(err) or type(err).__name__
    return " ".join(message.split())


if __name__ == "__main__":
    sys.exit(main())
