"""The linear response of an exported network on representative columns (Brenowitz et al.
2020, J. Atmos. Sci. 77, 4357–4375): the Jacobian of heating and moistening with respect
to the temperature and humidity profiles, by autograd, and its eigenvalues.

- :class:`DifferentiableModel`: an exported model (``climnn export``'s ``.pt`` or ``.pt2``)
  as a float32 function torch can differentiate. The shipped TorchScript files call
  oneDNN's fused linear layers (``mkldnn::_linear_pointwise``), which have no autograd
  formula (torch would silently return zero gradients), and a bfloat16 export casts to
  bfloat16 inside. So the file's own frozen graph is replayed node by node with each fused
  layer as its plain float32 definition (linear, then the post-op) and casts to a reduced
  precision left out: the gradient of the exported arithmetic, in float32. The replay is
  checked against the file's own outputs before it is used.
- :func:`representative_columns`: the area-weighted mean column of latitude bands of a
  store (both hemispheres), every model input (the ones held fixed too) over evenly spaced
  sample times.
- :func:`column_jacobian`: J = d(TPHYSTND K/s, PHQ kg/kg/s) / d(T K, Q kg/kg), (2n, 2n),
  top level first, blocks [[dT/dT, dT/dq], [dq/dT, dq/dq]]; the other inputs held fixed.
  In energy units (c_p T, L q in J/kg, so every block is 1/s) it is D J D⁻¹, D = diag(c_p,
  L): a similarity transform, so the eigenvalues are the same; the energy form is the one
  whose blocks are comparable (and the one plotted).
- Eigenvalues of J: the column's own linear response, x' ∝ exp(λ t); a positive real part
  is a mode the network amplifies in a column at rest (reported in 1/day, with the count
  of modes growing faster than the threshold).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from climnn.coupler.errors import CouplerError
from climnn.coupler.model_file import load_module, read_model_metadata, torch

#: The profiles the Jacobian is taken of, and with respect to.
HEATING, MOISTENING, TEMPERATURE, HUMIDITY = "TPHYSTND", "PHQ", "T", "Q"
#: |latitude| bands (degrees) whose mean columns are analysed.
BANDS = {"tropics": (0.0, 15.0), "subtropics": (15.0, 35.0), "midlatitudes": (35.0, 60.0),
         "polar": (60.0, 90.0)}
#: Replay outputs may differ from the file's by this much of each output variable's largest
#: size over its levels and the columns (float32: round-off of a sum's order, 7e-6 on the
#: shipped file; bfloat16: the replay keeps the layers' activations in float32 where the
#: file rounds them to 8 bits, 0.07 on the shipped file, as far as its float32 twin is).
REPLAY_TOLERANCE = {"float32": 1e-4, "bfloat16": 0.15}
#: Reduced-precision dtypes (TorchScript ScalarType codes) a replay keeps in float32.
REDUCED = {5: "float16", 15: "bfloat16"}
#: Graph nodes that only build or take apart lists and tuples.
STRUCTURAL = ("prim::ListConstruct", "prim::TupleConstruct", "prim::ListUnpack",
              "prim::TupleUnpack")


class StabilityError(ValueError):
    """A model or store the analysis cannot use; the message names the file and why."""


# --------------------------------------------------------------------------- the model


class DifferentiableModel:
    """An exported model file as a differentiable float32 function (module docstring).

    path : the ``.pt`` (TorchScript) or ``.pt2`` file; metadata : its metadata dict;
    module : what torch loads (used to check the replay); call(x) : (batch, n_in) float32
    -> (batch, n_out) float32, differentiable.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self.metadata = read_model_metadata(self.path)
            self.module = load_module(self.path, torch.device("cpu"))
        except CouplerError as err:
            raise StabilityError(str(err)) from None
        self.precision = self.metadata.get("precision", "float32")
        scripted = isinstance(self.module, torch.jit.ScriptModule)
        self.call = _replay(self.module.graph, self.path) if scripted else self.module

    def check(self, x: torch.Tensor) -> float:
        """The largest difference of replay and file on ``x`` (batch, n_in), relative to
        the largest size of each output variable (over its levels and the batch);
        StabilityError beyond REPLAY_TOLERANCE."""
        with torch.no_grad():
            ours, theirs = self.call(x).double(), self.module(x).double()
        worst = 0.0
        for v in self.metadata["outputs"]:  # each variable against its own largest size
            part = slice(v["start"], v["stop"])
            scale = max(float(theirs[:, part].abs().max()), torch.finfo(torch.float32).tiny)
            worst = max(worst, float((ours[:, part] - theirs[:, part]).abs().max()) / scale)
        tolerance = REPLAY_TOLERANCE.get(self.precision, REPLAY_TOLERANCE["bfloat16"])
        if not worst <= tolerance:
            raise StabilityError(f"{self.path}: the float32 replay of the model differs from "
                                 f"the file's outputs by {worst:.3g} of an output's size "
                                 f"(tolerance {tolerance}); cannot differentiate it")
        return worst


