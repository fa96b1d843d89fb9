"""``climnn evaluate DIR --data STORE [--out OUTDIR] [--checkpoint best|last]``: the offline
skill of a trained network on the test period of its split (the seed paper's figures).

DIR is a ``climnn train`` directory: ``train.json`` gives the configuration (with the split)
and both vector layouts, ``best.pt`` or ``checkpoint.pt`` the weights. Only the test period
of STORE is read, a few time steps at a time (whole zarr chunks), and every statistic is a
float64 running sum (``climnn.diagnostics.offline_skill``), so a store of millions of
samples is never held at once. Inputs are normalized with the training's layouts (not
STORE's statistics), so that any store of the same variables and levels can be evaluated.

Metrics, in the store's units (``metrics.json``): R² and RMSE of every output (pooled over
its levels: 1 - sum SSE / sum SST, SST about each level's mean) and of every level with the
level's mean pressure; the mean error (bias, prediction - truth) of every level, its mean
over the levels and the level's of largest size (``largest_bias``: a network fitted to the
median of skewed targets, loss.kind mae, is biased where the mean and median part);
column-integrated heating sum cp TPHYSTND dp/g and moistening sum Lv PHQ dp/g (W m-2); R²
by latitude of the surface outputs and the two integrals; the column energy (W m-2) and
water (kg m-2 s-1) budget residuals (``climnn.models.budgets``) of the network's outputs,
and of the store's true outputs as a sanity figure (round-off for a teacher store). Budget
terms the network does not predict are taken from the store.

This module runs the network and reads the store; the statistics live in
``climnn.diagnostics.offline_skill`` and the figures in ``climnn.diagnostics.skill_plots``,
which know nothing of how the predictions were made.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr
import zarr

from climnn.data.loader import VectorLayout, _check_read
from climnn.data.schema import DatasetError, validate_store
from climnn.data.surface_convention import converts, exclude_surface_fluxes, store_interfaces
from climnn.diagnostics.offline_skill import Moments, Residuals, json_ready, latitude_groups
from climnn.extras import import_torch
from climnn.models import build_model
from climnn.models.budgets import (
    budget_residuals,
    budget_variables,
    column_geometry,
    column_integral,
    layer_thickness,
    thickness_coefficients,
)
from climnn.training.config import TrainConfig, train_config_from_dict
from climnn.training.split import split_times
from climnn.training.trainer import BEST, CHECKPOINT, RECORD
from gcm.constants import CP, LV
from gcm.io.atomic import write_json

torch = import_torch("climnn.training (evaluation)")

METRICS_FILE = "metrics.json"
CHECKPOINTS = {"best": BEST, "last": CHECKPOINT}
READ_SAMPLES = 8192  # samples a read asks for (whole time steps): memory only, not results
#: Column integrals: name -> (output, factor): W m-2 = factor x sum_k output dp_k / g.
INTEGRALS = {"heating": ("TPHYSTND", CP), "moistening": ("PHQ", LV)}


@dataclass
class Trained:
    """A finished ``climnn train`` directory: its record, configuration, layouts, weights."""

    directory: Path
    config: TrainConfig
    inputs: VectorLayout
    outputs: VectorLayout
    weights: Path
    store: str  # the store it was trained on


def load_training(directory: str | Path, checkpoint: str = "best") -> Trained:
    """Read DIR's ``train.json`` and find its weights; FileNotFoundError names what is
    missing."""
    directory = Path(directory)
    record_path = directory / RECORD
    if checkpoint not in CHECKPOINTS:
        raise ValueError(f"--checkpoint {checkpoint!r}: allowed: one of {list(CHECKPOINTS)}")
    if not record_path.is_file():
        raise FileNotFoundError(f"{directory}: no {RECORD}: not a `climnn train` directory")
    weights = directory / CHECKPOINTS[checkpoint]
    if not weights.is_file():
        raise FileNotFoundError(f"{directory}: no trained model ({weights.name} not found; "
                                f"a training writes it when its first epoch ends)")
    record = json.loads(record_path.read_text())
    config = train_config_from_dict(record["config"], str(record_path))
    inputs, outputs = (_layout(record[key]) for key in ("input_layout", "output_layout"))
    return Trained(directory, config, inputs, outputs, weights, record["store"])


def _layout(meta: dict) -> VectorLayout:
    return VectorLayout(tuple(meta["names"]), tuple(meta["levels"]), tuple(meta["units"]),
                        np.asarray(meta["shift"], dtype=np.float64),
                        np.asarray(meta["factor"], dtype=np.float64))


def check_store(trained: Trained, store: Path) -> xr.Dataset:
    """The store, opened, if it has the training's variables and levels; DatasetError
    naming the store and what differs otherwise."""
    ds = validate_store(store, check_values=False)
    where = f"the training in {trained.directory / RECORD}"
    names = trained.inputs.names + trained.outputs.names
    missing = [n for n in names if n not in ds.data_vars]
    if missing:
        raise DatasetError(f"{store}: lacks {missing}, variables of {where}")
    nlev = max(trained.inputs.levels + trained.outputs.levels)
    if nlev > 1 and ds.sizes["lev"] != nlev:
        raise DatasetError(f"{store}: profiles have {ds.sizes['lev']} levels, {where} has "
                           f"{nlev}")
    _check_levels(trained, store, ds)
    return ds


def _check_levels(trained: Trained, store: Path, ds: xr.Dataset) -> None:
    """Same number of levels but other coefficients: refused when the training's store can
    still be read (train.json keeps its path)."""
    try:
        before = xr.open_zarr(trained.store, consolidated=False)
    except Exception:  # moved or deleted: the level count was checked, that is what is left
        return
    for name in ("hyai", "hybi"):
        if not np.allclose(before[name].values, ds[name].values, rtol=1e-6, atol=1e-9):
            raise DatasetError(f"{store}: its levels ({name}) differ from those of "
                               f"{trained.store}, the store of the training in "
                               f"{trained.directory / RECORD}")


def test_period(trained: Trained, ds: xr.Dataset, store: Path) -> np.ndarray:
    """Time indices of the split's test period in ``store``; ValueError when it has none."""
    source = f"{trained.directory / RECORD}"
    times = ds["time"].values
    return split_times(trained.config.split, times, source, required=("test",))["test"]


