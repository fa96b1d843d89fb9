"""gcm: an idealized spectral primitive-equation aquaplanet model in numba.

Quick start (the Python twin of ``climnn run run/held_suarez.yaml --days 10``)::

    import gcm
    config = gcm.load_config("run/held_suarez.yaml")
    model = gcm.Model(config)
    ds = gcm.Simulation(model).run(days=10)   # an xarray.Dataset of daily snapshots
"""

import os

__all__ = ["Model", "ModelConfig", "Simulation", "load_config"]

# numba's OpenMP workers spin for a while after each parallel region; on a machine with
# as many cores as threads they then steal the cores from the FFT's threads and from
# the next numba region (the step alternates between the two hundreds of times).
# Sleeping workers made a T42L25 moist step ~5 % faster on 2 cores (climnn bench
# aquaplanet). Models with very short steps can lose by it: set OMP_WAIT_POLICY=ACTIVE
# for those (README, Speed). Read by libgomp when numba first starts its threads; a
# value the user set wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def __getattr__(name):
    # Lazy, so that importing one submodule (e.g. the transforms) does not compile
    # or import the whole model.
    if name == "Model":
        from gcm.model import Model

        return Model
    if name == "Simulation":
        from gcm.simulation import Simulation

        return Simulation
    if name in ("ModelConfig", "load_config"):
        from gcm import config

        return getattr(config, name)
    raise AttributeError(f"module 'gcm' has no attribute {name!r}")