def _replay(graph, path: Path):
    """A function running TorchScript ``graph`` (frozen: constants inlined) node by node in
    float32 with autograd-capable ops (module docstring)."""
    nodes = list(graph.nodes())
    inputs = list(graph.inputs())[1:]  # [0] is the module itself
    for node in nodes:
        kind = node.kind()
        known = kind in ("prim::Constant", "aten::append", "mkldnn::_linear_pointwise",
                         *STRUCTURAL)
        if not known and not (kind.startswith("aten::") and node.outputsSize() == 1):
            raise StabilityError(f"{path}: the model's graph has a {kind} node, which the "
                                 f"stability analysis cannot replay")

    def run(*args):
        values = {v.unique(): a for v, a in zip(inputs, args, strict=True)}
        for node in nodes:
            _run_node(node, values)
        (out,) = list(graph.outputs())
        return values[out.unique()]

    return run


def _run_node(node, values: dict) -> None:
    kind = node.kind()
    outputs = list(node.outputs())
    if kind == "prim::Constant":
        values[outputs[0].unique()] = outputs[0].toIValue()
        return
    args = [values[v.unique()] for v in node.inputs()]
    if kind in ("prim::ListConstruct", "prim::TupleConstruct"):
        result = list(args) if kind == "prim::ListConstruct" else tuple(args)
    elif kind in ("prim::ListUnpack", "prim::TupleUnpack"):
        for value, item in zip(outputs, args[0], strict=True):
            values[value.unique()] = item
        return
    elif kind == "aten::append":
        args[0].append(args[1])
        result = args[0]
    elif kind == "mkldnn::_linear_pointwise":
        result = _linear_pointwise(*args)
    elif kind == "aten::to" and len(args) > 1 and args[1] in REDUCED:
        result = args[0].float()  # the float32 replay keeps reduced-precision layers in float32
    else:
        result = _aten(node, args)
    values[outputs[0].unique()] = result


def _aten(node, args: list):
    """Call the aten overload of ``node``'s schema with ``args`` (its keyword-only
    arguments by name)."""
    schema = torch._C.parse_schema(node.schema())
    op = getattr(getattr(torch.ops.aten, schema.name.removeprefix("aten::")),
                 schema.overload_name or "default")
    positional = [a for a, s in zip(args, schema.arguments, strict=True) if not s.kwarg_only]
    named = {s.name: a for a, s in zip(args, schema.arguments, strict=True) if s.kwarg_only}
    return op(*positional, **named)


def _linear_pointwise(x, weight, bias, name: str, scalars, algorithm: str):
    """oneDNN's fused linear + post-op (climnn.export.fused) in differentiable float32."""
    y = torch.nn.functional.linear(x.float(), weight.float(),
                                   None if bias is None else bias.float())
    if name == "none":
        return y
    if name == "leaky_relu":
        return torch.nn.functional.leaky_relu(y, float(scalars[0]))
    if name == "gelu":
        return torch.nn.functional.gelu(y, approximate=algorithm or "none")
    if name in ("relu", "tanh"):
        return getattr(torch, name)(y)
    raise StabilityError(f"fused post-op {name!r} has no float32 replay")


# --------------------------------------------------------------------------- the columns


