"""Radiative–convective equilibrium of one CRM (``gcm.crm.rce``): precipitation and evaporation
converging, the domain-mean temperature against an independently computed moist adiabat, the
tropopause, and the budget residuals. One JSON line; optionally a PNG (written atomically)
and the time series (.npz, atomically).

    PYTHONPATH=$PWD python benchmarks/crm_rce.py --days 60 --threads 1 \
        --png docs/crm_rce.png --series out/crm_rce.npz

P and E are domain means over each sampling interval, mm day-1; the equilibrium figures are
means over the last ``--average-days``. The moist adiabat starts from the mean lowest-layer
air of that period.
"""

import argparse
import json
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numba  # noqa: E402
import numpy as np  # noqa: E402

from gcm.crm import rce, smagorinsky  # noqa: E402
from gcm.crm.budgets import budget_residuals  # noqa: E402
from gcm.crm.columns import temperature_and_vapour  # noqa: E402
from gcm.io.atomic import atomic_path  # noqa: E402

DAY = 86400.0
CONSTANT_NU = 30.0  # m2 s-1: constant mixing's ν (the RCE default before Smagorinsky)


def run(config: rce.RceConfig, days: float, sample_hours: float, average_days: float):
    """Run and sample: (model, initial state, final state, series dict)."""
    model = rce.build(config)
    initial = state = rce.initial_state(model, config)
    interval = sample_hours * 3600.0
    series = {name: [] for name in ("time_day", "precipitation", "evaporation", "olr",
                                    "toa_net", "w_max")}
    profiles = []
    last = {"precipitation": 0.0, "evaporation": 0.0, "olr": 0.0, "toa_net": 0.0}
    for _ in range(int(round(days * DAY / interval))):
        state = model.run(state, interval)
        totals = {"precipitation": state.precipitation.mean(),
                  **{name: state.accumulated[name].mean() for name in
                     ("evaporation", "olr", "toa_net")}}
        for name, total in totals.items():
            rate = (total - last[name]) / interval
            series[name].append(rate * DAY if name in ("precipitation", "evaporation") else rate)
        last = totals
        series["time_day"].append(state.time / DAY)
        series["w_max"].append(float(np.abs(state.w).max()))
        if state.time > (days - average_days) * DAY:
            temperature, vapour = temperature_and_vapour(state.scalars, model.profiles)
            profiles.append((temperature[0].mean(axis=-1), vapour[0].mean(axis=-1)))
    series = {name: np.array(values) for name, values in series.items()}
    series["temperature"] = np.mean([t for t, _ in profiles], axis=0)
    series["vapour"] = np.mean([q for _, q in profiles], axis=0)
    return model, initial, state, series


def summarize(config, model, initial, state, series, average_days, seconds):
    """The JSON figures (see the module docstring)."""
    z = model.grid.z_centres
    pressure = model.profiles.pressure
    late = series["time_day"] > series["time_day"][-1] - average_days
    precipitation = float(series["precipitation"][late].mean())
    evaporation = float(series["evaporation"][late].mean())
    temperature = series["temperature"]
    adiabat = rce.moist_adiabat(temperature[0], series["vapour"][0], z, pressure)
    top = rce.tropopause(temperature, z)
    residuals = budget_residuals(initial, state, model.grid, model.profiles)
    troposphere = (z > 1000.0) & (z < 10000.0)
    return {
        "config": {**config.__dict__, "days": float(series["time_day"][-1])},
        "seconds": round(seconds, 1),
        "model_days_per_hour": round(series["time_day"][-1] / seconds * 3600.0, 1),
        "precipitation_mm_day": round(precipitation, 3),
        "evaporation_mm_day": round(evaporation, 3),
        "p_over_e": round(precipitation / evaporation, 4),
        "olr_W_m2": round(float(series["olr"][late].mean()), 2),
        "toa_net_W_m2": round(float(series["toa_net"][late].mean()), 2),
        "lapse_rate_1_10km_K_km": round(1e3 * rce.mean_lapse_rate(temperature, z, 1e3, 1e4), 3),
        "adiabat_lapse_rate_1_10km_K_km": round(1e3 * rce.mean_lapse_rate(adiabat, z, 1e3, 1e4),
                                                3),
        "max_abs_t_minus_adiabat_1_10km_K": round(float(np.abs(
            temperature - adiabat)[troposphere].max()), 2),
        "t_minus_adiabat_at_5km_K": round(float(np.interp(5e3, z, temperature - adiabat)), 2),
        "t_minus_adiabat_at_10km_K": round(float(np.interp(1e4, z, temperature - adiabat)), 2),
        "surface_air_K": round(float(temperature[0]), 2),
        "sst_minus_surface_air_K": round(config.sst - float(temperature[0]), 2),
        "surface_wind_rms_m_s": round(float(np.sqrt(np.mean(state.u[:, 0] ** 2))), 2),
        **eddy_viscosity_figures(model, state),
        **{k: round(v, 1) for k, v in top.items()},
        "energy_residual_relative": float(np.abs(residuals["energy"]).max()),
        "water_residual_relative": float(np.abs(residuals["water"]).max()),
        "relative_divergence": model.projector.relative_divergence(state.u, state.w),
    }, adiabat


