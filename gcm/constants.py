"""Physical constants of the model planet, SI units.

Values follow CAM and CBRAIN-CAM (Rasp et al. 2018) where they differ from other
models, so that data from SPCAM and from our teacher share one set of constants.
"""

RADIUS = 6.371e6  # planetary radius, m
OMEGA = 7.292e-5  # rotation rate, s-1
GRAVITY = 9.80616  # gravitational acceleration, m s-2
RD = 287.04  # gas constant of dry air, J kg-1 K-1
CP = 1004.64  # specific heat of dry air at constant pressure, J kg-1 K-1
KAPPA = RD / CP  # R/cp, dimensionless
RV = 461.50  # gas constant of water vapour, J kg-1 K-1
LV = 2.501e6  # latent heat of vaporization at 0 degC, J kg-1
P0 = 1.0e5  # reference surface pressure, Pa
SECONDS_PER_DAY = 86400.0
