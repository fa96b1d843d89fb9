"""Column datasets: the zarr schema, its validator and writer, and normalization statistics.

See ``data/README.md`` for the schema and ``climnn.data.schema`` for the variable table.
"""

from climnn.data.schema import (
    DATA_VARIABLES,
    INPUTS,
    OUTPUTS,
    SCHEMA_NAME,
    SCHEMA_VERSION,
    VARIABLES,
    DatasetError,
    VariableSpec,
    open_store,
    pressure_thickness,
    sample_count,
    validate_store,
    write_store,
)
from climnn.data.stats import compute_statistics, load_statistics, output_scales

__all__ = [
    "DATA_VARIABLES",
    "INPUTS",
    "OUTPUTS",
    "SCHEMA_NAME",
    "SCHEMA_VERSION",
    "VARIABLES",
    "DatasetError",
    "VariableSpec",
    "compute_statistics",
    "load_statistics",
    "open_store",
    "output_scales",
    "pressure_thickness",
    "sample_count",
    "validate_store",
    "write_store",
]
