"""The variable table against the column-physics contract it describes."""

import dataclasses

import pytest

from gcm.physics.column import ColumnState, ColumnTendencies
from gcm.variables import QUANTITIES, Quantity, by_output_field, by_output_name


def _fields(cls) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def test_every_row_names_a_field_of_the_contract():
    for q in QUANTITIES:
        contract = ColumnState if q.source == "columns" else ColumnTendencies
        assert q.field in _fields(contract), (q.dataset, q.field)


def test_every_tendency_of_the_contract_is_stored_once():
    stored = [q.field for q in QUANTITIES if q.source == "tendencies"]
    assert sorted(stored) == sorted(_fields(ColumnTendencies))


def test_names_are_unique_in_the_datasets_and_the_history():
    datasets = [q.dataset for q in QUANTITIES]
    outputs = [q.output for q in QUANTITIES if q.output is not None]
    assert len(set(datasets)) == len(datasets)
    assert len(set(outputs)) == len(outputs)


def test_lookups_and_their_errors():
    assert by_output_field("shf").dataset == "SHF"  # the same step's flux, not SHFLX
    assert by_output_name("pr").field == "precipitation"
    assert by_output_name("zeta") is None
    with pytest.raises(KeyError, match="'pressure'.*known: temperature"):
        by_output_field("pressure")
    with pytest.raises(ValueError, match="source 'later'"):
        Quantity("shf", "later", "X", "W m-2", "x", "x")
