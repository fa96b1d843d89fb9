"""The gap between a trained network and its trained linearization against width (Lee et
al. 2019: O(width^-1/2)); climnn.models.linearized.training_gap at each width and seed.

    PYTHONPATH=$PWD python benchmarks/linearization_gap.py --out out/linearization_gap \
        --widths 16 64 256 1024 2048 --seeds 3 --steps 100

Writes OUT/gap.json (every measurement) and OUT/gap.png (gap against width, log-log, the
mean over seeds with each seed's points, and a width^-1/2 line); prints one line a width.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

from climnn.models.linearized import training_gap
from gcm.io.atomic import atomic_path, write_json


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--widths", type=int, nargs="+", default=[16, 64, 256, 1024])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    if (args.out / "gap.json").exists():
        sys.exit(f"{args.out / 'gap.json'} exists; choose another --out (nothing written)")
    torch.set_num_threads(args.threads)
    rows = []
    for width in args.widths:
        start = time.perf_counter()
        found = [training_gap(width, steps=args.steps, seed=s) for s in range(args.seeds)]
        rows += [{"width": width, "seed": s, **r} for s, r in enumerate(found)]
        gaps = ", ".join(f"{r['gap']:.4f}" for r in found)
        print(f"width {width}: gap {np.mean([r['gap'] for r in found]):.4f} (seeds {gaps}), "
              f"loss {np.mean([r['loss'] for r in found]):.4f} "
              f"({time.perf_counter() - start:.0f} s)", flush=True)
    write_json(args.out / "gap.json", {"steps": args.steps, "rows": rows})
    plot(rows, args.out / "gap.png")
    return 0


def plot(rows: list, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    widths = sorted({r["width"] for r in rows})
    mean = [np.mean([r["gap"] for r in rows if r["width"] == w]) for w in widths]
    figure, ax = plt.subplots(figsize=(5.6, 4.2))
    ax.plot([r["width"] for r in rows], [r["gap"] for r in rows], "o", alpha=0.4, label="seeds")
    ax.plot(widths, mean, "-o", label="mean")
    ax.plot(widths, mean[0] * (np.array(widths) / widths[0]) ** -0.5, "--", color="gray",
            label="width$^{-1/2}$")
    ax.set(xscale="log", yscale="log", xlabel="width (2 hidden layers, tanh)",
           ylabel="‖f − f_lin‖ / ‖f − f₀‖ on fresh inputs",
           title="full vs linearized training (gradient descent)")
    ax.legend()
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=100)
    plt.close(figure)


if __name__ == "__main__":
    sys.exit(main())
