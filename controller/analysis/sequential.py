"""Anytime-valid evidence: a test that may be read at every look and still errs at most alpha.

A rollout judges the same window again at every interval while its samples grow. A fixed-sample
p-value read at each look rejects a true "no harm" far more often than alpha (peeking). Here a
look's fixed-sample statistic is turned into an e-value, the value at this look of a nonnegative
supermartingale under "no harm", and Ville's inequality bounds the chance that it ever reaches
1/alpha, at any look of a window however many there are, by alpha.

The supermartingale is Robbins' normal mixture (Robbins 1970, "Statistical methods related to the
law of the iterated logarithm"; Howard, Ramdas, McAuliffe and Sekhon 2021, "Time-uniform,
nonparametric, nonasymptotic confidence sequences", Ann. Statist. 49(2), section 3 and the
one-sided mixture of Proposition 6 there; the mSPRT of Johari, Koomen, Pekelis and Walsh 2022,
"Always valid inference", Operations Research 70(3), is the same mixture for A/B tests). For a
statistic z that is, over `n` (effective) samples, a standardised sum, and mixing variance rho^2:

    one-sided   log E = log 2 - log(1 + n rho^2)/2 + r z^2/2 + log Phi(z sqrt(r))
    d degrees   log E = -d log(1 + n rho^2)/2 + r X^2/2            with r = n rho^2 / (1 + n rho^2)

(the second for a chi-squared statistic X^2 on d degrees of freedom, such as a test of "same
distribution" over d + 1 bins). That a rank or exact test's statistic behaves as such a sum for
large samples is the time-uniform central limit theorem of Waudby-Smith, Arbour, Sinha, Kennedy
and Ramdas 2024 ("Time-uniform central limit theory and asymptotic confidence sequences", Ann.
Statist.); small samples sit under a wide boundary, and the property tests check the rate.

rho tunes where the boundary is tightest: Howard et al.'s choice for intrinsic time m,
rho^2 = (-2 log alpha + log(1 - 2 log alpha)) / m, with m = TIGHTEST_AT effective samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import special

__all__ = [
    "TIGHTEST_AT",
    "Evidence",
    "anytime_p_value",
    "effective_samples",
    "one_sided_evidence",
    "spread_evidence",
    "z_of",
]

# Effective samples at which the boundary is tightest: where a rollout's windows usually decide.
TIGHTEST_AT = 1000.0
_Z_LIMIT = 37.0  # the normal score of a p-value of 1e-300


@dataclass(frozen=True)
class Evidence:
    """A look's e-value (as its log) and the anytime-valid p-value it gives, min(1, 1/E)."""

    log_e: float

    @property
    def p_value(self) -> float:
        return anytime_p_value(self.log_e)


def anytime_p_value(log_e: float) -> float:
    return 1.0 if log_e <= 0 else math.exp(-log_e)


def effective_samples(candidate: int, stable: int) -> float:
    """n1 n2 / (n1 + n2): the samples a two-sample comparison's variance behaves as; 0 if either is empty."""
    total = candidate + stable
    return 0.0 if candidate <= 0 or stable <= 0 else candidate * stable / total


def z_of(one_sided_p: float) -> float:
    """The standard normal score whose upper tail is `one_sided_p` (a NaN p-value gives 0: no evidence)."""
    if not one_sided_p == one_sided_p:  # NaN
        return 0.0
    # Clipped where the normal tail leaves float range: a p-value of exactly 0 or 1 is still a number.
    return min(max(-float(special.ndtri(one_sided_p)), -_Z_LIMIT), _Z_LIMIT)


def _mixing(alpha: float) -> float:
    """rho^2 per effective sample, Howard et al.'s tightest choice at TIGHTEST_AT samples."""
    level = -2.0 * math.log(alpha)
    return (level + math.log1p(level)) / TIGHTEST_AT


def one_sided_evidence(z: float, samples: float, alpha: float) -> Evidence:
    """Evidence that the mean of a standardised sum over `samples` is above 0, from its score `z`."""
    if samples <= 0:
        return Evidence(log_e=-math.inf)
    spread = samples * _mixing(alpha)
    ratio = spread / (1.0 + spread)
    log_e = math.log(2.0) - math.log1p(spread) / 2 + ratio * z * z / 2 + float(special.log_ndtr(z * math.sqrt(ratio)))
    return Evidence(log_e=log_e)


def spread_evidence(chi_square: float, degrees: int, samples: float, alpha: float) -> Evidence:
    """Evidence against "no difference" from a chi-squared statistic on `degrees` degrees of freedom."""
    if samples <= 0 or degrees <= 0:
        return Evidence(log_e=-math.inf)
    spread = samples * _mixing(alpha)
    ratio = spread / (1.0 + spread)
    return Evidence(log_e=-degrees * math.log1p(spread) / 2 + ratio * max(chi_square, 0.0) / 2)
