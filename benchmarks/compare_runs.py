"""Compare two run directories bit for bit: every history variable and every array of the
newest restart present in both; lists what only one has.

    climnn run run/aquaplanet.yaml --set resolution.truncation=21 \
        --set time.step_minutes=30 --days 2 --out /tmp/run_a      # (and with other code)
    python benchmarks/compare_runs.py /tmp/run_a /tmp/run_b       # exit 1 on a difference
"""

import glob
import sys
from pathlib import Path

import numpy as np
import xarray as xr


def history(directory: Path) -> xr.Dataset:
    return xr.open_zarr(directory / "history.zarr", consolidated=False,
                        decode_times=False).load()


def newest_restart(directory: Path) -> tuple[dict, str]:
    path = sorted(glob.glob(str(directory / "restart" / "restart_*.npz")))[-1]
    with np.load(path) as archive:
        return {k: archive[k] for k in archive.files if k != "__metadata__"}, path


def differences(a: dict, b: dict, what: str) -> int:
    print(f"{what} only in A: {sorted(set(a) - set(b))}; only in B: {sorted(set(b) - set(a))}")
    bad = 0
    for name in sorted(set(a) & set(b)):
        x, y = np.asarray(a[name]), np.asarray(b[name])
        if x.shape != y.shape or not np.array_equal(x, y, equal_nan=x.dtype.kind in "fc"):
            bad += 1
            print(f"{what} differs: {name}")
    return bad


def main(a: Path, b: Path) -> int:
    ha, hb = history(a), history(b)
    bad = differences({k: v.values for k, v in ha.variables.items()},
                      {k: v.values for k, v in hb.variables.items()}, "history")
    (ra, _), (rb, _) = newest_restart(a), newest_restart(b)
    bad += differences(ra, rb, "restart")
    print("BITWISE EQUAL" if bad == 0 else f"{bad} DIFFERENCES")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
