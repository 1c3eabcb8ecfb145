"""Reserve optimizer: the cheapest compliant mix of cash, insurance layers and parametric cover.

Data flows one way: files → `inputs` → domain objects → `lp` (the model) → `Solution` → views (CLI, app, exports).
"""

from . import _startup  # noqa: F401  (first: Ctrl-C while the command line is still importing → exit 130, one line)
from .domain import PERILS, RATINGS, Eligibility, ExchangeProfile, Quote, Regime, RequirementRule
from .inputs import InputError, load_profiles, load_quotes, load_regime
from .lp import Instance, solve
from .regime import credit_factor, requirement
from .solution import Line, Solution, SolveError, verify

__all__ = [
    "PERILS", "RATINGS", "Eligibility", "ExchangeProfile", "Quote", "Regime", "RequirementRule",
    "InputError", "load_profiles", "load_quotes", "load_regime",
    "Instance", "solve", "credit_factor", "requirement",
    "Line", "Solution", "SolveError", "verify",
]
