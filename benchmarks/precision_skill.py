"""R² of two exported files of one network (e.g. float32 and bfloat16) on the same samples:
the check that reduced-precision inference keeps the skill (issue 12: within 0.01).

    python benchmarks/precision_skill.py STORE FIRST.pt SECOND.pt --from-day 140

Reads the store's time steps from day FROM_DAY (days since its first time) on, four at a
time; prints one JSON object: R² per output (pooled over levels, SST about each level's
mean) of each file and their differences.
"""

import argparse
import json

import numpy as np
import torch
import xarray as xr

from climnn.export import read_metadata


def stacked(ds, specs, times) -> np.ndarray:
    """(samples, sum of levels) float64 of the variables ``specs`` (metadata order)."""
    return np.concatenate([ds[s["name"]].isel(time=times).values.astype(np.float64)
                           .reshape(-1, s["levels"]) for s in specs], 1)


def pooled_r2(sums, specs) -> dict:
    sse, total, squares, n = sums
    sst = squares - total ** 2 / n
    r2 = {}
    for s in specs:
        part = slice(s["start"], s["stop"])
        varies = sst[part] > 0
        r2[s["name"]] = float(1 - sse[part][varies].sum() / sst[part][varies].sum())
    return r2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store")
    parser.add_argument("models", nargs=2)
    parser.add_argument("--from-day", type=float, required=True)
    args = parser.parse_args()
    torch.set_num_threads(2)
    meta = read_metadata(args.models[0])
    ds = xr.open_zarr(args.store, consolidated=False)
    elapsed = (ds.time.values - ds.time.values[0]) / np.timedelta64(1, "D") \
        if np.issubdtype(ds.time.dtype, np.datetime64) else \
        np.array([(t - ds.time.values[0]).total_seconds() / 86400 for t in ds.time.values])
    times = np.nonzero(elapsed >= args.from_day - 1e-6)[0]
    modules = [torch.jit.load(path) for path in args.models]
    sums = [[0.0, 0.0, 0.0, 0] for _ in modules]
    for k in range(0, len(times), 4):
        chunk = times[k:k + 4]
        x = torch.from_numpy(stacked(ds, meta["inputs"], chunk).astype(np.float32))
        y = stacked(ds, meta["outputs"], chunk)
        for module, s in zip(modules, sums, strict=True):
            with torch.inference_mode():
                predicted = module(x).double().numpy()
            s[0] += ((y - predicted) ** 2).sum(0)
            s[1] += y.sum(0)
            s[2] += (y ** 2).sum(0)
            s[3] += len(y)
    r2 = [pooled_r2(s, meta["outputs"]) for s in sums]
    print(json.dumps({"time_steps": len(times), "samples": sums[0][3],
                      "r2": dict(zip(args.models, r2, strict=True)),
                      "difference": {n: r2[0][n] - r2[1][n] for n in r2[0]}}))


if __name__ == "__main__":
    main()
