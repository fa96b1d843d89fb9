"""The Bryan & Fritsch (2002) moist benchmark and its dry twin with the CRM: w max, its height,
the thermal top and max θ′ at 1000 s, moist against dry (their finding: alike) and against
reference figures; the environment's reversible adiabat against Bryan's sounding. One JSON
line; optionally a PNG of both thermals (written atomically).

    PYTHONPATH=$PWD python benchmarks/bryan_fritsch_bubble.py --resolution 100 \
        --png docs/crm_bryan_fritsch_100m.png

Reference figures (REFERENCE below) are read off the 100 m, 1000 s figures of ERF's
reproduction (github.com/ewquon/erf-validation, JAMES_Paper/Bubble_Rise: θ′/θ_e′ and w
panels), ±0.3 km and ±1 m/s as read; B&F's own figures could not be checked here. The
sounding values come from Bryan's initialization program mbm (same repository,
BryanFritsch2002/mbm.input_sounding), which uses exact moist thermodynamics (cp of vapour
and liquid, Lv(T)); the CRM's simplified ones (constant Lv, cp of dry air) differ from it.
"""

import argparse
import json
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from gcm.crm import moist_bubble as case  # noqa: E402
from gcm.io.atomic import atomic_path  # noqa: E402

REFERENCE = {"dry": {"w_max_m_s": 13.0, "thermal_top_m": 8000.0},  # unverified (read off)
             "moist": {"w_max_m_s": 12.5, "thermal_top_m": 7700.0}}
BRYAN_SOUNDING = {4950.0: (314.2269, 3.4456e-3), 9950.0: (328.7630, 1.886e-4)}  # θ K, r_v


def run_case(resolution: float, moist: bool, dt: float | None, mixing: float):
    """(model, final state, diagnostics dict) of one case."""
    model = case.bubble_model(resolution, moist, dt=dt, mixing=mixing)
    state = case.initial_state(model)
    peak = float(case.theta_prime(model, state).max())
    start = time.perf_counter()
    state = model.run(state, case.DURATION)
    result = case.thermal_diagnostics(model, state, peak)
    result.update(initial_theta_prime_max_K=peak, seconds=round(time.perf_counter() - start, 1),
                  relative_divergence=model.projector.relative_divergence(state.u, state.w))
    return model, state, result


def sounding_check(model) -> dict:
    """The CRM's moist-neutral environment against Bryan's sounding at two heights."""
    z = model.grid.z_centres
    temperature, qv, _ = case.environment(z, model.base.pi_c)
    theta = temperature / model.base.pi_c
    out = {}
    for height, (theta_ref, rv_ref) in BRYAN_SOUNDING.items():
        out[f"theta_{height:.0f}m_K"] = float(np.interp(height, z, theta))
        out[f"theta_{height:.0f}m_bryan_K"] = theta_ref
        out[f"r_v_{height:.0f}m"] = float(np.interp(height, z, qv / (1 - case.TOTAL_WATER)))
        out[f"r_v_{height:.0f}m_bryan"] = rv_ref
    return out


def _mixing(text: str) -> float | str:
    """--mixing: a number (ν = κ, m2/s) or "smagorinsky"."""
    if text == "smagorinsky":
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--mixing: {text!r} is neither a number (m2/s) "
                                         "nor 'smagorinsky'") from None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=float, default=200.0, help="dx = dz, m")
    parser.add_argument("--dt", type=float, default=None, help="step, s (default res/200)")
    parser.add_argument("--mixing", type=_mixing, default=0.0,
                        help="ν = κ, m2/s, or 'smagorinsky'")
    parser.add_argument("--png", default=None, help="where to write the figure")
    args = parser.parse_args()
    runs = {name: run_case(args.resolution, name == "moist", args.dt, args.mixing)
            for name in ("dry", "moist")}
    result = {"resolution_m": args.resolution, "mixing_m2_s": args.mixing,
              **{name: r for name, (_, _, r) in runs.items()}, "reference": REFERENCE,
              "moist_over_dry_w_max": runs["moist"][2]["w_max_m_s"] / runs["dry"][2]["w_max_m_s"],
              "moist_minus_dry_top_m": (runs["moist"][2]["thermal_top_m"]
                                        - runs["dry"][2]["thermal_top_m"]),
              "sounding": sounding_check(runs["moist"][0])}
    print(json.dumps(result))
    if args.png:
        plot(runs, args.png)


def plot(runs, path) -> None:
    """θ′ (dry) and θ_l′ (moist) at 1000 s, with w contours every 2 m/s (levels avoid 0 so
    that round-off in the environment does not flicker between two colours)."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for ax, (name, (model, state, result)) in zip(axes, runs.items(), strict=True):
        g = model.grid
        theta = case.theta_prime(model, state)[0]
        x, z = g.x_centres / 1e3, g.z_centres / 1e3
        filled = ax.contourf(x, z, theta, levels=np.linspace(-0.875, 4.125, 21), cmap="RdBu_r",
                             extend="both")
        w = 0.5 * (state.w[0, 1:] + state.w[0, :-1])
        ax.contour(x, z, w, levels=[v for v in range(-16, 18, 2) if v], colors="k",
                   linewidths=0.5)
        ax.set(title=f"{name}: w max {result['w_max_m_s']:.1f} m/s, top "
                     f"{result['thermal_top_m'] / 1e3:.2f} km", xlabel="x (km)")
    axes[0].set_ylabel("z (km)")
    fig.colorbar(filled, ax=axes, label="θ′ (dry), θ_l′ (moist), K")
    fig.suptitle(f"Bryan & Fritsch (2002) bubble, {runs['dry'][0].grid.dx:.0f} m, 1000 s")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


if __name__ == "__main__":
    main()
