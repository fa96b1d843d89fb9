"""An SP run continues bit for bit from a restart: N steps equal N/2, a restart, N/2."""

import numpy as np

from gcm.model import Model
from gcm.simulation import Simulation

TINY_CRM = {"nx": 8, "dx": 4000.0, "nz": 8, "dz": 2000.0, "dt": 120.0, "nu": 30.0}


def sp_config(make_config):
    cfg = make_config("rest", truncation=21, levels=8, scheme="superparameterized",
                      step_minutes=60.0, perturbation=1.0)
    cfg.physics.parameters = {"crm": dict(TINY_CRM),
                              "boundary_layer": {"k_profile": "reed_jablonowski"}}
    return cfg.validate()


def steps(sim, n):
    sim.run_steps(n)
    return sim


def test_an_sp_run_restarts_bit_for_bit(make_config, tmp_path):
    cfg = sp_config(make_config)
    straight = steps(Simulation(Model(cfg), tmp_path / "straight", progress=False), 4).model
    half = steps(Simulation(Model(cfg), tmp_path / "restarted", progress=False), 2)
    restarted = steps(Simulation.from_restart(half.last_restart, progress=False), 2).model
    a, b = straight.restart_arrays(), restarted.restart_arrays()
    assert sorted(a) == sorted(b)
    assert a["physics/scalars"].shape == (straight.grid.nlat * straight.grid.nlon, 3, 8, 8)
    assert a["physics/du_history"].shape[1] == 2  # AB3's two past tendencies travel too
    for key in a:
        assert np.asarray(a[key]).tobytes() == np.asarray(b[key]).tobytes(), key

    # the CRM state is what made it bitwise: a continuation whose CRMs start afresh differs
    forgetful = Simulation.from_restart(half.last_restart, tmp_path / "forgetful",
                                        progress=False)
    forgetful.model.physics.state = None
    forgetful.run_steps(2)
    assert not np.array_equal(forgetful.model.now.temperature, straight.now.temperature)


def test_generate_writes_the_teacher_schema_and_the_crm_configuration(make_config, tmp_path):
    import xarray as xr

    from climnn.data.generate import generate
    from climnn.data.schema import validate_store

    generate(sp_config(make_config), tmp_path / "sp.zarr", days=2 / 24, progress=False)
    store = validate_store(tmp_path / "sp.zarr")  # the same schema as the teacher's stores
    attrs = xr.open_zarr(tmp_path / "sp.zarr", consolidated=False).attrs
    assert attrs["source_model"] == "climnn-superparameterized"
    assert attrs["crm_nx"] == 8 and attrs["crm_dz"] == 2000.0 and attrs["crm_dt"] == 120.0
    assert store.sizes["time"] >= 1 and float(store["PRECT"].min()) >= 0.0


def test_generate_runs_sp_segments_on_dask_with_their_crm_provenance(make_config, tmp_path):
    """`climnn generate --segments` with the SP teacher: members on dask.distributed
    workers, each a valid store of the teacher's schema with the CRM configuration in its
    provenance, and different members (their initial noise differs)."""
    import xarray as xr

    from climnn.data.generate import generate_segments
    from climnn.data.schema import validate_store

    paths = generate_segments(sp_config(make_config), tmp_path / "members", days=2 / 24,
                              every=1, segments=2)
    first, second = (validate_store(p).load() for p in paths)
    for path in paths:
        attrs = xr.open_zarr(path, consolidated=False).attrs
        assert attrs["source_model"] == "climnn-superparameterized"
        assert attrs["crm_nx"] == 8 and attrs["crm_dt"] == 120.0
    assert first.sizes["time"] == second.sizes["time"] >= 1
    assert not np.array_equal(first["T"].values, second["T"].values)
