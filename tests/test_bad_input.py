"""Bad input, table-driven: every kind a user can type ends with one clear message.

Each case runs one command through ``climnn.cli.main(argv)`` (or the loader's Python API)
in a directory of its own that holds a valid tiny configuration (T21 L5), a finished run,
a small dataset store with statistics and small ClimSim/CBRAIN files. It must end with
exactly one line ``climnn: error: ...`` (exit status 2) that names the key, option, file or
variable at fault, print no traceback, and leave every byte of the directory as it was
(nothing created, nothing changed). Most cases fail before any model is built.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import yaml
import zarr
from test_data_schema import make_dataset

from climnn.cli import main
from climnn.data import DatasetError, compute_statistics, schema, write_store
from climnn.data.synthetic import climsim_grid_info, climsim_pair, spcam_file

CLIMSIM_STAMP = "0001-02-01-00000"


# --------------------------------------------------------------------------- the world


def tiny_config() -> dict:
    """run/held_suarez.yaml at T21 L5 for one day: runs in about a second."""
    config = yaml.safe_load(Path("run/held_suarez.yaml").read_text())
    config["name"] = "tiny"
    config["resolution"] = {"truncation": 21, "levels": 5, "sigma": "equal"}
    config["time"]["days"] = 1
    config["output"]["restart_interval_days"] = 0
    return config


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    """The files every case starts from (copied for each case)."""
    root = tmp_path_factory.mktemp("world")
    (root / "cfg.yaml").write_text(yaml.safe_dump(tiny_config()))
    (root / "afile").write_text("not a directory\n")
    assert main(["run", str(root / "cfg.yaml"), "--out", str(root / "run"), "--quiet"]) == 0
    store = write_store(make_dataset(), root / "store.zarr")
    compute_statistics(store)
    shutil.copytree(store, root / "nan.zarr")  # a NaN that came after the statistics
    zarr.open_array(root / "nan.zarr" / "T", mode="r+")[3, 7, 2] = np.nan
    spcam_file(root / "spcam_0.nc", 0, seed=0)
    spcam_file(root / "spcam_1.nc", 2, seed=1)
    (root / "climsim").mkdir()
    climsim_grid_info(root / "climsim" / "grid.nc", 8, 6)
    climsim_pair(root / "climsim", CLIMSIM_STAMP, 0, 8, 6)
    return root


def tree_digest(directory: Path) -> dict[str, str]:
    """sha256 of every file under ``directory`` (and every directory, as '')."""
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            if p.is_file() else "" for p in sorted(directory.rglob("*"))}


# --------------------------------------------------------------------------- case makers


def write_yaml(text: str) -> Callable[[Path], None]:
    """Prepare: cfg.yaml holds ``text``."""
    return lambda d: (d / "cfg.yaml").write_text(text)


def edit_config(**changes) -> Callable[[Path], None]:
    """Prepare: cfg.yaml with dotted keys changed (values written as YAML)."""

    def prepare(d: Path) -> None:
        config = yaml.safe_load((d / "cfg.yaml").read_text())
        for dotted, value in changes.items():
            node = config
            *parents, last = dotted.split(".")
            for name in parents:
                node = node.setdefault(name, {})
            node[last] = value
        (d / "cfg.yaml").write_text(yaml.safe_dump(config))

    return prepare


def damage_chunk(store: str, chunk: str, how: str) -> Callable[[Path], None]:
    """Prepare: a chunk of a store truncated, overwritten with junk, or deleted."""

    def prepare(d: Path) -> None:
        path = d / store / chunk
        if how == "truncate":
            path.write_bytes(path.read_bytes()[:-7])
        elif how == "junk":
            path.write_bytes(b"not a blosc frame at all, sorry")
        else:
            path.unlink()

    return prepare


def edit_netcdf(name: str, change: Callable[[xr.Dataset], xr.Dataset]) -> Callable:
    """Prepare: the netCDF file ``name`` rewritten with ``change`` applied."""

    def prepare(d: Path) -> None:
        path = d / name
        with xr.open_dataset(path, decode_times=False) as ds:
            changed = change(ds.load())
        changed.to_netcdf(path.with_suffix(".tmp"))
        path.with_suffix(".tmp").replace(path)

    return prepare


def set_nan(variable: str, **index) -> Callable[[xr.Dataset], xr.Dataset]:
    def change(ds):
        ds[variable][index] = np.nan
        return ds

    return change


def loader(**kwargs) -> Callable[[Path], None]:
    """Action: build a ColumnDataset of the store and read one epoch."""

    def action(d: Path) -> None:
        from climnn.data.loader import ColumnDataset

        store = kwargs.pop("store", "store.zarr")
        dataset = ColumnDataset(d / store, **kwargs)
        for _ in dataset:
            pass

    return action


@dataclass
class Case:
    """argv (with {d} for the case's directory) or a Python action; what the message must
    hold; how the directory is prepared (before the digest is taken)."""

    name: str
    command: list[str] | Callable[[Path], None]
    expect: tuple[str, ...]
    prepare: Callable[[Path], None] | None = None


RUN = ["run", "{d}/cfg.yaml", "--quiet", "--out", "{d}/new"]
GEN = ["generate", "{d}/cfg.yaml", "--quiet", "--out", "{d}/gen.zarr"]
RESTART = "{d}/run/restart/restart_2000-01-02T000000.npz"
CBRAIN = ["convert", "cbrain", "{d}/spcam_0.nc", "{d}/spcam_1.nc", "--out", "{d}/c.zarr"]
CLIMSIM = ["convert", "climsim", f"{{d}}/climsim/E3SM-MMF.mli.{CLIMSIM_STAMP}.nc",
           "--grid-info", "{d}/climsim/grid.nc", "--out", "{d}/c.zarr"]

CASES = [
    # ---- run: the configuration file
    Case("empty yaml", RUN, ("cfg.yaml", "empty"), write_yaml("")),
    Case("yaml comment only", RUN, ("cfg.yaml", "empty"), write_yaml("# nothing\n")),
    Case("yaml is a list", RUN, ("cfg.yaml", "expected a mapping", "list"),
         write_yaml("- a\n- b\n")),
    Case("yaml syntax", RUN, ("cfg.yaml", "not valid YAML"), write_yaml("time: [1, 2\n")),
    Case("config missing", ["run", "{d}/nope.yaml"], ("nope.yaml", "not found")),
    Case("config is a directory", ["run", "{d}/run"], ("run", "is a directory")),
    Case("unknown key", RUN, ("cfg.yaml", "unknown key 'dynamics.difusion'", "diffusion"),
         edit_config(**{"dynamics.difusion": {"order": 8}})),
    Case("string for a number", RUN, ("cfg.yaml", "time.step_minutes = 'thirty'",
                                      "expected a number"),
         edit_config(**{"time.step_minutes": "thirty"})),
    Case("bool for a number", RUN, ("cfg.yaml", "initial.temperature = True"),
         edit_config(**{"initial.temperature": True})),
    Case("float for an int", RUN, ("cfg.yaml", "resolution.levels = 5.5", "whole number"),
         edit_config(**{"resolution.levels": 5.5})),
    Case("nan step", RUN, ("cfg.yaml", "time.step_minutes = nan", "not a finite number"),
         edit_config(**{"time.step_minutes": float("nan")})),
    Case("inf output interval", RUN, ("cfg.yaml", "output.interval_hours = inf", "finite"),
         edit_config(**{"output.interval_hours": float("inf")})),
    Case("negative output interval", RUN, ("cfg.yaml", "output.interval_hours = -6.0",
                                           "> 0"),
         edit_config(**{"output.interval_hours": -6})),
    Case("negative restart interval", RUN, ("cfg.yaml", "output.restart_interval_days = "
                                            "-1.0", ">= 0 (0: only at the start and the end)"),
         edit_config(**{"output.restart_interval_days": -1})),
    Case("restart interval not whole steps", RUN, (
        "cfg.yaml", "output.restart_interval_days = 0.3", "nearest allowed: 0.2916666667"),
        edit_config(**{"output.restart_interval_days": 0.3})),
    Case("output interval not whole steps", RUN, (
        "cfg.yaml", "output.interval_hours = 0.3", "30-minute steps"),
        edit_config(**{"output.interval_hours": 0.3})),
    Case("negative threads in file", RUN, ("cfg.yaml", "threads = -1", ">= 0"),
         edit_config(threads=-1)),
    Case("unsupported truncation", RUN, ("cfg.yaml", "resolution.truncation = 30", "T21"),
         edit_config(**{"resolution.truncation": 30})),
    Case("zero levels", RUN, ("cfg.yaml", "resolution.levels = 0", ">= 1"),
         edit_config(**{"resolution.levels": 0})),
    Case("level set needs other levels", RUN, ("cfg.yaml", "resolution.levels = 5"),
         edit_config(**{"resolution.sigma": "held_suarez"})),
    Case("sponge deeper than the model", RUN, ("cfg.yaml", "dynamics.sponge.levels = 9"),
         edit_config(**{"dynamics.sponge.levels": 9})),
    Case("odd diffusion order", RUN, ("cfg.yaml", "dynamics.diffusion.order = 3", "even"),
         edit_config(**{"dynamics.diffusion.order": 3})),
    Case("robert filter out of range", RUN, ("cfg.yaml", "dynamics.robert_filter = 2.0",
                                             "between 0 and 1"),
         edit_config(**{"dynamics.robert_filter": 2.0})),
    Case("bad start date", RUN, ("cfg.yaml", "time.start = '2000-13-01'", "YYYY-MM-DD"),
         edit_config(**{"time.start": "2000-13-01"})),
    Case("start date not in calendar", RUN, ("cfg.yaml", "time.start = '2001-02-29'",
                                             "noleap calendar"),
         edit_config(**{"time.start": "2001-02-29", "time.calendar": "noleap"})),
    Case("calendar typo", RUN, ("cfg.yaml", "time.calendar = '360day'", "'360_day'"),
         edit_config(**{"time.calendar": "360day"})),
    Case("section is a number", RUN, ("cfg.yaml", "time = 5", "section"),
         edit_config(time=5)),
    Case("name with a slash", RUN, ("cfg.yaml", "name = 'a/b'", "without '/'"),
         edit_config(name="a/b")),
    Case("unknown insolation key", RUN, ("cfg.yaml", "insolation.solar_constnt",
                                         "did you mean 'insolation.solar_constant'"),
         edit_config(**{"insolation.solar_constnt": 1360})),
    # ---- run: --set
    Case("--set zero output interval", [*RUN, "--set", "output.interval_hours=0"],
         ("--set output.interval_hours=0", "output.interval_hours = 0.0", "> 0")),
    Case("--set through a number", [*RUN, "--set", "time.step_minutes.x=3"],
         ("--set time.step_minutes.x=3", "goes through time.step_minutes = 30")),
    Case("--set unknown key", [*RUN, "--set", "time.dayz=3"],
         ("--set time.dayz=3", "unknown key 'time.dayz'", "did you mean 'time.days'")),
    Case("--set without =", [*RUN, "--set", "time.days"], ("--set time.days", "KEY=VALUE")),
    Case("--set bad yaml value", [*RUN, "--set", "time.days=[1"],
         ("--set time.days=[1", "not valid YAML")),
    Case("--set nan", [*RUN, "--set", "initial.temperature=.nan"],
         ("--set initial.temperature=.nan", "not a finite number")),
    # ---- run: options
    Case("--days nan", [*RUN, "--days", "nan"], ("--days nan", "not a finite number")),
    Case("--days inf", [*RUN, "--days", "inf"], ("--days inf", "not a finite number")),
    Case("--days negative", [*RUN, "--days", "-1"], ("--days -1", "> 0")),
    Case("--days zero", [*RUN, "--days", "0"], ("--days 0", "> 0")),
    Case("--days not whole steps", [*RUN, "--days", "0.01"],
         ("--days 0.01", "30-minute steps", "nearest allowed: 0.02083333333")),
    Case("--days not a number", [*RUN, "--days", "ten"], ("--days", "'ten'")),
    Case("--threads negative", [*RUN, "--threads", "-2"], ("--threads -2", ">= 0")),
    Case("unknown option", [*RUN, "--dayz", "1"], ("unrecognized arguments: --dayz",)),
    Case("--out is a file", ["run", "{d}/cfg.yaml", "--out", "{d}/afile"],
         ("--out", "afile", "existing file")),
    Case("--out under a file", ["run", "{d}/cfg.yaml", "--out", "{d}/afile/sub"],
         ("--out", "afile", "not a directory")),
    Case("bad --days into a finished run", ["run", "{d}/cfg.yaml", "--out", "{d}/run",
                                            "--days", "0.01"], ("--days 0.01",)),
    Case("bad config into a finished run", ["run", "{d}/cfg.yaml", "--out", "{d}/run"],
         ("cfg.yaml", "time.step_minutes = -30.0"),
         edit_config(**{"time.step_minutes": -30})),
    Case("--restart with --format", ["run", "--restart", RESTART, "--format", "netcdf"],
         ("--format cannot be used with --restart", "saved configuration")),
    Case("--restart with --set", ["run", "--restart", RESTART, "--set", "time.days=2"],
         ("--set cannot be used with --restart",)),
    Case("--restart missing", ["run", "--restart", "{d}/none.npz"], ("none.npz", "no such")),
    Case("--restart with --days not whole steps",
         ["run", "--restart", RESTART, "--days", "0.01", "--quiet"],
         ("--days 0.01", "nearest allowed")),
    Case("run without config", ["run", "--days", "1"], ("configuration file",)),
    # ---- generate
    Case("generate --every 0", [*GEN, "--days", "1", "--every", "0"], ("--every 0", ">= 1")),
    Case("generate --checkpoint-every 0", [*GEN, "--days", "1", "--checkpoint-every", "0"],
         ("--checkpoint-every 0", ">= 1")),
    Case("generate --segments 0", [*GEN, "--days", "1", "--segments", "0"],
         ("--segments 0", ">= 1")),
    Case("generate --days nan", [*GEN, "--days", "nan"], ("--days nan", "finite")),
    Case("generate --days not whole steps", [*GEN, "--days", "0.3"],
         ("--days 0.3", "nearest allowed")),
    Case("generate fewer steps than --every", [*GEN, "--days", "1", "--every", "100"],
         ("48 steps", "--every 100")),
    Case("generate without physics", [*GEN, "--days", "1", "--set", "physics.scheme=none"],
         ("physics.scheme is 'none'",)),
    Case("generate --out is a file", ["generate", "{d}/cfg.yaml", "--out", "{d}/afile",
                                      "--days", "1"], ("--out", "afile", "existing file")),
    Case("generate --days missing", GEN, ("--days",)),
    Case("generate empty config", [*GEN, "--days", "1"], ("cfg.yaml", "empty"),
         write_yaml("")),
    Case("generate into another store", ["generate", "{d}/cfg.yaml", "--out",
                                         "{d}/store.zarr", "--days", "1", "--quiet"],
         ("store.zarr", "not an interrupted generation")),
    Case("generate --restart missing", ["generate", "--restart", "{d}/none.npz", "--out",
                                        "{d}/g.zarr", "--days", "1"], ("none.npz", "no such")),
    Case("generate --restart not a restart", ["generate", "--restart", "{d}/afile", "--out",
                                              "{d}/g.zarr", "--days", "1"],
         ("afile", "not a readable gcm restart")),
    Case("generate --restart with --set", ["generate", "--restart", RESTART, "--out",
                                           "{d}/g.zarr", "--days", "1", "--set", "threads=2"],
         ("--set cannot be used with --restart",)),
    Case("generate --restart of another config", [*GEN, "--restart", RESTART, "--days", "1"],
         ("another configuration than", "cfg.yaml"),
         edit_config(**{"dynamics.diffusion.order": 4})),
    Case("generate without config or restart", ["generate", "--out", "{d}/g.zarr",
                                                "--days", "1"], ("configuration file",)),
    # ---- stats
    Case("stats missing store", ["stats", "{d}/none.zarr"], ("none.zarr", "no such")),
    Case("stats not a store", ["stats", "{d}/run"], ("run", "not a")),
    Case("stats truncated chunk", ["stats", "{d}/store.zarr"],
         ("store.zarr", "variable 'PS'", "chunk (2, 0)", "truncated"),
         damage_chunk("store.zarr", "PS/c/2/0", "truncate")),
    Case("stats overwritten chunk", ["stats", "{d}/store.zarr"],
         ("store.zarr", "variable 'Q'", "chunk (4, 0, 0)"),
         damage_chunk("store.zarr", "Q/c/4/0/0", "junk")),
    Case("stats deleted chunk", ["stats", "{d}/store.zarr"],
         ("store.zarr", "variable 'T'", "chunk (3, 0, 0)", "missing"),
         damage_chunk("store.zarr", "T/c/3/0/0", "delete")),
    Case("stats NaN", ["stats", "{d}/nan.zarr"],
         ("nan.zarr", "variable 'T'", "NaN", "time=3, column=7, lev=2")),
    # ---- convert
    Case("convert input missing", ["convert", "cbrain", "{d}/none.nc", "--out", "{d}/c.zarr"],
         ("none.nc", "does not exist")),
    Case("convert input not netCDF", ["convert", "cbrain", "{d}/cfg.yaml", "--out",
                                      "{d}/c.zarr"], ("cfg.yaml", "netCDF")),
    Case("convert missing variable", CBRAIN, ("spcam_1.nc", "PHQ"),
         edit_netcdf("spcam_1.nc", lambda ds: ds.drop_vars("PHQ"))),
    Case("convert wrong units", CBRAIN, ("spcam_0.nc", "TBP", "units"),
         edit_netcdf("spcam_0.nc", lambda ds: ds.assign(TBP=ds.TBP.assign_attrs(units="C")))),
    Case("convert NaN in cbrain", CBRAIN, ("spcam_1.nc", "variable TBP", "NaN",
                                           "time=1, lat=2, lon=3, lev=4"),
         edit_netcdf("spcam_1.nc", set_nan("TBP", time=1, lev=4, lat=2, lon=3))),
    Case("convert NaN in climsim", CLIMSIM, (f"E3SM-MMF.mli.{CLIMSIM_STAMP}.nc",
                                             "variable state_ps", "NaN", "ncol=5")),
    Case("convert --out exists", [*CBRAIN[:-1], "{d}/store.zarr"],
         ("--out", "store.zarr", "--overwrite")),
    Case("convert --out is a file", [*CBRAIN[:-1], "{d}/afile"], ("afile", "existing file")),
    Case("convert cbrain with --grid-info", [*CBRAIN, "--grid-info", "{d}/climsim/grid.nc"],
         ("--grid-info is for ClimSim only",)),
    Case("convert --grid-info missing", [*CLIMSIM[:-4], "--grid-info", "{d}/none.nc",
                                         "--out", "{d}/c.zarr"], ("none.nc", "no such file")),
    Case("convert unknown source", ["convert", "spcam", "{d}/spcam_0.nc", "--out",
                                    "{d}/c.zarr"], ("invalid choice: 'spcam'",)),
    # ---- loader (Python API)
    Case("loader missing variable", loader(inputs=["T", "SST", "CLDLIQ"]),
         ("store.zarr", "'CLDLIQ'")),
    Case("loader variable in the wrong role", loader(outputs=["T"]),
         ("store.zarr", "'T'", "not an output")),
    Case("loader NaN found by the validator", loader(store="nan.zarr"),
         ("nan.zarr", "variable 'T'", "time=3, column=7, lev=2")),
    Case("loader NaN found while reading", loader(store="nan.zarr", check_values=False),
         ("nan.zarr", "variable 'T'", "time=3, column=7, lev=2")),
    Case("loader mismatched levels", loader(levels=30),
         ("store.zarr", "lev=5", "levels=30")),
    Case("loader corrupt chunk while reading", loader(check_values=False),
         ("store.zarr", "variable 'Q'", "chunk (4, 0, 0)"),
         damage_chunk("store.zarr", "Q/c/4/0/0", "junk")),
    Case("loader without statistics", loader(),
         ("store.zarr", "climnn stats"), lambda d: shutil.rmtree(d / "store.zarr" / "stats")),
    Case("loader times out of range", loader(times=[0, 99]), ("store.zarr", "times")),
]


def _climsim_nan(d: Path) -> None:
    edit_netcdf(f"climsim/E3SM-MMF.mli.{CLIMSIM_STAMP}.nc", set_nan("state_ps", ncol=5))(d)


next(c for c in CASES if c.name == "convert NaN in climsim").prepare = _climsim_nan


def test_there_are_at_least_forty_kinds_across_every_command():
    commands = {c.command[0] if isinstance(c.command, list) else "loader" for c in CASES}
    assert len(CASES) >= 40 and len({c.name for c in CASES}) == len(CASES)
    assert commands == {"run", "generate", "stats", "convert", "loader"}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_ends_with_one_message_and_touches_nothing(case, world, tmp_path, capsys,
                                                             monkeypatch):
    d = tmp_path / "case"
    shutil.copytree(world, d)
    if case.prepare is not None:
        case.prepare(d)
    monkeypatch.chdir(d)  # a default output directory (out/<name>) would appear here
    before = tree_digest(d)
    capsys.readouterr()
    if isinstance(case.command, list):
        status = main([part.format(d=d) for part in case.command])
        out, err = capsys.readouterr()
        lines = err.strip().splitlines()
        assert status == 2, err
        assert len(lines) == 1 and lines[0].startswith("climnn: error: "), err
        message = lines[0]
    else:
        pytest.importorskip("torch")
        with pytest.raises(DatasetError) as raised:
            case.command(d)
        message = str(raised.value)
        assert len(message.splitlines()) == 1, message
    assert "Traceback" not in message
    for expected in case.expect:
        assert expected in message, message
    assert tree_digest(d) == before


def test_codec_error_while_computing_statistics_is_routed_to_the_chunk(world, tmp_path,
                                                                       capsys, monkeypatch):
    """Without the up-front frame check, the decode error dask raises is still named."""
    shutil.copytree(world / "store.zarr", tmp_path / "s.zarr")
    damage_chunk("s.zarr", "Q/c/4/0/0", "junk")(tmp_path)
    monkeypatch.setattr(schema, "_check_blosc_frames", lambda path, store: None)
    monkeypatch.setattr("climnn.data.stats._check_blosc_frames", lambda path, store: None)
    before = tree_digest(tmp_path)
    assert main(["stats", str(tmp_path / "s.zarr")]) == 2
    message = capsys.readouterr().err.strip()
    assert message.startswith("climnn: error: ") and len(message.splitlines()) == 1
    assert "variable 'Q': chunk (4, 0, 0) cannot be read" in message
    assert tree_digest(tmp_path) == before
