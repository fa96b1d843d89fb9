"""The Straka et al. (1993) density current with the CRM: min θ′ and front position at 900 s
against the published values, one JSON line, and a PNG of θ′ (written atomically).

    PYTHONPATH=$PWD python benchmarks/straka_density_current.py --resolution 100 \
        --png docs/crm_straka_100m.png
"""

import argparse
import json
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from gcm.crm import density_current as case  # noqa: E402
from gcm.io.atomic import atomic_path  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=float, default=200.0, help="dx = dz, m")
    parser.add_argument("--dt", type=float, default=None, help="step, s (default res/100)")
    parser.add_argument("--thermodynamic", default="theta", choices=("theta", "static_energy"))
    parser.add_argument("--png", default=None, help="where to write the θ′ figure")
    args = parser.parse_args()
    model = case.straka_model(args.resolution, args.dt, args.thermodynamic)
    start = time.perf_counter()
    state = model.run(case.initial_state(model), case.DURATION)
    seconds = time.perf_counter() - start
    theta = case.theta_perturbation(model, state)
    result = {"resolution_m": args.resolution, "dt_s": model.dt,
              "thermodynamic": args.thermodynamic,
              "min_theta_prime_K": float(theta.min()),
              "front_m": case.front_position(model, theta),
              "published_min_theta_prime_K": case.PUBLISHED_MIN_THETA,
              "published_front_m": case.PUBLISHED_FRONT, "seconds": round(seconds, 2)}
    print(json.dumps(result))
    if args.png:
        plot(model, theta[0], result, args.png)


def plot(model, theta, result, path) -> None:
    """θ′ (K) at 900 s on the right half of the domain, contours every 1 K."""
    g = model.grid
    x = (g.x_centres - g.length / 2) / 1e3
    half = x >= 0
    fig, ax = plt.subplots(figsize=(10, 2.8))
    levels = [v + 0.5 for v in range(-11, 0)]
    filled = ax.contourf(x[half], g.z_centres / 1e3, theta[:, half], levels=levels, cmap="Blues_r")
    ax.contour(x[half], g.z_centres / 1e3, theta[:, half], levels=levels, colors="k",
               linewidths=0.4)
    fig.colorbar(filled, ax=ax, label="θ′ (K)")
    ax.axvline(result["front_m"] / 1e3, color="r", lw=0.8, label="front (−1 K at lowest level)")
    ax.axvline(case.PUBLISHED_FRONT / 1e3, color="r", ls="--", lw=0.8, label="published 15.5 km")
    ax.set(xlabel="x (km)", ylabel="z (km)", xlim=(0, 20),
           title=f"Straka density current ({result['thermodynamic']}), {g.dx:.0f} m, 900 s: min θ′ "
                 f"{result['min_theta_prime_K']:.2f} K (published −9.77)")
    ax.legend(loc="upper right", fontsize=7)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)


if __name__ == "__main__":
    main()
