"""The model's input and output: files a run writes and reads.

- ``gcm.io.history``: the history of a run (zarr store or netCDF files) and ``open_history``
- ``gcm.io.restart``: restart files (bitwise state + metadata) and ``restart_metadata``
- ``gcm.io.cf_metadata``: a model snapshot as an xarray Dataset with CF metadata
- ``gcm.io.atomic``: atomic file and directory writes used by all of the above

Nothing here is imported by ``import gcm``; the modules need xarray, zarr, netCDF4, cftime.
"""
