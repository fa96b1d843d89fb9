"""Datasets from teacher runs: ``climnn generate CONFIG --out DATA.zarr --days N --every K``.

A generation is a gcm Simulation with one more callback, the ColumnSampler: every K-th
step it keeps the columns the physics saw (the state before physics), everything the
physics returned and the interval the tendencies were computed over (``physics_dt``: 2 dt
on a leapfrog step), as one sample of the store (schema v1, data/README.md), in float64
so that the DESIGN.md budgets close on the stored samples to round-off. SHFLX and LHFLX
are the previous step's surface fluxes, as in Rasp et al. (2018): the sampler's own
state, which goes into the restarts.

Samples are copied into preallocated buffers and appended to the store a batch at a
time (``checkpoint_samples``), each batch followed by the restart, written atomically
beside the store in ``DATA.zarr.generate/restart.npz``; it holds the number of samples
stored. Running the same command again after a kill cuts any partly appended sample off
the store and continues from that restart, so the store ends with no duplicate and no
missing sample, bitwise the same. Independent segments (ensemble members with different
initial noise) run in parallel on a dask.distributed cluster: a LocalCluster by default,
any cluster by its address.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr
import zarr
from numcodecs import Blosc
from xarray.coding.times import encode_cf_datetime
from zarr.codecs import BloscCodec, BloscShuffle, BytesCodec
from zarr.codecs.bytes import Endian
from zarr.storage import LocalStore

from climnn.data.schema import P0, TIME, DatasetError, validate_store, write_store
from gcm.io.restart import read_restart_metadata, save_restart
from gcm.model import Model
from gcm.simulation import Simulation

#: Store variable of the interval (s) over which a sample's physics tendencies were computed.
PHYSICS_DT = "physics_dt"


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
    # a scheme with a configuration of its own (the SP scheme's CRM) records it too
    provenance = getattr(model.physics, "provenance", None)
    if provenance is not None:
        ds.attrs.update(source_model=f"climnn-{model.physics.name}", **provenance())
    return ds


class SampleBatch:
    """Up to ``size`` samples in preallocated buffers, one per time-dependent variable of
    the store, and their writing into the store. ``template``: a sample's Dataset (its
    dims, attributes, coordinates)."""

    def __init__(self, template: xr.Dataset, size: int):
        self.template = template
        self.buffers = {name: np.empty((size,) + v.shape[1:], v.dtype)
                        for name, v in template.variables.items()
                        if v.dims[:1] == (TIME,) and name != TIME}
        self.physics_dt = np.zeros(size)
        self.times: list = []

    def __len__(self) -> int:
        return len(self.times)

    def add(self, sample: xr.Dataset, physics_dt: float) -> None:
        i = len(self.times)
        for name, buffer in self.buffers.items():
            buffer[i] = sample.variables[name].values[0]
        self.physics_dt[i] = physics_dt
        self.times.append(sample.variables[TIME].values[0])

    def store(self, out: Path, start: int) -> None:
        """Write the samples at indices start, start+1, ... of the store ``out`` (start 0
        creates it), overwriting what a write cut short left there."""
        if start == 0:
            write_store(self._dataset(), out, mode="w")
        else:
            self._append(out, start)

    def _dataset(self) -> xr.Dataset:
        n, template = len(self), self.template
        ds = template.drop_vars([*self.buffers, TIME]).assign_coords(
            {TIME: (TIME, list(self.times))})
        for name, buffer in self.buffers.items():
            ds[name] = xr.Variable(template.variables[name].dims, buffer[:n],
                                   template.variables[name].attrs)
        ds[PHYSICS_DT] = xr.Variable((TIME,), self.physics_dt[:n], {"units": "s"})
        return ds

    def _append(self, out: Path, start: int) -> None:
        """Into the store's arrays directly (the store was validated when the generation
        (re)started; no xarray Dataset needed)."""
        n = len(self)
        group = zarr.open_group(out, mode="r+", zarr_format=3)
        time = group[TIME]
        encoded, _, _ = encode_cf_datetime(np.array(self.times, dtype=object),
                                           time.attrs["units"], time.attrs["calendar"],
                                           dtype=np.dtype("float64"))
        columns = {TIME: encoded, PHYSICS_DT: self.physics_dt[:n]}
        columns.update({name: buffer[:n] for name, buffer in self.buffers.items()})
        for name, values in columns.items():
            # every chunk written, as write_store does: a missing chunk means damage
            array = group[name].with_config({"write_empty_chunks": True})
            array.resize((start + n,) + array.shape[1:])
            write_chunks = _sample_chunk_writer(array, values.dtype)
            if write_chunks is None:
                array[start:] = values
            else:
                write_chunks(start, values)
        group.attrs["time_range"] = [group.attrs["time_range"][0], self.times[-1].isoformat()]


_SHUFFLES = {BloscShuffle.noshuffle: Blosc.NOSHUFFLE, BloscShuffle.shuffle: Blosc.SHUFFLE,
             BloscShuffle.bitshuffle: Blosc.BITSHUFFLE}


def _sample_chunk_writer(array: zarr.Array, dtype: np.dtype) -> Callable | None:
    """``write(start, values)``: the chunk files of samples start, start+1, ... of
    ``array``, each encoded as zarr encodes it (bytes, then Blosc; the same bytes), for an
    array of the schema's layout (one sample a chunk, little-endian, Blosc, in a local
    store); None for any other layout (then zarr writes). zarr's own chunk writing spent
    about twice the CPU time of the encoding on its per-chunk machinery: 27 against 14 ms
    a T31L25 sample."""
    codecs = array.metadata.codecs
    if (not isinstance(array.store, LocalStore) or array.chunks != (1,) + array.shape[1:]
            or len(codecs) != 2 or not isinstance(codecs[0], BytesCodec)
            or not isinstance(codecs[1], BloscCodec) or dtype != np.dtype("<f8")
            or codecs[0].endian not in (Endian.little, None)):
        return None
    blosc = codecs[1]
    encoder = Blosc(cname=blosc.cname.value, clevel=blosc.clevel, shuffle=_SHUFFLES[blosc.shuffle],
                    blocksize=blosc.blocksize, typesize=blosc.typesize)
    folder = Path(array.store.root) / array.path
    origin = (0,) * (array.ndim - 1)

    def write(start: int, values: np.ndarray) -> None:
        for i, sample in enumerate(values):
            path = folder / array.metadata.encode_chunk_key((start + i, *origin))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(encoder.encode(np.ascontiguousarray(sample)))

    return write


class ColumnSampler:
    """Simulation callback, every step: a sample of the physics every ``every`` steps,
    appended to the store ``out`` ``batch`` samples at a time.

    The sample of step n -> n+1 (n a multiple of ``every``) holds that step's physics
    call (``model.last_physics``) and the surface fluxes of the step before; step 0,
    which has no step before, is never sampled. A full batch and then the restart of
    that step are written by a thread of their own while the model steps on (two
    batches of buffers take turns); every other restart (``state_arrays``) first stores
    the pending samples, so a restart vouches for every sample taken before it.
    ``enabled`` = False takes no samples (the fluxes are still followed).
    ``on_sample((columns, tendencies, shflx, lhflx))``, if given, sees a copy of each
    sample.
    """

    name = "sampler"
    needs_physics_call = True  # reads model.last_physics: the Simulation has it kept

    def __init__(self, model: Model, out, every: int, batch: int = 8, config_path: str = "",
                 on_sample: Callable | None = None):
        if every < 1:
            raise ValueError(f"generate: --every must be >= 1, got {every}")
        if batch < 1:
            raise ValueError(f"generate: --checkpoint-every must be >= 1, got {batch}")
        self.model, self.out, self.every, self.batch = model, Path(out), every, batch
        self.config_path, self.on_sample = config_path, on_sample
        self.enabled = True
        self.samples = 0  # samples stored, or being stored by the writer
        self.start_step = 0  # the model step the generation started at
        self.restored = False  # state came from a restart
        ncol = model.grid.nlat * model.grid.nlon
        self._previous_shf, self._previous_lhf = np.zeros(ncol), np.zeros(ncol)
        self._have_previous = False
        self._filling: SampleBatch | None = None  # the pending samples
        self._spare: SampleBatch | None = None  # the other buffers (in flight, or free)
        self._writer: ThreadPoolExecutor | None = None
        self._in_flight: Future | None = None

    def __call__(self, sim: Simulation) -> None:
        call = self.model.last_physics
        if self.enabled and self._have_previous and (sim.model.step_count - 1) % self.every == 0:
            self._record(call)
        np.copyto(self._previous_shf, call.tendencies.shf)
        np.copyto(self._previous_lhf, call.tendencies.lhf)
        self._have_previous = True
        if self._filling is not None and len(self._filling) == self.batch:
            self._submit(sim.take_restart)

    def _record(self, call) -> None:
        sample = (call.columns, call.tendencies, self._previous_shf, self._previous_lhf)
        # the schema's variables of this sample: views of the model's arrays (or copies
        # where the layout differs), valid until the next step
        ds = sample_dataset(self.model, sample, self.config_path)
        if self._filling is None:
            self._filling, self._spare = SampleBatch(ds, self.batch), SampleBatch(ds, self.batch)
        self._filling.add(ds, call.dt)
        if self.on_sample is not None:
            self.on_sample((_copy(call.columns), _copy(call.tendencies),
                            self._previous_shf.copy(), self._previous_lhf.copy()))

    def _submit(self, take_restart: Callable | None = None) -> None:
        """Hand the pending samples to the writer, followed by the restart that
        ``take_restart()`` (Simulation.take_restart) gives once they count as stored."""
        self.wait()  # the spare buffers are free again; files are written in order
        batch, start = self._filling, self.samples
        self._filling, self._spare = self._spare, batch
        self._filling.times.clear()
        self.samples += len(batch)
        restart = take_restart() if take_restart is not None else None
        if self._writer is None:
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sampler")
        self._in_flight = self._writer.submit(self._write, batch, start, restart)

    def _write(self, batch: SampleBatch, start: int, restart: tuple | None) -> None:
        batch.store(self.out, start)
        if restart is not None and restart[0] is not None:
            save_restart(*restart)

    def wait(self) -> None:
        """Until the writer has written everything handed to it (its error raised here)."""
        future, self._in_flight = self._in_flight, None
        if future is not None:
            future.result()

    def flush(self) -> None:
        """Store the pending samples and wait until they are written."""
        if self._filling is not None and len(self._filling):
            self._submit()
        self.wait()

    def close(self) -> None:
        """At the end of a run: everything stored, the writer thread ended."""
        try:
            self.flush()
        finally:
            if self._writer is not None:
                self._writer.shutdown()
                self._writer = None

    def state_arrays(self) -> dict[str, np.ndarray]:
        """Stores the pending samples first: the restart vouches for them."""
        self.flush()
        return {"samples": np.array(self.samples, dtype=np.int64),
                "have_previous": np.array(self._have_previous),
                "start_step": np.array(self.start_step, dtype=np.int64),
                "previous_shf": self._previous_shf, "previous_lhf": self._previous_lhf}

    def load_state_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        ncol = self._previous_shf.shape
        for key, shape in (("samples", ()), ("have_previous", ()), ("previous_shf", ncol),
                           ("previous_lhf", ncol)):
            if key not in arrays or np.shape(arrays[key]) != shape:
                found = np.shape(arrays[key]) if key in arrays else "nothing"
                raise ValueError(f"sampler state {key!r}: expected shape {shape}, found {found}")
        self.wait()
        self.samples = int(arrays["samples"])
        self.start_step = int(arrays.get("start_step", 0))  # stores before it started at 0
        self._have_previous = bool(arrays["have_previous"])
        np.copyto(self._previous_shf, arrays["previous_shf"])
        np.copyto(self._previous_lhf, arrays["previous_lhf"])
        if self._filling is not None:
            self._filling.times.clear()
        self.restored = True


def _copy(fields):
    """A copy of a ColumnState or ColumnTendencies that owns its arrays."""
    return dataclasses.replace(fields, **{f.name: np.array(getattr(fields, f.name))
                                          for f in dataclasses.fields(fields)
                                          if isinstance(getattr(fields, f.name), np.ndarray)})


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


def sampling_simulation(model: Model, out, every: int, checkpoint_samples: int = 8,
                        config_path: str = "", progress: bool = True,
                        on_sample: Callable | None = None,
                        start_from=None, history: bool = False
                        ) -> tuple[Simulation, ColumnSampler]:
    """A Simulation of ``model`` that samples into the store ``out``; its restarts and log
    go to ``DATA.zarr.generate/``, and with ``history`` the run's history too (every
    output.interval_hours, as ``climnn run`` writes it: that folder is then a run
    directory ``climnn diagnose`` reads). If ``out`` exists the simulation continues from
    that restart, the store cut back to the samples it vouches for and the history to
    the restart's time.

    A new generation starts from ``start_from`` (a restart file of a run of the same
    configuration, e.g. the end of a spin-up) when given, else from the initial state;
    the sampler keeps the step it started at (``sampler.start_step``) in its restarts."""
    out = Path(out)
    if model.config.physics.scheme == "none":
        raise ValueError("generate: physics.scheme is 'none': there is no physics to sample")
    state = _state_dir(out) / "restart.npz"
    resuming = out.exists()
    if resuming and not state.exists():
        raise DatasetError(f"{out}: exists and is not an interrupted generation (no {state});"
                           " choose another --out")
    sampler = ColumnSampler(model, out, every, checkpoint_samples, config_path, on_sample)
    run_id = None
    if resuming and history and state.exists():
        run_id = read_restart_metadata(state).get("run_id")  # the history's owner
    sim = Simulation(model, state.parent, progress=progress, resume=resuming, history=history,
                     restart_file=state, run_id=run_id)
    sim.add_callback(sampler)
    if not resuming:
        if start_from is not None:
            _start_from(sim, Path(start_from))
            sampler.start_step = model.step_count
        sim.write_restart()  # a kill before the first sample can resume
        return sim, sampler
    try:
        sim.load_restart(state)
    except ValueError as err:
        raise DatasetError(f"{out}: cannot resume the generation: {err}") from None
    if not sampler.restored:
        raise DatasetError(f"{state}: holds no sampler state (the number of samples "
                           "stored); it was not written by this generator")
    _truncate(out, sampler.samples)
    if sampler.samples:
        validate_store(out, check_values=False)
    return sim, sampler


def _start_from(sim: Simulation, restart: Path) -> None:
    """Put the model state of a run's restart into ``sim``; the run's own callbacks'
    state (its history means) has no use here and is dropped."""
    try:
        sim.load_restart(restart, callback_state=False)
    except (OSError, ValueError) as err:
        raise DatasetError(f"generate --restart {restart}: {err}") from None


def generate(config, out, days: float, every: int = 1, config_path: str = "",
             progress: bool = True, on_sample=None, checkpoint_samples: int = 8,
             start_from=None, history: bool = False) -> GenerationResult:
    """Run the teacher until ``days`` after the generation's start and store a sample every
    ``every`` steps in ``out``; resume a generation a kill interrupted, or extend a finished
    one, when ``out`` already holds one (see the module docstring). The generation starts
    from the initial state, or from the restart file ``start_from`` of a run of the same
    configuration (e.g. the end of a spin-up). ``history``: write the run's history into
    ``DATA.zarr.generate/`` as well (``sampling_simulation``), so that one run gives the
    dataset and the run to diagnose (the SP teacher's costly days run once)."""
    model = Model(config)
    sim, sampler = sampling_simulation(model, out, every, checkpoint_samples, config_path,
                                       progress, on_sample, start_from, history)
    stop = sampler.start_step + int(round(days * 86400.0 / model.dt))
    sim.run_steps(max(stop - model.step_count, 0))  # ends with a restart: all stored
    return GenerationResult(Path(out), sampler.samples, model.step_count)


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
