"""gcm: an idealized spectral primitive-equation aquaplanet model in numba.

Quick start (the Python twin of ``climnn run run/held_suarez.yaml --days 10``)::

    import gcm
    config = gcm.load_config("run/held_suarez.yaml")
    model = gcm.Model(config)
    ds = gcm.Simulation(model).run(days=10)   # an xarray.Dataset of daily snapshots
"""

from gcm import process_settings as _process_settings

__all__ = ["Model", "ModelConfig", "Simulation", "load_config"]

# OMP_WAIT_POLICY and glibc malloc thresholds for the whole process, before any parallel
# code runs: the policy and why are in gcm.process_settings (GCM_PROCESS_SETTINGS=off skips).
_process_settings.apply()


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
