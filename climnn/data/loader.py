"""Training batches from a column dataset: the seed network's input and output vectors.

A sample is one column at one time (schema v1, ``data/README.md``). Its input vector is the
concatenation of the chosen input variables, profiles (index 0 = model top) and surface
scalars, and likewise for its output vector. The defaults are the vectors of the seed
network (Rasp, Pritchard & Gentine 2018, PNAS): inputs T, Q, [U,] V, PS, SOLIN, SHFLX,
LHFLX; outputs TPHYSTND, PHQ, FSNT, FSNS, FLNT, FLNS, PRECT, each of U, FSNT, FSNS, FLNT,
FLNS, PRECT only when the store has it (ClimSim stores have no FSNT, FLNT).

Normalization comes from the store's ``stats`` group (``climnn stats STORE``): inputs
``(x - mean) / std`` per level (``input_normalization="std"``), or as the seed network
(CBRAIN's "maxrs", ``"maxrs"``): ``(x - mean) / max(max - min, std of the variable over all
levels)``, which keeps levels where a variable barely varies (stratospheric humidity) from
being blown up; outputs ``x * scale`` with the seed network's output scales
recorded there (``climnn.data.stats.output_scales``: heating x cp, moistening x L, ...).
:class:`VectorLayout` holds where each variable sits and how it is normalized, so that
training and export use the same numbers.

:class:`ColumnDataset` is a torch ``IterableDataset`` that yields whole batches. It reads
whole zarr chunks (a chunk is one time step of a variable: all columns and levels), a few
consecutive time steps a request, in an order shuffled per epoch, and shuffles samples
within a buffer that mixes many reads. DataLoader workers (and torch.distributed ranks)
share the reads round robin, so every sample is read exactly once per epoch.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np
import zarr
from zarr.core.sync import sync as zarr_sync  # runs a coroutine on zarr's own loop

from climnn.data.schema import VARIABLES, DatasetError, read_failure, validate_store
from climnn.data.stats import load_statistics
from climnn.extras import import_torch

torch = import_torch("climnn.data.loader (training batches)")

__all__ = ["INPUT_NORMALIZATIONS", "SEED_INPUTS", "SEED_OUTPUTS", "ColumnDataset",
           "VectorLayout", "seed_variables", "shuffled_batches", "vector_layouts"]

#: Input and output variables of the seed network, in vector order.
SEED_INPUTS = ("T", "Q", "U", "V", "PS", "SOLIN", "SHFLX", "LHFLX")
SEED_OUTPUTS = ("TPHYSTND", "PHQ", "FSNT", "FSNS", "FLNT", "FLNS", "PRECT")
#: Input normalizations: per-level std, or the seed network's max(range, variable-wide std).
INPUT_NORMALIZATIONS = ("std", "maxrs")
#: Variables of the default vectors that are left out when the store lacks them.
OPTIONAL_IN_DEFAULTS = frozenset({"U", "FSNT", "FSNS", "FLNT", "FLNS", "PRECT"})
#: A standard deviation at most this fraction of |mean| (float32 round-off, or exactly
#: constant data) does not divide: such an input is only centred.
STD_FLOOR = 1e-6
#: Reads (ColumnDataset's read_samples each) a reader keeps ahead of the batches it yields.
READ_AHEAD = 2


@dataclass(frozen=True)
class VectorLayout:
    """Where each variable sits in a flat sample vector and how it is normalized.

    names : variable names in vector order
    levels : entries of each variable: nlev for a profile (index 0 = top), 1 for a surface field
    units : each variable's units in the store
    shift, factor : (size,) float64; normalized = (value - shift) * factor
    """

    names: tuple[str, ...]
    levels: tuple[int, ...]
    units: tuple[str, ...]
    shift: np.ndarray
    factor: np.ndarray

    @property
    def size(self) -> int:
        return int(sum(self.levels))

    @property
    def slices(self) -> dict[str, slice]:
        """Each variable's slice of the vector."""
        ends = np.cumsum(self.levels)
        pairs = zip(self.names, self.levels, ends, strict=True)
        return {name: slice(int(end - k), int(end)) for name, k, end in pairs}

    def normalize(self, values: np.ndarray) -> np.ndarray:
        """(..., size) in the store's units -> normalized, float64."""
        return (np.asarray(values, dtype=np.float64) - self.shift) * self.factor

    def denormalize(self, values: np.ndarray) -> np.ndarray:
        """Normalized (..., size) -> the store's units, float64; a masked entry (factor 0:
        ``masked``) comes back as its shift."""
        values = np.asarray(values, dtype=np.float64)
        scaled = np.zeros(np.broadcast_shapes(values.shape, self.factor.shape))
        np.divide(values, self.factor, out=scaled, where=self.factor != 0)
        return scaled + self.shift

    def as_metadata(self) -> dict:
        """Plain lists and numbers (JSON), for checkpoints and exported models."""
        return {"names": list(self.names), "levels": list(self.levels),
                "units": list(self.units), "shift": self.shift.tolist(),
                "factor": self.factor.tolist()}


