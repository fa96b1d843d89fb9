"""Physics schemes by name (gcm.physics.registry): built-ins, registered ones, and those a
package declares as entry points of group gcm.physics (faked here: no package installed)."""

import importlib.metadata

import pytest

from gcm.physics import HeldSuarez, NoPhysics, registry
from gcm.physics.registry import build_scheme, register_scheme, scheme_names


@pytest.fixture(autouse=True)
def own_registry(monkeypatch):
    """Each test registers into its own copy of the registry."""
    monkeypatch.setattr(registry, "_FACTORIES", dict(registry._FACTORIES))


@pytest.fixture(autouse=True)
def registry_without_loaded_entry_points(monkeypatch):
    """A scheme loaded from an entry point stays registered for the process (an earlier
    test's `climnn run run/hybrid.yaml` registers the real 'network'): these tests see the
    registry without it, and it is put back afterwards."""
    factories = {name: factory for name, factory in registry._FACTORIES.items()
                 if name != "network"}
    monkeypatch.setattr(registry, "_FACTORIES", factories)


def fake_entry_points(monkeypatch, **points):
    """Make importlib.metadata report entry points name=value of group gcm.physics."""
    declared = [importlib.metadata.EntryPoint(name, value, registry.ENTRY_POINT_GROUP)
                for name, value in points.items()]

    real = importlib.metadata.entry_points

    def entry_points(**selection):
        # other groups (numba's extensions among them) stay the real ones
        if selection.get("group") == registry.ENTRY_POINT_GROUP:
            return declared
        return real(**selection)

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)


def test_built_in_schemes_by_name():
    assert {"none", "held_suarez", "teacher"} <= set(scheme_names())
    assert isinstance(build_scheme("none"), NoPhysics)
    scheme = build_scheme("held_suarez", {"k_f": 2.0})
    assert isinstance(scheme, HeldSuarez) and scheme.k_f == 2.0
    teacher = build_scheme("teacher", {"convection": {"tau_bm": 3600.0}})
    assert teacher.name == "teacher" and teacher.schemes["convection"].tau_bm == 3600.0


def test_unknown_name_suggests_a_close_one_and_lists_the_known():
    with pytest.raises(ValueError, match=r"unknown scheme 'held_suares' \(did you mean "
                                         r"'held_suarez'\?\); known schemes: .*none, "
                                         r"superparameterized, teacher"):
        build_scheme("held_suares")


def test_bad_parameters_name_the_scheme():
    with pytest.raises(ValueError, match=r"physics.parameters for scheme 'held_suarez': .*"
                                         r"unexpected keyword argument 'k_z'"):
        build_scheme("held_suarez", {"k_z": 1.0})
    with pytest.raises(ValueError, match=r"for scheme 'teacher': unknown teacher scheme"):
        build_scheme("teacher", {"radiaton": {}})


def test_registered_scheme_is_built_by_name_and_names_cannot_be_taken_twice():
    register_scheme("mine", HeldSuarez)
    assert "mine" in scheme_names() and isinstance(build_scheme("mine"), HeldSuarez)
    register_scheme("mine", HeldSuarez)  # the same factory again: nothing changes
    with pytest.raises(ValueError, match="name 'mine' is taken"):
        register_scheme("mine", NoPhysics)


def test_an_entry_point_provides_a_scheme_gcm_does_not_import(monkeypatch):
    # what climnn's pyproject will declare as network = "climnn.coupler.scheme:...";
    # a gcm class stands in for the package's
    fake_entry_points(monkeypatch, network="gcm.physics.held_suarez:HeldSuarez")
    assert "network" in scheme_names()
    scheme = build_scheme("network", {"k_a": 0.05})
    assert isinstance(scheme, HeldSuarez) and scheme.k_a == 0.05


def test_an_entry_point_that_fails_to_load_says_which(monkeypatch):
    fake_entry_points(monkeypatch, network="climnn_not_installed.coupler:NetworkScheme")
    with pytest.raises(ValueError, match=r"physics.scheme 'network': the entry point "
                                         r"'climnn_not_installed.coupler:NetworkScheme' of "
                                         r"group 'gcm.physics' failed to load: "
                                         r"ModuleNotFoundError"):
        build_scheme("network")


def test_the_config_names_a_scheme_from_an_entry_point(monkeypatch, make_config):
    from gcm.model import Model

    fake_entry_points(monkeypatch, network="gcm.physics.column:NoPhysics")
    model = Model(make_config("rest", scheme="network"))
    assert isinstance(model.physics, NoPhysics)
