"""How much the teacher's surface heat fluxes differ from the bulk formula on the state
before physics (what a host running a network can compute): the reason the shipped hybrid
network predicts SHF and LHF (README, Hybrid run).

The teacher (gcm.physics.teacher) computes its bulk fluxes after convection, condensation
and radiation have changed the columns. From a restart of a teacher run, this steps the
model and compares, each step, the cos(latitude)-weighted means of the teacher's SHF and
LHF with SurfaceFluxes on the columns the physics was handed.

    python benchmarks/teacher_flux_order.py teacher_t31/restart/restart_2001-01-01T000000.npz
"""

from __future__ import annotations

import argparse
import tempfile

import numpy as np

from gcm.physics.surface_fluxes import SurfaceFluxes
from gcm.simulation import Simulation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("restart", help="a restart file of a teacher run")
    parser.add_argument("--steps", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        sim = Simulation.from_restart(args.restart, folder, progress=False)
        model = sim.model
        model.keep_physics_call = True
        bulk = SurfaceFluxes()
        for _ in range(args.steps):
            model.step()
            call = model.last_physics
            before = bulk(call.columns, call.dt)
            w = np.cos(call.columns.latitude)
            w = w / w.sum()
            teacher = (w @ call.tendencies.shf, w @ call.tendencies.lhf)
            mine = (w @ before.shf, w @ before.lhf)
            change = [m / t - 1 for m, t in zip(mine, teacher, strict=True)]
            print(f"step {model.step_count}: teacher SHF {teacher[0]:.2f} LHF {teacher[1]:.2f}"
                  f" W m-2; bulk on the state before physics SHF {mine[0]:.2f} LHF "
                  f"{mine[1]:.2f} ({change[0]:+.0%}, {change[1]:+.0%})")


if __name__ == "__main__":
    main()