def load_model(trained: Trained, store: Path, device):
    """The network of the training with its weights, in eval mode on ``device``."""
    model = build_model(trained.config.model, trained.inputs, trained.outputs,
                        column_geometry(store, trained.config.data.surface_flux_convention))
    checkpoint = torch.load(trained.weights, map_location="cpu", weights_only=False)
    try:
        model.load_state_dict(checkpoint["model"])
    except RuntimeError as err:
        raise ValueError(f"{trained.weights}: weights of another architecture than "
                         f"{trained.directory / RECORD} describes: "
                         f"{str(err).splitlines()[0]}") from None
    epoch = checkpoint.get("epoch", checkpoint.get("state", {}).get("epoch"))
    return model.to(device).eval(), epoch


class Accumulators:
    """Every running sum of an evaluation, fed one block of samples at a time."""

    def __init__(self, outputs: VectorLayout, geometry: dict, lat: np.ndarray,
                 truth_names: tuple[str, ...]):
        self.outputs, self.geometry = outputs, geometry
        self.group, self.lats = latitude_groups(lat)
        self.surface = [n for n, k in zip(outputs.names, outputs.levels, strict=True) if k == 1]
        self.integrals = [n for n, (var, _) in INTEGRALS.items() if var in outputs.names]
        self.by_latitude = self.surface + self.integrals
        self.all = Moments(outputs.size)
        self.columns = Moments(len(self.integrals))
        self.latitude = Moments(len(self.by_latitude), len(self.lats))
        self.ps_total, self.count = 0.0, 0
        self.budget_names = budget_variables(geometry["convention"])
        self.missing = [n for n in self.budget_names if n not in truth_names]
        self.residuals = {(who, kind): Residuals() for who in ("network", "store")
                          for kind in ("energy", "water")}
        dhyai, dhybi = thickness_coefficients(geometry)
        self.dhyai, self.dhybi = torch.tensor(dhyai), torch.tensor(dhybi)

    def add(self, truth: dict, predicted: np.ndarray, ps: np.ndarray, times: np.ndarray,
            ncol: int) -> None:
        """truth: name -> (n, k) float64 of the outputs and budget terms; predicted (n, n_out)
        physical float64; ps (n,) Pa; ``times`` the block's time indices (n = times x ncol)."""
        truth_vector = np.concatenate([truth[n] for n in self.outputs.names], axis=1)
        group = np.tile(self.group, times.size)
        self.all.add(truth_vector, predicted)
        self.ps_total += float(ps.sum())
        self.count += ps.size
        dp = layer_thickness(torch.from_numpy(ps), self.dhyai, self.dhybi)
        slices = self.outputs.slices
        guess = {n: predicted[:, slices[n]] for n in self.outputs.names}
        pairs = {n: (truth[n], guess[n]) for n in self.surface}
        for name in self.integrals:
            var, factor = INTEGRALS[name]
            pairs[name] = tuple(factor * column_integral(torch.from_numpy(v), dp).numpy()
                                for v in (truth[var], guess[var]))
        if self.by_latitude:
            stacked = [np.column_stack([pairs[n][i] for n in self.by_latitude]) for i in (0, 1)]
            self.latitude.add(*stacked, group)
            if self.integrals:
                self.columns.add(*(s[:, len(self.surface):] for s in stacked))
        if not self.missing:
            labels = np.column_stack([np.repeat(times, ncol), np.tile(np.arange(ncol),
                                                                      times.size)])
            self._add_budgets(truth, guess, dp, labels)

    def _add_budgets(self, truth: dict, guess: dict, dp, labels: np.ndarray) -> None:
        included = self.geometry["convention"] == "included"
        for who, values in (("store", truth), ("network", {**truth, **guess})):
            fields = {n: torch.from_numpy(values[n]) for n in self.budget_names}
            energy, water = budget_residuals(fields, dp, included)
            self.residuals[(who, "energy")].add(energy.numpy(), labels)
            self.residuals[(who, "water")].add(water.numpy(), labels)