def eddy_viscosity_figures(model, state) -> dict:
    """The final state's Smagorinsky ν: max, mean, and the fraction of cells at the cap."""
    if model.mixing != "smagorinsky":
        return {}
    g = model.grid
    nu = smagorinsky.eddy_viscosity(state.u, state.w, state.scalars,
                                    *model._stability_profiles(), g.dx, g.dz,
                                    smagorinsky.length_scale_squared(g.dx, g.dz), model.nu_max)
    return {"nu_final_max_m2_s": round(float(nu.max()), 1),
            "nu_final_mean_m2_s": round(float(nu.mean()), 2),
            "nu_cap_m2_s": round(model.nu_max, 1),
            "nu_capped_fraction": float(np.mean(nu >= model.nu_max))}


def figure(path, model, series, adiabat, summary):
    """P and E time series (left), mean T against the moist adiabat (right)."""
    z = model.grid.z_centres / 1e3
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    left.plot(series["time_day"], series["precipitation"], label="precipitation")
    left.plot(series["time_day"], series["evaporation"], label="evaporation")
    left.set_xlabel("day")
    left.set_ylabel("mm day$^{-1}$ (domain mean)")
    left.set_title(f"P/E over the last days: {summary['p_over_e']:.3f}")
    left.legend()
    right.plot(series["temperature"], z, label="CRM domain mean")
    right.plot(adiabat, z, "--", label="moist adiabat from the surface layer")
    right.plot(rce.initial_temperature(model.processes[1].sst, model.grid.z_centres), z, ":",
               label="initial (6.5 K/km)")
    right.axhline(summary["cold_point_m"] / 1e3, color="gray", lw=0.8)
    right.set_xlim(180, 310)
    right.set_xlabel("T (K)")
    right.set_ylabel("z (km)")
    right.set_title("equilibrium temperature")
    right.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=60.0)
    parser.add_argument("--average-days", type=float, default=20.0)
    parser.add_argument("--sample-hours", type=float, default=24.0)
    parser.add_argument("--nx", type=int, default=32)
    parser.add_argument("--dx", type=float, default=4000.0)
    parser.add_argument("--nz", type=int, default=40)
    parser.add_argument("--dz", type=float, default=500.0)
    parser.add_argument("--dt", type=float, default=15.0)
    parser.add_argument("--mixing", choices=("constant", "smagorinsky"),
                        default=rce.RceConfig.mixing)
    parser.add_argument("--nu", type=float, help=f"constant mixing's ν (default "
                        f"{CONSTANT_NU} m2/s; 0 with smagorinsky)")
    parser.add_argument("--kappa", type=float, help="constant mixing's κ (default 0 m2/s)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--png", help="write the figure here (atomically)")
    parser.add_argument("--series", help="write the time series and profiles here (.npz)")
    args = parser.parse_args()
    numba.set_num_threads(args.threads)
    constant = args.mixing == "constant"
    nu = args.nu if args.nu is not None else (CONSTANT_NU if constant else 0.0)
    kappa = args.kappa if args.kappa is not None else 0.0
    config = rce.RceConfig(nx=args.nx, dx=args.dx, nz=args.nz, dz=args.dz, dt=args.dt,
                           nu=nu, kappa=kappa, mixing=args.mixing)
    start = time.perf_counter()
    model, initial, state, series = run(config, args.days, args.sample_hours,
                                        args.average_days)
    summary, adiabat = summarize(config, model, initial, state, series, args.average_days,
                                 time.perf_counter() - start)
    if args.png:
        figure(args.png, model, series, adiabat, summary)
    if args.series:
        with atomic_path(args.series) as tmp, open(tmp, "wb") as handle:
            np.savez(handle, z=model.grid.z_centres, adiabat=adiabat, **series)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
