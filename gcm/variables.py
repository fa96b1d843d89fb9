"""The variable table: one row per physical quantity of the column-physics contract.

Each quantity has a field in gcm.physics.column (a ColumnState or ColumnTendencies
attribute), a name in the climnn column datasets (data/README.md), perhaps a CF name
in the model's history (gcm.io.cf_metadata), and one set of units. Everything that
writes or checks those names or units reads them here: the history's CF attributes
(gcm.io.cf_metadata), the dataset schema, its converters and the teacher-run sampler
(climnn.data).

A dataset's long name says when the value was taken (the state "before physics", the
"previous step"'s fluxes); the history's long name names the quantity alone, and the
history adds "(interval mean)" to those it averages over an output interval.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["QUANTITIES", "Quantity", "by_output_field", "by_output_name"]

#: Where a quantity's value comes from in one physics call ``out = scheme(columns, dt)``.
SOURCES = ("columns", "tendencies", "previous")


@dataclass(frozen=True)
class Quantity:
    """One physical quantity.

    field : attribute name in gcm.physics.column (of ColumnState for source "columns",
        of ColumnTendencies otherwise)
    source : "columns" (the state before physics), "tendencies" (what the same call
        returned) or "previous" (what the previous call returned, e.g. last step's fluxes)
    dataset : variable name in the climnn column datasets
    units : units attribute, the same in the contract, the datasets and the history
    long_name : the quantity, as the history's long_name says it
    dataset_long_name : the datasets' long_name (says when the value was taken)
    output : CF short name in the model's history, or None if the history lacks it
    standard_name : CF standard name, or None where CF has none
    """

    field: str
    source: str
    dataset: str
    units: str
    long_name: str
    dataset_long_name: str
    output: str | None = None
    standard_name: str | None = None

    def __post_init__(self):
        if self.source not in SOURCES:
            raise ValueError(f"quantity {self.dataset}: source {self.source!r} is not one of "
                             f"{SOURCES}")

    @property
    def role(self) -> str:
        """The datasets' role: "input" (what the physics sees) or "output"."""
        return "output" if self.source == "tendencies" else "input"

    def cf_attrs(self) -> dict[str, str]:
        """standard_name (where CF has one), long_name and units for the history."""
        attrs = {"standard_name": self.standard_name} if self.standard_name else {}
        return {**attrs, "long_name": self.long_name, "units": self.units}


Q = Quantity
#: The table, in the datasets' order: inputs, then outputs.
QUANTITIES: tuple[Quantity, ...] = (
    Q("temperature", "columns", "T", "K", "air temperature", "temperature before physics",
      "ta", "air_temperature"),
    Q("humidity", "columns", "Q", "kg kg-1", "specific humidity",
      "specific humidity before physics", "hus", "specific_humidity"),
    Q("u", "columns", "U", "m s-1", "eastward wind", "zonal wind before physics",
      "ua", "eastward_wind"),
    Q("v", "columns", "V", "m s-1", "northward wind", "meridional wind before physics",
      "va", "northward_wind"),
    Q("surface_pressure", "columns", "PS", "Pa", "surface pressure", "surface pressure",
      "ps", "surface_air_pressure"),
    Q("sst", "columns", "SST", "K", "sea surface temperature", "sea surface temperature",
      None, "sea_surface_temperature"),
    Q("insolation", "columns", "SOLIN", "W m-2", "top-of-atmosphere insolation",
      "insolation at the top of the atmosphere", "rsdt", "toa_incoming_shortwave_flux"),
    Q("shf", "previous", "SHFLX", "W m-2", "surface sensible heat flux",
      "upward surface sensible heat flux (previous step)", None,
      "surface_upward_sensible_heat_flux"),
    Q("lhf", "previous", "LHFLX", "W m-2", "surface latent heat flux",
      "upward surface latent heat flux (previous step)", None,
      "surface_upward_latent_heat_flux"),
    Q("temperature", "tendencies", "TPHYSTND", "K s-1", "temperature tendency due to physics",
      "temperature tendency due to physics"),
    Q("humidity", "tendencies", "PHQ", "kg kg-1 s-1",
      "specific humidity tendency due to physics",
      "specific humidity tendency due to physics"),
    Q("u", "tendencies", "UPHYS", "m s-2", "zonal wind tendency due to physics",
      "zonal wind tendency due to physics"),
    Q("v", "tendencies", "VPHYS", "m s-2", "meridional wind tendency due to physics",
      "meridional wind tendency due to physics"),
    Q("precipitation", "tendencies", "PRECT", "kg m-2 s-1", "precipitation",
      "total precipitation rate", "pr", "precipitation_flux"),
    Q("fsnt", "tendencies", "FSNT", "W m-2", "net downward shortwave flux at the top",
      "net shortwave flux at the top, downward", "fsnt"),
    Q("fsns", "tendencies", "FSNS", "W m-2", "net downward shortwave flux at the surface",
      "net shortwave flux at the surface, downward", "fsns",
      "surface_net_downward_shortwave_flux"),
    Q("flnt", "tendencies", "FLNT", "W m-2", "net upward longwave flux at the top",
      "net longwave flux at the top, upward", "flnt", "toa_outgoing_longwave_flux"),
    Q("flns", "tendencies", "FLNS", "W m-2", "net upward longwave flux at the surface",
      "net longwave flux at the surface, upward", "flns", "surface_net_upward_longwave_flux"),
    Q("shf", "tendencies", "SHF", "W m-2", "surface sensible heat flux",
      "upward surface sensible heat flux (same step)", "hfss",
      "surface_upward_sensible_heat_flux"),
    Q("lhf", "tendencies", "LHF", "W m-2", "surface latent heat flux",
      "upward surface latent heat flux (same step)", "hfls", "surface_upward_latent_heat_flux"),
)
del Q


def by_output_field(field: str) -> Quantity:
    """The quantity of contract field ``field`` that the history writes (e.g. "shf" ->
    the same-step flux hfss)."""
    for quantity in QUANTITIES:
        if quantity.field == field and quantity.output is not None:
            return quantity
    known = ", ".join(q.field for q in QUANTITIES if q.output is not None)
    raise KeyError(f"no quantity of contract field {field!r} is in the history; known: {known}")


def by_output_name(name: str) -> Quantity | None:
    """The quantity the history writes as CF variable ``name`` (e.g. "pr"), or None if
    ``name`` is not a quantity of the contract (e.g. "zeta")."""
    return next((q for q in QUANTITIES if q.output == name), None)
