"""climnn: hybrid climate modelling with neural column physics.

The GCM lives in the sibling package ``gcm``; this package holds the data pipeline,
training, export, the coupler and the diagnostics, and the ``climnn`` command.
"""

__version__ = "0.1.0"
