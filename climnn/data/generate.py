"""Datasets from teacher runs: ``climnn generate CONFIG --out DATA.zarr --days N --every K``.

The teacher's column physics is wrapped so that every K-th step the columns it sees
(the state before physics) and everything it returns are kept; each such sample is
appended to the store (schema v1, data/README.md) as the run goes, in float64 so that the
DESIGN.md budgets close on the stored samples to round-off. SHFLX and LHFLX are the
previous step's surface fluxes, as in Rasp et al. (2018).

Resuming: every few samples (and at the end) the model's restart (both leapfrog levels,
ledger and the previous fluxes) is written atomically beside the store, in
``DATA.zarr.generate/restart.npz``, together with the number of samples stored. Running
the same command again after a kill cuts any partly appended sample off the store and
continues from that restart, so the store ends with no duplicate and no missing sample.
Independent segments (ensemble members with different initial noise) run in parallel on a
dask.distributed cluster: a LocalCluster by default, any cluster by its address.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr
import zarr

from climnn.data.schema import P0, DatasetError, validate_store, write_store
from gcm.physics.column import ColumnState, ColumnTendencies


class SampleRecorder:
    """Column physics that passes through to ``physics`` and keeps the columns and
    tendencies of the calls made while ``record`` is set."""

    def __init__(self, physics):
        self.physics = physics
        self.record = False
        self.sample: tuple[ColumnState, ColumnTendencies, np.ndarray, np.ndarray] | None = None
        self.previous_shf: np.ndarray | None = None
        self.previous_lhf: np.ndarray | None = None
        self.frictional_heating = getattr(physics, "frictional_heating", False)
        self.closes_budgets = getattr(physics, "closes_budgets", True)

    def __call__(self, columns: ColumnState, dt: float) -> ColumnTendencies:
        out = self.physics(columns, dt)
        if self.record and self.previous_shf is not None:
            self.sample = (columns, out, self.previous_shf, self.previous_lhf)
        self.previous_shf, self.previous_lhf = out.shf.copy(), out.lhf.copy()
        return out


@dataclass
class GenerationResult:
    path: Path
    samples: int
    steps: int


def sample_dataset(model, sample, config_path: str) -> xr.Dataset:
    """One stored sample (time length 1) from a recorded (columns, tendencies, shflx, lhflx)."""
    import datetime
    import types

    from gcm.conservation import area_fraction
    from gcm.variables import QUANTITIES

    columns, out, shflx, lhflx = sample
    sources = {"columns": columns, "tendencies": out,
               "previous": types.SimpleNamespace(shf=shflx, lhf=lhflx)}
    data = {}
    for quantity in QUANTITIES:  # every dataset variable, from the contract's fields
        value = np.ascontiguousarray(getattr(sources[quantity.source], quantity.field))
        dims = ("time", "column", "lev") if value.ndim == 2 else ("time", "column")
        data[quantity.dataset] = (dims, value[None], quantity.units)
    sigma = model.sigma
    grid = model.grid
    area = np.broadcast_to(area_fraction(grid.weights, grid.nlon), (grid.nlat, grid.nlon)).ravel()

    time = model.start_time + datetime.timedelta(seconds=float(columns.time))
    ds = xr.Dataset(
        {name: xr.Variable(dims, values, {"units": units}) for name, (dims, values, units)
         in data.items()},
        coords={
            "time": ("time", [time]),
            "lat": ("column", np.degrees(columns.latitude), {"units": "degrees_north"}),
            "lon": ("column", np.degrees(columns.longitude), {"units": "degrees_east"}),
            "area": ("column", area),
            "hyam": ("lev", np.zeros(sigma.nlev)), "hybm": ("lev", sigma.full),
            "hyai": ("ilev", np.zeros(sigma.nlev + 1)), "hybi": ("ilev", sigma.half),
        },
    )
    ds["P0"] = xr.Variable((), P0, {"units": "Pa"})
    ds.attrs.update(
        source_model="climnn-teacher", source_files=[config_path],
        config_hash=model.config.digest(),
        resolution=f"T{grid.truncation}L{sigma.nlev}", timestep_seconds=model.dt,
        surface_flux_convention="included",
    )
    return ds


def _state_dir(out: Path) -> Path:
    return out.with_name(out.name + ".generate")


def _truncate(out: Path, samples: int) -> None:
    """Cut every time-dependent array of the store back to ``samples`` entries (the ones a
    restart vouches for), dropping a sample whose append a kill interrupted."""
    group = zarr.open_group(out, mode="r+", zarr_format=3)
    for _, array in group.arrays():
        dims = array.metadata.dimension_names or ()
        if dims and dims[0] == "time" and array.shape[0] != samples:
            array.resize((samples,) + array.shape[1:])


def generate(config, out, days: float, every: int = 1, config_path: str = "",
             progress: bool = True, on_sample=None, checkpoint_samples: int = 8
             ) -> GenerationResult:
    """Run the teacher for ``days`` and store a sample every ``every`` steps in ``out``;
    resume a generation a kill interrupted when ``out`` already holds one.

    Samples are appended ``checkpoint_samples`` at a time, each batch followed by the
    restart; a resumed run cuts the store back to the samples its restart vouches for
    and makes the rest again (bitwise the same, the model being deterministic)."""
    from tqdm.auto import tqdm

    from gcm.io.restart import load_restart
    from gcm.model import Model

    out = Path(out)
    if every < 1:
        raise ValueError(f"generate: --every must be >= 1, got {every}")
    model = Model(config)
    recorder = SampleRecorder(model.physics)
    model.physics = recorder
    state = _state_dir(out) / "restart.npz"
    samples = 0
    if out.exists():
        if not state.exists():
            raise DatasetError(f"{out}: exists and is not an interrupted generation (no {state});"
                               " choose another --out")
        arrays, meta = load_restart(state)
        if meta["config_hash"] != model.config.digest():
            raise DatasetError(f"{out}: was generated with another configuration "
                               f"({meta['config_hash']} != {model.config.digest()})")
        try:
            model.load_restart_arrays(arrays, meta["step_count"])
        except ValueError as err:
            raise DatasetError(f"{state}: {err}") from None
        recorder.previous_shf = arrays.get("previous_shf")
        recorder.previous_lhf = arrays.get("previous_lhf")
        samples = int(meta["samples"])
        _truncate(out, samples)
        if samples:
            validate_store(out, check_values=False)
    else:
        _checkpoint(state, model, recorder, 0)  # a kill before the first sample can resume
    nsteps = int(round(days * 86400.0 / model.dt))
    bar = tqdm(total=nsteps, initial=model.step_count, disable=None if progress else True,
               unit="step", desc=f"generate {out.name}")
    pending: list[xr.Dataset] = []  # samples made since the last checkpoint
    while model.step_count < nsteps:
        recorder.record = model.step_count % every == 0
        recorder.sample = None
        model.step()
        bar.update()
        if recorder.sample is None:
            continue
        pending.append(sample_dataset(model, recorder.sample, config_path))
        if on_sample is not None:
            on_sample(recorder.sample)
        if len(pending) == checkpoint_samples:
            samples = _flush(out, pending, samples)
            _checkpoint(state, model, recorder, samples)
    bar.close()
    samples = _flush(out, pending, samples)
    _checkpoint(state, model, recorder, samples)
    return GenerationResult(out, samples, model.step_count)


def _flush(out: Path, pending: list[xr.Dataset], samples: int) -> int:
    """Append the pending samples in one write; return the number of samples stored."""
    if not pending:
        return samples
    batch = xr.concat(pending, dim="time", data_vars="minimal", coords="minimal",
                      compat="override", join="exact", combine_attrs="override")
    # the store was validated when the generation (re)started: appends skip the scan
    write_store(batch, out, mode="a" if samples else "w", check_existing=False)
    samples += len(pending)
    pending.clear()
    return samples


def _checkpoint(state: Path, model, recorder: SampleRecorder, samples: int) -> None:
    """The model's restart plus what a resumed generation needs, written atomically."""
    from gcm.io.restart import save_restart

    arrays = model.restart_arrays()
    if recorder.previous_shf is not None:
        arrays["previous_shf"] = recorder.previous_shf
        arrays["previous_lhf"] = recorder.previous_lhf
    state.parent.mkdir(exist_ok=True)
    save_restart(state, arrays, dict(
        time=model.time.isoformat(), calendar=model.time.calendar,
        step_count=model.step_count, config=model.config.to_dict(),
        config_hash=model.config.digest(), samples=samples))


def _segment(args):
    config_dict, out, days, every, config_path, member = args
    from gcm.config import config_from_dict

    config = config_from_dict(config_dict)
    config.initial.seed = config.initial.seed + member
    return generate(config, out, days, every, config_path, progress=False).samples


def generate_segments(config, out_dir, days: float, every: int, segments: int,
                      scheduler: str | None = None, config_path: str = "") -> list[Path]:
    """``segments`` independent ensemble members (initial noise seeds seed, seed+1, ...) in
    parallel on dask.distributed; member i goes to ``out_dir/member_{i:03d}.zarr``."""
    from dask.distributed import Client, LocalCluster

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"member_{i:03d}.zarr" for i in range(segments)]
    jobs = [(config.to_dict(), p, days, every, config_path, i) for i, p in enumerate(paths)]
    if scheduler:
        client = Client(scheduler)
        cluster = None
    else:
        import os

        cluster = LocalCluster(n_workers=min(segments, os.cpu_count() or 1),
                               threads_per_worker=1, processes=True)
        client = Client(cluster)
    try:
        client.gather(client.map(_segment, jobs, pure=False))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return paths