@dataclass(frozen=True)
class Column:
    """A representative column: name (its band), the model's input vector x (n_in,)
    float64 SI, full-level pressure p (n,) Pa, the lid and surface pressures (Pa)."""

    name: str
    x: np.ndarray
    p: np.ndarray
    p_top: float
    p_surface: float


def slot(meta: dict, side: str, name: str, path) -> slice:
    """The slice of variable ``name`` in the model's ``side`` ("inputs" | "outputs")
    vector; StabilityError naming the file when the model lacks it."""
    for v in meta[side]:
        if v["name"] == name:
            return slice(v["start"], v["stop"])
    names = [v["name"] for v in meta[side]]
    raise StabilityError(f"{path}: the model has no {side[:-1]} {name} (it has {names}); "
                         f"the stability analysis needs inputs T, Q and outputs "
                         f"TPHYSTND, PHQ")


def representative_columns(ds, meta: dict, times: int = 16) -> list[Column]:
    """The area-weighted mean column of each of BANDS in the store ``ds`` (xarray, schema
    v1) over ``times`` evenly spaced samples: every model input, and the pressures from the
    store's hybrid coefficients and the mean surface pressure. Bands without columns are
    left out."""
    picked = np.unique(np.linspace(0, ds.sizes["time"] - 1, times).round().astype(int))
    lat = np.abs(ds["lat"].values)
    area = ds["area"].values if "area" in ds else np.ones(lat.size)
    names = [v["name"] for v in meta["inputs"]]
    fields = {n: ds[n].isel(time=picked).values for n in {*names, "PS"}}
    columns = []
    for band, (low, high) in BANDS.items():
        inside = (lat >= low) & ((lat < high) | (high >= 90.0))
        if not inside.any():
            continue
        w = area[inside] / area[inside].sum()
        mean = {n: np.tensordot(w, f[:, inside].mean(0), axes=(0, 0)) for n, f in fields.items()}
        x = np.concatenate([np.atleast_1d(mean[n]) for n in names])
        ps = float(mean["PS"])
        interfaces = ds["hyai"].values * float(ds["P0"]) + ds["hybi"].values * ps
        p = 0.5 * (interfaces[1:] + interfaces[:-1])
        columns.append(Column(band, x, p, float(interfaces[0]), float(interfaces[-1])))
    return columns


# --------------------------------------------------------------------------- the Jacobian


@dataclass(frozen=True)
class ColumnJacobian:
    """matrix (2n, 2n): d(heating K/s, moistening kg/kg/s) / d(T K, q kg/kg); energy
    (2n, 2n): the same in c_p T, L q units (1/s); eigenvalues (2n,) complex 1/s."""

    matrix: np.ndarray
    energy: np.ndarray
    eigenvalues: np.ndarray

    def growing(self, threshold_per_day: float) -> int:
        """Number of eigenvalues growing faster than ``threshold_per_day``."""
        return int(np.sum(self.eigenvalues.real * 86400.0 > threshold_per_day))

    @property
    def largest_per_day(self) -> float:
        return float(self.eigenvalues.real.max() * 86400.0)

    @property
    def zigzag_per_day(self) -> tuple[np.ndarray, np.ndarray]:
        """(n,), (n,) 1/day: the growth rate of a 2-Δσ bump b_k = e_k - (e_{k-1} +
        e_{k+1}) / 2 at each level k in T and in q under the heating's and the moistening's
        linear response, b·J b / b·b (the numbers ``loss.zigzag_weight`` penalizes,
        climnn.training.vertical_modes)."""
        from climnn.training.vertical_modes import bumps

        n = len(self.matrix) // 2
        b = bumps(np.ones(n, dtype=bool))
        rates = []
        for block in (self.matrix[:n, :n], self.matrix[n:, n:]):
            rates.append(np.einsum("ki,ij,kj->k", b, block, b) / (b * b).sum(1) * 86400.0)
        return rates[0], rates[1]