def evaluate(train_dir: str | Path, store: str | Path, out: str | Path | None = None,
             checkpoint: str = "best", *, write: bool = True) -> dict:
    """Evaluate the network of ``train_dir`` on the test period of ``store``.

    out : directory for metrics.json and the plots (default DIR/evaluation)
    checkpoint : "best" (best.pt) or "last" (checkpoint.pt)
    write : False returns the metrics without writing anything
    Returns the metrics (as in metrics.json; R² of constant entries None). Raises
    FileNotFoundError, DatasetError, ConfigError or ValueError naming the file and what is
    wrong before anything is written.
    """
    from climnn.threads import match_torch_threads

    try:
        match_torch_threads()
    except RuntimeError:
        pass  # torch's inter-op pool already runs: only speed differs
    store = Path(store)
    trained = load_training(train_dir, checkpoint)
    out = Path(out) if out is not None else trained.directory / "evaluation"
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"--out {out}: is a file; expected a directory")
    ds = check_store(trained, store)
    times = test_period(trained, ds, store)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model, epoch = load_model(trained, store, device)
    geometry = column_geometry(store, trained.config.data.surface_flux_convention)
    acc = Accumulators(trained.outputs, geometry, ds["lat"].values, tuple(ds.data_vars))
    _stream(trained, store, model, device, times, acc)
    metrics = _metrics(trained, store, ds, times, acc, checkpoint, epoch)
    if write:
        from climnn.diagnostics.skill_plots import write_plots

        out.mkdir(parents=True, exist_ok=True)
        metrics["plots"] = write_plots(metrics, out)
        write_json(out / METRICS_FILE, metrics)
    return metrics


