"""Top-of-atmosphere insolation (SOLIN, W m-2) of the aquaplanet.

Two profiles:

* ``"orbital"``: from orbital geometry, as in Isca's two_stream_gray_rad with
  ``do_seasonal = .true.`` (which calls the GFDL astronomy module). The solar
  declination delta follows from the obliquity and the planet's true longitude
  (sin delta = sin(obliquity) sin(lambda), lambda = 0 at the northern spring
  equinox), the Sun-planet distance r from Kepler's equation. With the diurnal cycle
  the insolation is the instantaneous S0 (a/r)^2 max(0, cos z),

      cos z = sin(phi) sin(delta) + cos(phi) cos(delta) cos(h),

  h = 2 pi (t mod day)/day + longitude - pi the hour angle (local noon at h = 0; at
  t = 0 longitude 0 is at midnight, as in GFDL's diurnal_solar). Without it, the
  exact average of that over the hour angle (e.g. Hartmann 1994, Global Physical
  Climatology, eq. 2.15):

      Q = S0 (a/r)^2 / pi (h0 sin(phi) sin(delta) + cos(phi) cos(delta) sin(h0)),
      cos(h0) = -tan(phi) tan(delta) clipped to [-1, 1] (polar night / polar day).

  The equation of time is ignored (the day is exactly ``day_length``).

* ``"frierson"``: the idealized annual-mean profile of Frierson, Held &
  Zurita-Gotor (2006, J. Atmos. Sci. 63, 2548-2566), Isca's default
  (``do_seasonal = .false.``),

      Q = (S0 / 4) [1 + delta_s (1 - 3 sin^2 phi) / 4],   delta_s = 1.4,

  whose global mean is S0/4 exactly (the second Legendre polynomial averages to zero).

S0 = 1360 W m-2 as in Frierson et al. (2006) and Isca (``solar_constant``). The
idealized aquaplanet is circular (eccentricity 0) and, by default, at perpetual
equinox (declination 0, no seasonal cycle) with no diurnal cycle.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gcm.constants import SECONDS_PER_DAY

PROFILES = ("orbital", "frierson")


@dataclass
class Insolation:
    """Top-of-atmosphere insolation; defaults are the idealized aquaplanet (Isca)."""

    solar_constant: float = 1360.0  # S0, W m-2 (Frierson et al. 2006; Isca solar_constant)
    profile: str = "orbital"  # "orbital" geometry or Frierson's annual-mean "frierson"
    delta_s: float = 1.4  # equator-to-pole contrast of the "frierson" profile (Isca del_sol)
    obliquity: float = 23.439  # axial tilt, degrees (Isca astronomy obliq); seasonal cycle only
    eccentricity: float = 0.0  # orbital eccentricity (0: circular, the idealized planet)
    perihelion_longitude: float = 282.932  # true longitude of perihelion from NH spring
    #   equinox, degrees (Earth: Isca astronomy per = 102.932 is measured from autumn equinox)
    year_length: float = 360.0  # days per orbit (360_day calendar)
    day_length: float = SECONDS_PER_DAY  # length of a solar day, s
    equinox_day: float = 0.0  # day of the year (since t = 0) of the NH spring equinox
    diurnal_cycle: bool = False  # True: instantaneous; False: mean over the hour angle
    seasonal_cycle: bool = False  # True: declination follows the orbit; False: perpetual
    perpetual_declination: float = 0.0  # declination without seasonal cycle, degrees (equinox)

    def __post_init__(self):
        if self.profile not in PROFILES:
            raise ValueError(f"Insolation.profile must be one of {PROFILES}, "
                             f"found {self.profile!r}")
        if not 0.0 <= self.eccentricity < 1.0:
            raise ValueError(f"Insolation.eccentricity must be in [0, 1), "
                             f"found {self.eccentricity}")
        if self.profile == "frierson" and (self.diurnal_cycle or self.seasonal_cycle):
            raise ValueError("Insolation.profile 'frierson' is an annual, daily mean: "
                             "it takes neither diurnal_cycle nor seasonal_cycle")

    def __call__(self, latitude, longitude, seconds_since_start: float) -> np.ndarray:
        """SOLIN, W m-2, same shape as ``latitude`` (radians); ``longitude`` (radians)
        broadcasts against it and matters only with the diurnal cycle;
        ``seconds_since_start`` is a scalar time, s."""
        lat = np.asarray(latitude, dtype=np.float64)
        if self.profile == "frierson":
            p2 = (1.0 - 3.0 * np.sin(lat) ** 2) / 4.0
            return 0.25 * self.solar_constant * (1.0 + self.delta_s * p2)
        declination, distance = self.declination_and_distance(seconds_since_start)
        flux = self.solar_constant / distance**2
        sin_lat, cos_lat = np.sin(lat), np.cos(lat)
        sin_dec, cos_dec = np.sin(declination), np.cos(declination)
        if self.diurnal_cycle:
            frac_of_day = np.mod(seconds_since_start / self.day_length, 1.0)
            hour_angle = 2.0 * np.pi * frac_of_day + np.asarray(longitude) - np.pi
            cos_zenith = sin_lat * sin_dec + cos_lat * cos_dec * np.cos(hour_angle)
            return np.broadcast_to(flux * np.maximum(cos_zenith, 0.0), lat.shape).copy()
        h0 = sunset_hour_angle(sin_lat * sin_dec, cos_lat * cos_dec)
        daily = flux / np.pi * (h0 * sin_lat * sin_dec + cos_lat * cos_dec * np.sin(h0))
        # guard against a negative round-off where the Sun barely rises
        return np.maximum(daily, 0.0)

    def declination_and_distance(self, seconds_since_start: float) -> tuple[float, float]:
        """Solar declination (radians) and Sun-planet distance over the semi-major axis
        at time ``seconds_since_start`` (s)."""
        e = self.eccentricity
        perihelion = np.deg2rad(self.perihelion_longitude)
        sin_obliquity = np.sin(np.deg2rad(self.obliquity))
        if not self.seasonal_cycle:
            declination = np.deg2rad(self.perpetual_declination)
            if e == 0.0 or sin_obliquity == 0.0:
                return float(declination), 1.0
            # perpetual season: the distance of the point of the orbit (in northern
            # spring or summer) where the Sun has this declination
            true_longitude = np.arcsin(np.clip(np.sin(declination) / sin_obliquity, -1.0, 1.0))
            distance = (1.0 - e * e) / (1.0 + e * np.cos(true_longitude - perihelion))
            return float(declination), float(distance)
        # the mean anomaly grows uniformly in time; anchor it at the spring equinox
        m_equinox = _mean_anomaly(-perihelion, e)
        days = seconds_since_start / self.day_length - self.equinox_day
        eccentric = _solve_kepler(m_equinox + 2.0 * np.pi * days / self.year_length, e)
        true_anomaly = 2.0 * np.arctan2(np.sqrt(1.0 + e) * np.sin(eccentric / 2.0),
                                        np.sqrt(1.0 - e) * np.cos(eccentric / 2.0))
        declination = np.arcsin(sin_obliquity * np.sin(true_anomaly + perihelion))
        return float(declination), float(1.0 - e * np.cos(eccentric))


def sunset_hour_angle(sin_product, cos_product) -> np.ndarray:
    """Half-length of daylight h0 (radians, 0..pi) from sin(phi) sin(delta) and
    cos(phi) cos(delta): cos h0 = -tan(phi) tan(delta), clipped for polar night (0) and
    polar day (pi); at the poles (cos product 0) day or night follows the sign of the
    sin product (h0 = pi/2 when both vanish: the pole at equinox, whose insolation is 0)."""
    sin_product = np.asarray(sin_product, dtype=np.float64)
    cos_product = np.asarray(cos_product, dtype=np.float64)
    lit = cos_product > 0.0
    # at a pole any |ratio| > 1 of the right sign selects polar day or night
    ratio = np.where(lit, -sin_product / np.where(lit, cos_product, 1.0),
                     -2.0 * np.sign(sin_product))
    return np.arccos(np.clip(ratio, -1.0, 1.0))


def _mean_anomaly(true_anomaly: float, e: float) -> float:
    """Mean anomaly (radians) of a point of the orbit with this true anomaly."""
    eccentric = 2.0 * np.arctan2(np.sqrt(1.0 - e) * np.sin(true_anomaly / 2.0),
                                 np.sqrt(1.0 + e) * np.cos(true_anomaly / 2.0))
    return eccentric - e * np.sin(eccentric)


def _solve_kepler(mean_anomaly: float, e: float) -> float:
    """Eccentric anomaly E (radians) with E - e sin E = M, by Newton's method: from
    E = M + e sin M (or pi for e >= 0.8) it converges in a few iterations for e < 1."""
    m = np.mod(mean_anomaly, 2.0 * np.pi)
    eccentric = m + e * np.sin(m) if e < 0.8 else np.pi
    for _ in range(50):
        step = (eccentric - e * np.sin(eccentric) - m) / (1.0 - e * np.cos(eccentric))
        eccentric -= step
        if abs(step) < 1e-15:
            break
    return eccentric