def column_jacobian(model: DifferentiableModel, x: np.ndarray) -> ColumnJacobian:
    """The Jacobian of ``model`` at the input vector ``x`` (n_in,) (module docstring), by
    torch.autograd in float32; eigenvalues in float64."""
    from gcm.constants import CP, LV

    meta, path = model.metadata, model.path
    outs = [slot(meta, "outputs", n, path) for n in (HEATING, MOISTENING)]
    ins = [slot(meta, "inputs", n, path) for n in (TEMPERATURE, HUMIDITY)]
    point = torch.tensor(x[None, :], dtype=torch.float32)
    full = torch.autograd.functional.jacobian(lambda z: model.call(z)[0], point)[:, 0, :]
    full = full.double().numpy()
    matrix = np.block([[full[o, i] for i in ins] for o in outs])
    n = outs[0].stop - outs[0].start
    scale = np.concatenate([np.full(n, CP), np.full(n, LV)])
    energy = scale[:, None] * matrix / scale[None, :]
    return ColumnJacobian(matrix, energy, np.linalg.eigvals(matrix))


# --------------------------------------------------------------------------- a drier boundary layer

#: The boundary-layer humidity response: the levels whose σ (p / p_surface) exceeds this
#: have their q scaled by each factor (boundary_layer_moistening says what else changes).
BOUNDARY_LAYER_SIGMA = 0.85
HUMIDITY_FACTORS = (1.0, 0.8, 0.6, 0.4, 0.2)
#: The factor the drying feedback compares with 1 (DRYING_FACTOR q against q).
DRYING_FACTOR = 0.4


def boundary_layer_moistening(model: DifferentiableModel, column: Column) -> np.ndarray:
    """The network's mean moistening (g kg-1 day-1, PHQ averaged over the boundary-layer
    levels, σ > BOUNDARY_LAYER_SIGMA) of ``column`` with those levels' q scaled by each of
    HUMIDITY_FACTORS: (len(HUMIDITY_FACTORS),).

    A finite-amplitude check the Jacobian at the mean column misses: a network that dries
    a drier boundary layer harder (moistening falling as q falls) runs away online (the SP
    hybrids, README "A network trained on SP data"), while the teacher's network moistens
    it back. A network that takes the host's evaporation (input LHFLX, with SST and PS)
    gets the bulk formula's answer to the drier lowest level, LHFLX scaled by
    (q_s(SST) - f q) / (q_s(SST) - q); the other inputs are held."""
    meta, path = model.metadata, model.path
    q = slot(meta, "inputs", HUMIDITY, path)
    phq = slot(meta, "outputs", MOISTENING, path)
    low = np.flatnonzero(column.p / column.p_surface > BOUNDARY_LAYER_SIGMA)
    factors = np.asarray(HUMIDITY_FACTORS)
    batch = np.repeat(column.x[None, :], len(HUMIDITY_FACTORS), axis=0)
    batch[:, q.start + low] *= factors[:, None]
    evaporation = _evaporation_factors(meta, column, q.stop - 1, factors)
    if evaporation is not None:
        batch[:, slot(meta, "inputs", "LHFLX", path).start] *= evaporation
    with torch.no_grad():
        y = model.module(torch.tensor(batch, dtype=torch.float32)).double().numpy()
    return y[:, phq.start + low].mean(axis=1) * 86400.0 * 1e3


def _evaporation_factors(meta: dict, column: Column, lowest: int,
                         factors: np.ndarray) -> np.ndarray | None:
    """(q_s(SST, PS) - f q_N) / (q_s - q_N) for each factor f, q_N the column's lowest
    level's humidity (index ``lowest`` of x); None unless the model takes LHFLX, SST and
    PS, or where the sea is not moister than the air."""
    from gcm.physics.saturation import saturation_specific_humidity

    names = {v["name"]: v["start"] for v in meta["inputs"]}
    if not {"LHFLX", "SST", "PS"} <= names.keys():
        return None
    x = column.x
    surface = saturation_specific_humidity(x[names["SST"]], x[names["PS"]])
    if not surface > x[lowest]:
        return None
    return (surface - factors * x[lowest]) / (surface - x[lowest])


def drying_feedback(moistening: np.ndarray) -> float:
    """Moistening at DRYING_FACTOR q less at q (g kg-1 day-1): < 0 when a drier boundary
    layer is dried harder."""
    return float(moistening[HUMIDITY_FACTORS.index(DRYING_FACTOR)]
                 - moistening[HUMIDITY_FACTORS.index(1.0)])