def _stream(trained: Trained, store: Path, model, device, times: np.ndarray,
            acc: Accumulators) -> None:
    """Run the model over the test times, a few whole time steps a read."""
    group = zarr.open_group(store, mode="r")
    ncol = group["PS"].shape[1]
    wanted = set(trained.inputs.names + trained.outputs.names + ("PS",))
    wanted |= {n for n in acc.budget_names if n in group}
    converted = _surface_conversion(trained, group)
    if converted is not None:
        wanted |= {"SHF", "LHF"}
    arrays = {name: group[name] for name in sorted(wanted)}
    steps = max(1, READ_SAMPLES // ncol)
    for start in range(0, times.size, steps):
        block = times[start:start + steps]
        raw = {name: _read(store, arrays[name], name, block) for name in arrays}
        if converted is not None and {"TPHYSTND", "PHQ"} <= set(raw):
            exclude_surface_fluxes(raw["TPHYSTND"], raw["PHQ"], raw["SHF"][:, 0],
                                   raw["LHF"][:, 0], raw["PS"][:, 0], **converted)
        x = trained.inputs.normalize(np.concatenate(
            [raw[n] for n in trained.inputs.names], axis=1)).astype(np.float32)
        with torch.no_grad():
            y = model(torch.from_numpy(x).to(device)).cpu().numpy()
        acc.add(raw, trained.outputs.denormalize(y), raw["PS"][:, 0], block, ncol)


def _surface_conversion(trained: Trained, group) -> dict | None:
    """The store's interfaces when the training took the surface fluxes' share out of the
    targets (data.surface_flux_convention 'excluded' of an 'included' store): the truth is
    converted the same way, so that skill and budgets are the network's own."""
    stored = group.attrs["surface_flux_convention"]
    if not converts(trained.config.data.surface_flux_convention, stored):
        return None
    return store_interfaces(group)


def _read(store: Path, array, name: str, times: np.ndarray) -> np.ndarray:
    """(times x ncol, k) float64 values of one variable at the time indices ``times``."""
    data = array.get_orthogonal_selection((times,))
    _check_read(store, name, data, times)
    return np.asarray(data, dtype=np.float64).reshape(times.size * data.shape[1], -1)


def _variable_scale(moments: Moments, layout: VectorLayout) -> np.ndarray:
    """(size,) each output entry's variable's root mean square over all its levels: a level
    whose truth varies by less than FLAT of this (the moistening far above the clouds) has
    no R²."""
    power = moments.power()[0]
    scale = np.empty(layout.size)
    for where in layout.slices.values():
        scale[where] = np.sqrt(power[where].mean() / max(float(moments.count[0, 0]), 1.0))
    return scale


def _metrics(trained: Trained, store: Path, ds: xr.Dataset, times: np.ndarray,
             acc: Accumulators, checkpoint: str, epoch) -> dict:
    """The metrics dict of metrics.json (JSON-ready: NaN -> None)."""
    layout = trained.outputs
    ps_mean = acc.ps_total / acc.count
    pressure = ds["hyam"].values * float(ds["P0"]) + ds["hybm"].values * ps_mean
    r2, rmse = acc.all.r2(scale=_variable_scale(acc.all, layout))[0], acc.all.rmse()[0]
    bias = acc.all.bias()[0]
    variables = {}
    for name, units, where in zip(layout.names, layout.units, layout.slices.values(),
                                  strict=True):
        entry = {"units": units, "r2": acc.all.r2(where)[0], "rmse": acc.all.rmse(where)[0],
                 "bias": acc.all.bias(where)[0],
                 "largest_bias": float(bias[where][np.argmax(np.abs(bias[where]))])}
        if where.stop - where.start > 1:
            entry["levels"] = {"r2": r2[where], "rmse": rmse[where], "bias": bias[where]}
        variables[name] = entry
    stamps = ds["time"].values
    columns = {name: {"units": "W m-2", "r2": acc.columns.r2()[0][i],
                      "rmse": acc.columns.rmse()[0][i]} for i, name in enumerate(acc.integrals)}
    # a band is judged against the quantity's size over all latitudes (polar night's FSNT)
    everywhere = np.sqrt(acc.latitude.power().sum(0) / max(acc.count, 1))
    by_band = acc.latitude.r2(scale=everywhere)
    latitude = {"lat": acc.lats, "r2": {name: by_band[:, i]
                                        for i, name in enumerate(acc.by_latitude)}}
    metrics = {
        "train_dir": str(trained.directory), "store": str(store), "checkpoint": checkpoint,
        "epoch": epoch, "model": trained.config.model.kind,
        "test": {"n_times": int(times.size), "n_samples": acc.count,
                 "time_indices": [int(times[0]), int(times[-1])],
                 "time_range": [str(stamps[times[0]]), str(stamps[times[-1]])]},
        "mean_ps_pa": ps_mean, "level_pressure_pa": pressure,
        "variables": variables, "column_integrals": columns, "latitude": latitude,
        "budgets": _budgets(acc, ds, stamps, trained.outputs.names),
    }
    return json_ready(metrics)


def _budgets(acc: Accumulators, ds: xr.Dataset, stamps, predicted: tuple) -> dict:
    convention = acc.geometry["convention"]
    if acc.missing:
        return {"convention": convention, "missing": acc.missing,
                "note": "the store lacks these budget terms: no residuals"}
    lat, lon = ds["lat"].values, ds["lon"].values
    result = {"convention": convention,
              "from_store": [n for n in acc.budget_names if n not in predicted],
              "units": {"energy": "W m-2", "water": "kg m-2 s-1"}}
    for who in ("network", "store"):
        result[who] = {}
        for kind in ("energy", "water"):
            summary = acc.residuals[(who, kind)].summary()
            t, c = (int(v) for v in summary.pop("max_at"))
            summary["max_at"] = {"time_index": t, "time": str(stamps[t]), "column": c,
                                 "lat": float(lat[c]), "lon": float(lon[c])}
            result[who][kind] = summary
    return result


def command_evaluate(args) -> int:
    metrics = evaluate(args.directory, args.data, args.out, args.checkpoint)
    out = args.out or args.directory / "evaluation"
    print(summary_table(metrics))
    print(f"{out / METRICS_FILE} and {len(metrics['plots'])} plots written")
    return 0


def summary_table(metrics: dict) -> str:
    """A readable table of the headline figures."""

    def number(value, spec):  # spec: width.precision + type; '-' in the same width
        return format("-", f">{spec.split('.')[0]}") if value is None else format(value, spec)

    test = metrics["test"]
    lines = [f"{metrics['train_dir']} ({metrics['model']}, {metrics['checkpoint']} weights, "
             f"epoch {metrics['epoch']}) on {metrics['store']}",
             f"test period: {test['time_range'][0]} to {test['time_range'][1]}, "
             f"{test['n_times']} steps, {test['n_samples']} samples", "",
             f"{'output':<22}{'R2':>9}{'RMSE':>13}{'worst bias':>13}  units"]
    rows = [(n, v) for n, v in metrics["variables"].items()]
    rows += [(f"column {n}", v) for n, v in metrics["column_integrals"].items()]
    for name, entry in rows:
        lines.append(f"{name:<22}{number(entry['r2'], '9.4f')}"
                     f"{number(entry['rmse'], '13.4g')}"
                     f"{number(entry.get('largest_bias'), '13.4g')}  {entry['units']}")
    budgets = metrics["budgets"]
    if "missing" in budgets:
        lines.append(f"\nbudgets: not computed, the store lacks {budgets['missing']}")
        return "\n".join(lines)
    lines += ["", f"{'budget residual':<22}{'mean':>12}{'mean |r|':>12}{'max |r|':>12}  units"]
    for who in ("network", "store"):
        for kind in ("energy", "water"):
            r = budgets[who][kind]
            lines.append(f"{who + ' ' + kind:<22}{number(r['mean'], '12.4g')}"
                         f"{number(r['mean_abs'], '12.4g')}{number(r['max_abs'], '12.4g')}"
                         f"  {budgets['units'][kind]}")
    if budgets["from_store"]:
        lines.append(f"(network budgets take {budgets['from_store']} from the store)")
    return "\n".join(lines)
