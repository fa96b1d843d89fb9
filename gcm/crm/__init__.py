"""A two-dimensional (x–z) anelastic cloud-resolving model (CRM) for superparameterization.

Follows the System for Atmospheric Modeling (SAM; Khairoutdinov, M. F., and D. A. Randall,
2003: Cloud resolving modeling of the ARM summer 1997 IOP. J. Atmos. Sci., 60, 607–625) in
its choices: anelastic equations, Arakawa-C grid, liquid-water static energy as the
thermodynamic variable, an FFT/tridiagonal pressure solver, and (by default) SAM's
Adams–Bashforth 3 momentum step with one projection; the three-stage Runge–Kutta of Wicker,
L. J., and W. C. Skamarock, 2002 (Mon. Wea. Rev., 130, 2088–2097) in its
strong-stability-preserving (Shu–Osher) form is the other choice (see ``model``). Scalar
stages are monotone, so monotone scalar advection stays monotone over the whole step.

Modules: ``grid`` (the staggered grid), ``base_state`` (hydrostatic ρ0, θ0, π0),
``thermodynamics`` (static energy or θ, and buoyancy), ``pressure`` (the anelastic
projection), ``scalar_transport`` (monotone flux-form advection and mixing of scalars),
``momentum`` (momentum tendencies), ``model`` (state and time step), ``density_current``
(the Straka et al. 1993 test case), ``saturation_adjustment`` (cloud water, temperature and
moist buoyancy diagnosed from s_l, q_t, q_r), ``microphysics`` (Kessler warm rain: the
``Kessler`` process), ``moist_bubble`` (the Bryan & Fritsch 2002 moist benchmark and its
dry twin), ``columns`` (x-columns as GCM columns, for the GCM's schemes), ``surface_fluxes``
and ``radiation`` (the GCM's bulk fluxes and gray radiation per x-column: processes),
``budgets`` (column energy and water against the accumulated boundary fluxes), ``rce``
(radiative–convective equilibrium). Pure numpy + numba; the coupling to the GCM is a later
step.
"""

from gcm.crm.base_state import BaseState
from gcm.crm.grid import CrmGrid
from gcm.crm.model import Crm, CrmState

__all__ = ["BaseState", "Crm", "CrmGrid", "CrmState"]