def seed_variables(present: Iterable[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The seed network's (inputs, outputs) among the variables ``present`` in a store;
    a required one that is absent stays in, so that the caller names it."""
    present = set(present)

    def chosen(names):
        return tuple(n for n in names if n in present or n not in OPTIONAL_IN_DEFAULTS)

    return chosen(SEED_INPUTS), chosen(SEED_OUTPUTS)


def vector_layouts(
    store: str | os.PathLike,
    inputs: Sequence[str] | None = None,
    outputs: Sequence[str] | None = None,
    *,
    check_values: bool = True,
    levels: int | None = None,
    input_normalization: str = "std",
    masked_levels: Mapping[str, Sequence[int]] | None = None,
) -> tuple[VectorLayout, VectorLayout]:
    """Validate the store and return the (input, output) layouts of its samples.

    inputs, outputs : variable names in vector order; None: the seed network's (those of
        SEED_INPUTS and SEED_OUTPUTS the store has)
    check_values : False skips the validator's pass over every value (a store checked before)
    levels : the number of levels the caller expects (e.g. a network's), or None for any
    input_normalization : "std" or "maxrs" (the seed network's), see the module docstring
    masked_levels : input profile name -> (first, stop): levels the network is not shown
        (``masked``), or None

    Raises DatasetError naming the store and the variable when one is missing, has the
    wrong role, or has no statistics (then: run ``climnn stats STORE``).
    """
    path = Path(store)
    if input_normalization not in INPUT_NORMALIZATIONS:
        raise ValueError(f"input_normalization {input_normalization!r} is not one of "
                         f"{list(INPUT_NORMALIZATIONS)}")
    ds = validate_store(path, require_outputs=False, check_values=check_values, levels=levels)
    default_inputs, default_outputs = seed_variables(ds.data_vars)
    inputs = default_inputs if inputs is None else tuple(inputs)
    outputs = default_outputs if outputs is None else tuple(outputs)
    for names, role in ((inputs, "input"), (outputs, "output")):
        _check_requested(path, names, role, ds.data_vars)
    stats = load_statistics(path)
    nlev = ds.sizes["lev"]
    input_layout = _layout(path, inputs, stats, nlev, _INPUT_NORMALIZATION[input_normalization])
    return (
        masked(input_layout, masked_levels or {}, path),
        _layout(path, outputs, stats, nlev, _output_normalization),
    )


def masked(layout: VectorLayout, levels: Mapping[str, Sequence[int]],
           where: str | os.PathLike = "masked_levels") -> VectorLayout:
    """``layout`` with the levels [first, stop) (0 = top) of each named profile masked:
    their factor is 0, so their normalized value is 0 in every sample and the network
    cannot depend on them (as Brenowitz & Bretherton 2019 removed the upper atmosphere's
    state from their network's inputs, which stabilized its coupled runs). The variable
    stays in the vector: a host passes the same columns either way. DatasetError naming
    ``where`` for a name that is not a profile of the layout or levels outside it."""
    factor = layout.factor.copy()
    slices = layout.slices
    for name, pair in levels.items():
        if name not in slices or layout.levels[layout.names.index(name)] == 1:
            profiles = [n for n, k in zip(layout.names, layout.levels, strict=True) if k > 1]
            raise DatasetError(f"{where}: masked_levels names {name!r}, which is not an "
                               f"input profile (those are {profiles})")
        first, stop = (int(v) for v in pair)
        nlev = slices[name].stop - slices[name].start
        if not 0 <= first < stop <= nlev:
            raise DatasetError(f"{where}: masked_levels of {name} are [{first}, {stop}), "
                               f"outside its {nlev} levels [0, {nlev})")
        factor[slices[name].start + first:slices[name].start + stop] = 0.0
    return dataclasses.replace(layout, factor=factor)


def _check_requested(path: Path, names: Sequence[str], role: str, present) -> None:
    if not names:
        raise DatasetError(f"{path}: no {role} variables requested")
    for name in names:
        spec = VARIABLES.get(name)
        if spec is None or not spec.is_data:
            raise DatasetError(f"{path}: {role} variable {name!r} is not a schema data variable")
        if spec.role != role:
            raise DatasetError(
                f"{path}: variable {name!r} is an {spec.role} of the schema, not an {role}"
            )
        if name not in present:
            raise DatasetError(
                f"{path}: {role} variable {name!r} ({spec.long_name}) is not in the store "
                f"(it holds {sorted(n for n in present if VARIABLES[n].role == role)})"
            )
    if len(set(names)) != len(names):
        raise DatasetError(f"{path}: {role} variables {list(names)} name one twice")


def _layout(path, names, stats, nlev, normalization) -> VectorLayout:
    levels = tuple(nlev if VARIABLES[n].is_profile else 1 for n in names)
    shift, factor = [], []
    for name, k in zip(names, levels, strict=True):
        s, f = normalization(path, stats, name, k)
        shift.append(np.broadcast_to(s, (k,)))
        factor.append(np.broadcast_to(f, (k,)))
    return VectorLayout(tuple(names), levels, tuple(VARIABLES[n].units for n in names),
                        np.concatenate(shift), np.concatenate(factor))


def _statistic(path: Path, stats, key: str, size: int | None) -> np.ndarray:
    """Statistic ``key``: (size,) per level, or a scalar (size None)."""
    if key not in stats:
        raise DatasetError(
            f"{path}: statistics lack {key!r}; run `climnn stats {path}` again"
        )
    value = np.asarray(stats[key].values, dtype=np.float64)
    if value.size != (size or 1):
        raise DatasetError(f"{path}: statistic {key!r} has {value.size} values, the data "
                           f"{size or 1} levels; run `climnn stats {path}` again")
    return value


def _input_normalization(path: Path, stats, name: str,
                         size: int) -> tuple[np.ndarray, np.ndarray]:
    """(mean, 1/std) per level (``size`` of them); 1 where std is zero or round-off
    (constant data)."""
    mean = _statistic(path, stats, f"{name}_mean", size)
    std = _statistic(path, stats, f"{name}_std", size)
    flat = std <= STD_FLOOR * np.abs(mean)
    return mean, np.where(flat, 1.0, 1.0 / np.where(flat, 1.0, std))


def _maxrs_normalization(path: Path, stats, name: str,
                         size: int) -> tuple[np.ndarray, np.ndarray]:
    """(mean, 1 / max(max - min, std over all levels)) per level (``size`` of them), as
    CBRAIN's "maxrs"; 1 where that is round-off of the mean (constant data). The
    variable-wide std combines the per-level ones: every level has the same samples, so
    var = mean_k(std_k^2) + var_k(mean_k)."""
    mean = _statistic(path, stats, f"{name}_mean", size)
    std = _statistic(path, stats, f"{name}_std", size)
    spread = (_statistic(path, stats, f"{name}_max", size)
              - _statistic(path, stats, f"{name}_min", size))
    overall = np.sqrt(np.mean(std**2) + np.var(mean))
    scale = np.maximum(spread, overall)
    flat = scale <= STD_FLOOR * np.abs(mean)
    return mean, np.where(flat, 1.0, 1.0 / np.where(flat, 1.0, scale))


_INPUT_NORMALIZATION = {"std": _input_normalization, "maxrs": _maxrs_normalization}


def _output_normalization(path: Path, stats, name: str, size: int) -> tuple[float, np.ndarray]:
    """(0, scale): the seed network's energy units, no centring (one scale a variable)."""
    return 0.0, _statistic(path, stats, f"{name}_scale", None)


class ColumnDataset(torch.utils.data.IterableDataset):
    """Shuffled batches of normalized (input, output) vectors from a column dataset.

    store : a schema-v1 zarr store with statistics (``climnn stats STORE``), or a sequence
        of stores whose samples are pooled: the first gives the normalization (its
        statistics), the others need the same variables and levels (their own statistics
        are not used; e.g. runs of the teacher from other states)
    inputs, outputs : variable names in vector order (default: the seed network's)
    batch_size : samples a batch; the last batch of an epoch (per worker) may be shorter
    buffer_size : samples shuffled together; time steps are read until the buffer holds
        this many, it is shuffled, and all but half of it is yielded
    shuffle : False reads time steps in order and yields columns in order
    seed : seeds the order of time steps and the buffer shuffles, with the epoch
        (:meth:`set_epoch`) and the worker, so that a run is reproducible
    times : time indices to use (e.g. ``range(0, 300)`` for training, the rest for
        validation); None: all. With several stores, a sequence of such, one a store
    read_samples : samples a read asks for: time steps are read (and shuffled, and shared
        among readers) in groups of max(1, read_samples // ncol) consecutive entries of
        ``times`` (fewer when that leaves a shard without a group), since one zarr request
        for several chunks costs little more than for one
    check_values : passed to ``validate_store``; False skips the pass over every value
    input_normalization : "std" (default) or "maxrs", the seed network's (module docstring)
    masked_levels : input profile name -> (first, stop): levels the network is not shown
        (``masked``)
    surface_flux_convention : the targets' convention, None: the store's; "excluded" of an
        "included" store takes the surface fluxes' share out of TPHYSTND and PHQ
        (climnn.data.surface_convention)
    shard : (index, count) of this process among ``count`` readers that split the time
        steps; None: torch.distributed's (rank, world size) when initialized, else (0, 1).
        Readers may get one read (group) more or fewer than each other
        (:meth:`reader_groups`); the groups depend on the shard count, not the index.
    levels : the number of levels the caller expects (e.g. a network's), or None for any

    A read that fails (a chunk that cannot be decoded) or finds a NaN/inf (possible with
    ``check_values=False``) raises DatasetError naming the store, variable and index.

    Yields ``(x, y)``: float32 tensors (batch, n_in) and (batch, n_out). Use it with
    ``torch.utils.data.DataLoader(dataset, batch_size=None, num_workers=N)``.
    """

    def __init__(
        self,
        store: str | os.PathLike,
        inputs: Sequence[str] | None = None,
        outputs: Sequence[str] | None = None,
        *,
        batch_size: int = 1024,
        buffer_size: int = 2**16,
        shuffle: bool = True,
        seed: int = 0,
        times: Sequence[int] | range | None = None,
        read_samples: int = 8192,
        check_values: bool = True,
        shard: tuple[int, int] | None = None,
        levels: int | None = None,
        input_normalization: str = "std",
        masked_levels: Mapping[str, Sequence[int]] | None = None,
        surface_flux_convention: str | None = None,
    ):
        super().__init__()
        if batch_size < 1 or buffer_size < 1:
            raise ValueError(f"batch_size and buffer_size must be positive, found "
                             f"{batch_size}, {buffer_size}")
        stores, times = _stores_and_times(store, times)
        self.store = stores[0]
        self.input_layout, self.output_layout = vector_layouts(
            self.store, inputs, outputs, check_values=check_values, levels=levels,
            input_normalization=input_normalization, masked_levels=masked_levels)
        names = self.input_layout.names + self.output_layout.names
        nlev = max(self.input_layout.levels + self.output_layout.levels)
        self.parts = tuple(
            self._part(path, chosen, names, nlev, check_values, surface_flux_convention)
            for path, chosen in zip(stores, times, strict=True))
        self.batch_size, self.buffer_size = batch_size, buffer_size
        self.shuffle, self.seed, self.shard, self.epoch = shuffle, seed, shard, 0
        # a group a shard at least, so that every shard reads on a small split too
        readers = self._shard()[1]
        self.groups = []  # (part, time indices) of each read
        for k, part in enumerate(self.parts):
            steps = max(1, min(read_samples // part.ncol, part.times.size // readers))
            self.groups += [(k, part.times[i:i + steps])
                            for i in range(0, part.times.size, steps)]

    def _part(self, path: Path, times, names, nlev: int, check_values: bool,
              convention: str | None) -> StorePart:
        """One store's share: checked against the first store's variables and levels."""
        group = zarr.open_group(path, mode="r") if path == self.store else None
        if group is None:  # a pooled store: what the first store's layout needs
            ds = validate_store(path, require_outputs=False, check_values=check_values,
                                levels=nlev)
            for role, layout in (("input", self.input_layout),
                                 ("output", self.output_layout)):
                _check_requested(path, layout.names, role, ds.data_vars)
            group = zarr.open_group(path, mode="r")
            _check_pooled(zarr.open_group(self.store, mode="r"), group, self.store, path,
                          convention)
        ntime, ncol = group[names[0]].shape[:2]
        chosen = np.arange(ntime) if times is None else np.asarray(times, dtype=np.int64)
        if chosen.size and (chosen.min() < 0 or chosen.max() >= ntime):
            raise DatasetError(f"{path}: times must lie in [0, {ntime}), "
                               f"found {chosen.min()} to {chosen.max()}")
        if np.unique(chosen).size != chosen.size:
            raise DatasetError(f"{path}: times name a time index twice")
        return StorePart(path, ncol, chosen,
                         _surface_conversion(path, group, convention))

    @property
    def ncol(self) -> int:
        """Columns a time step of the first store."""
        return self.parts[0].ncol

    @property
    def times(self) -> np.ndarray:
        """The time indices used of the first store."""
        return self.parts[0].times

    @property
    def n_samples(self) -> int:
        """Samples an epoch: time steps x columns, over the stores."""
        return int(sum(part.times.size * part.ncol for part in self.parts))

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch's shuffle (call it before each epoch, as with DistributedSampler;
        DataLoader workers get a copy of the dataset when an epoch starts, so not with
        ``persistent_workers=True``)."""
        self.epoch = int(epoch)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        index, count = self._reader()
        rng = np.random.default_rng([self.seed, self.epoch, index]) if self.shuffle else None
        blocks = read_ahead(lambda group: self.read_times(group[1], group[0]),
                            [self.groups[g] for g in self.reader_groups(index, count)])
        for x, y in shuffled_batches(blocks, self.batch_size, self.buffer_size, rng):
            yield torch.from_numpy(x), torch.from_numpy(y)

    def reader_groups(self, index: int, count: int) -> np.ndarray:
        """Indices into ``groups`` that reader ``index`` of ``count`` reads this epoch, in
        reading order: the epoch's order of the groups (shuffled by (seed, epoch)) dealt
        round robin, so the readers' shares are disjoint and together cover the epoch."""
        order = np.arange(len(self.groups))
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(order)
        return order[index::count]

    def shard_samples(self, index: int | None = None) -> int:
        """Samples shard ``index`` (default: this process's) reads this epoch, all its
        DataLoader workers together."""
        own, count = self._shard()
        groups = self.reader_groups(own if index is None else index, count)
        return int(sum(self.groups[g][1].size * self.parts[self.groups[g][0]].ncol
                       for g in groups))

    def _shard(self) -> tuple[int, int]:
        """(index, count) of this process among the shards: ``shard``, else
        torch.distributed's (rank, world size) when initialized, else (0, 1)."""
        if self.shard is not None:
            return self.shard
        distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
        return ((torch.distributed.get_rank(), torch.distributed.get_world_size())
                if distributed else (0, 1))

    def _reader(self) -> tuple[int, int]:
        """(index, count) of this reader among all: shards times DataLoader workers."""
        shard = self._shard()
        worker = torch.utils.data.get_worker_info()
        wid, nworkers = (worker.id, worker.num_workers) if worker is not None else (0, 1)
        return shard[0] * nworkers + wid, shard[1] * nworkers

    def read_times(self, times: np.ndarray, part: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Normalized (n, n_in), (n, n_out) float32 arrays of the time indices ``times``
        of store ``part`` (0: the first), n = times.size x its ncol samples in time-major
        order: whole zarr chunks (one time step each) of every variable, all in one
        request."""
        store = self.parts[part]
        arrays = store.arrays(self.input_layout.names + self.output_layout.names)
        times = np.asarray(times, dtype=np.int64)
        data = _read(arrays, times)
        if store.converted is not None:
            _exclude_surface_fluxes(data, store.converted)
        return (_vectors(store, self.input_layout, data, times),
                _vectors(store, self.output_layout, data, times))


@dataclass
class StorePart:
    """One store of a ColumnDataset: its path, columns a time step, the time indices used
    and, when its targets are converted to the "excluded" convention, its interfaces
    (climnn.data.surface_convention); its zarr arrays are opened in the process that reads
    (each DataLoader worker)."""

    path: Path
    ncol: int
    times: np.ndarray
    converted: dict | None
    _arrays: dict | None = None

    def arrays(self, names: Sequence[str]) -> dict:
        """name -> zarr array of the variables ``names`` (and what a conversion reads)."""
        if self._arrays is None:
            group = zarr.open_group(self.path, mode="r")
            names = tuple(names)
            if self.converted is not None:
                names += tuple(n for n in ("SHF", "LHF", "PS") if n not in names)
            self._arrays = {name: group[name] for name in names}
        return self._arrays


def _stores_and_times(store, times) -> tuple[list[Path], list]:
    """ColumnDataset's ``store`` and ``times`` as lists of paths and of index arrays (or
    None), one a store; DatasetError when they do not pair up."""
    if isinstance(store, str | os.PathLike):
        return [Path(store)], [times]
    stores = [Path(s) for s in store]
    if not stores:
        raise DatasetError("ColumnDataset: no store given")
    if len({s.resolve() for s in stores}) != len(stores):
        raise DatasetError(f"ColumnDataset: a store is named twice in {[str(s) for s in stores]}")
    times = [None] * len(stores) if times is None else list(times)
    if len(times) != len(stores):
        raise DatasetError(f"ColumnDataset: {len(stores)} stores but {len(times)} sets of times")
    return stores, times


def _check_pooled(first, group, first_path: Path, path: Path, requested: str | None) -> None:
    """DatasetError unless the store ``group`` (at ``path``) can be pooled with the first
    (``first``): the same vertical interfaces (hyai, hybi, P0) and the same surface-flux
    convention of its targets after ``requested``'s conversion, so that one normalization
    and one set of budgets fit every sample."""
    from climnn.data.surface_convention import store_interfaces, training_convention

    theirs, ours = store_interfaces(group), store_interfaces(first)
    for name, a in ours.items():
        b = theirs[name]
        if np.shape(a) != np.shape(b) or not np.allclose(a, b, rtol=1e-6, atol=0.0):
            raise DatasetError(f"{path}: its {name} differs from that of {first_path}, the "
                               f"first store: stores pooled for training need the same levels")
    conventions = [training_convention(requested, g.attrs["surface_flux_convention"], where)
                   for g, where in ((first, first_path), (group, path))]
    if conventions[0] != conventions[1]:
        raise DatasetError(f"{path}: its targets are in the surface-flux convention "
                           f"{conventions[1]!r}, those of {first_path} (the first store) in "
                           f"{conventions[0]!r}; pool stores of one convention, or set "
                           f"data.surface_flux_convention: excluded")


def _surface_conversion(path: Path, group, requested: str | None) -> dict | None:
    """The store's interfaces when the targets are converted to the "excluded" convention
    (climnn.data.surface_convention), else None; DatasetError naming what the store
    lacks."""
    from climnn.data.surface_convention import (
        NEEDED,
        converts,
        store_interfaces,
        training_convention,
    )

    stored = group.attrs["surface_flux_convention"]
    training_convention(requested, stored, path)
    if not converts(requested, stored):
        return None
    missing = [n for n in NEEDED if n not in group]
    if missing:
        raise DatasetError(f"{path}: data.surface_flux_convention 'excluded' needs "
                           f"{list(NEEDED)} in the store; it lacks {missing}")
    return store_interfaces(group)


def _exclude_surface_fluxes(data: dict, interfaces: dict) -> None:
    """TPHYSTND and PHQ of ``data`` (as read) without the surface fluxes' share; left
    alone when a read failed (``_vectors`` names the failure)."""
    from climnn.data.surface_convention import exclude_surface_fluxes

    names = ("TPHYSTND", "PHQ", "SHF", "LHF", "PS")
    if any(n not in data or isinstance(data[n], Exception) for n in names):
        return
    for n in ("TPHYSTND", "PHQ"):
        data[n] = np.array(data[n], dtype=np.float64)
    exclude_surface_fluxes(data["TPHYSTND"], data["PHQ"], data["SHF"], data["LHF"],
                           data["PS"], **interfaces)


def _read(arrays: dict, times: np.ndarray) -> dict[str, np.ndarray | Exception]:
    """Every array at ``times``, (time, column[, lev]), or the error reading it. One
    request fetches and decodes the chunks of all variables concurrently: on zarr 3 a
    third of the CPU time of a request a variable (fewer round trips to its event loop)."""
    selection = (_time_selection(times),)

    async def gathered():
        return await asyncio.gather(*(array.async_array.get_orthogonal_selection(selection)
                                      for array in arrays.values()),
                                    return_exceptions=True)

    return dict(zip(arrays, zarr_sync(gathered()), strict=True))


def _vectors(store: StorePart, layout: VectorLayout, data: dict,
             times: np.ndarray) -> np.ndarray:
    """The normalized (times.size x ncol, layout.size) float32 vectors of ``data``; a
    failed read or a NaN/inf named by store, variable and index."""
    n = times.size * store.ncol
    values = np.empty((n, layout.size), dtype=np.float32)
    for name, where in layout.slices.items():
        if isinstance(data[name], Exception):  # codec or store error: name the chunk
            raise read_failure(store.path, str(store.path), [name],
                               data[name]) from data[name]
        _check_read(store.path, name, data[name], times)
        _normalize_into(values, where.start, data[name].reshape(n, -1),
                        layout.shift[where], layout.factor[where])
    return values


def read_ahead(read: Callable, requests: Sequence, depth: int = READ_AHEAD) -> Iterator:
    """``read(r)`` of every request in order, up to ``depth`` of them read ahead in a
    background thread while the caller works on the last one (zarr's decompression and
    numpy's arithmetic release the GIL, so reading overlaps shuffling and training). An
    error of a read is raised here when its turn comes."""
    pending: deque[Future] = deque()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="climnn-read") as pool:
        try:
            for request in requests:
                pending.append(pool.submit(read, request))
                if len(pending) > depth:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:  # the caller stopped early: do not read what nobody will use
            for future in pending:
                future.cancel()


@numba.njit(cache=True, nogil=True)
def _normalize_into(out, start, data, shift, factor):
    """out[:, start + j] = (data[:, j] - shift[j]) * factor[j] in float64, rounded to out's
    float32: VectorLayout.normalize's numbers in one pass, without the GIL.
    out (n, size) float32; data (n, k) of the store's dtype; shift, factor (k,) float64."""
    for i in range(data.shape[0]):
        for j in range(data.shape[1]):
            out[i, start + j] = (np.float64(data[i, j]) - shift[j]) * factor[j]


def _time_selection(times: np.ndarray) -> slice | np.ndarray:
    """``times`` as a slice when they are consecutive and increasing (zarr reads a slice of
    chunks about twice as fast as the same chunks by index), else as they are."""
    first = int(times[0]) if times.size else 0
    if np.array_equal(times, np.arange(first, first + times.size)):
        return slice(first, first + times.size)
    return times


def _check_read(store: Path, name: str, data: np.ndarray, times: np.ndarray) -> None:
    """Raise naming the first NaN/inf of ``data`` (time, column[, lev]) read at ``times``
    by its time index and column."""
    finite = np.isfinite(data)
    if finite.all():
        return
    t, column, *lev = np.argwhere(~finite)[0]
    at = f"time={int(times[t])}, column={int(column)}" + (f", lev={int(lev[0])}" if lev else "")
    raise DatasetError(f"{store}: variable {name!r} holds {data[(t, column, *lev)]} at index "
                       f"({at}); first non-finite value read")


def shuffled_batches(
    blocks: Iterable[tuple[np.ndarray, np.ndarray]],
    batch_size: int,
    buffer_size: int,
    rng: np.random.Generator | None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Batches of every row of ``blocks`` (pairs of arrays with equal row counts), once.

    rng None: in order. Else rows gather in a buffer until it holds ``buffer_size``; it is
    permuted and all but ``buffer_size // 2`` rows are yielded, the rest wait to mix with
    the next blocks (each row is copied about twice); at the end the remainder is permuted
    and yielded, the last batch possibly short.
    """
    pending: list[tuple[np.ndarray, np.ndarray]] = []
    count = 0
    fill = max(buffer_size, batch_size) if rng is not None else batch_size
    keep = buffer_size // 2 if rng is not None else 0
    for block in blocks:
        pending.append(block)
        count += len(block[0])
        if count < fill:
            continue
        x, y = _gathered(pending, rng)
        n_out = (count - keep) // batch_size * batch_size
        yield from _split(x[:n_out], y[:n_out], batch_size)
        pending, count = [(x[n_out:], y[n_out:])], count - n_out
    if count:
        x, y = _gathered(pending, rng)
        yield from _split(x, y, batch_size)


def _gathered(pending, rng) -> tuple[np.ndarray, np.ndarray]:
    """The rows of ``pending`` (pairs of arrays) concatenated, then permuted by
    ``rng.permutation`` unless rng is None. Permuted, each row is written straight to its
    place (row j of the concatenation to the position where the permutation takes it): one
    copy instead of a concatenation and a gather, the same arrays."""
    if rng is None:
        return tuple(np.concatenate([b[k] for b in pending]) for k in (0, 1))
    count = sum(len(b[0]) for b in pending)
    order = rng.permutation(count)
    place = np.empty_like(order)
    place[order] = np.arange(count)
    gathered = []
    for k in (0, 1):
        first = pending[0][k]
        out = np.empty((count, *first.shape[1:]), dtype=first.dtype)
        start = 0
        for block in pending:
            out[place[start:start + len(block[k])]] = block[k]
            start += len(block[k])
        gathered.append(out)
    return gathered[0], gathered[1]


def _split(x: np.ndarray, y: np.ndarray, batch_size: int):
    for start in range(0, len(x), batch_size):
        yield x[start:start + batch_size], y[start:start + batch_size]

