"""The regulatory tower as an LP (a MILP when a quote has a minimum line or a flat fee), written once, as a package
whose files are its parts (docs/design.md §4):

    scaled.py     one exchange's problem (`Instance`) and its numbers in units of R (`Scaled`)
    columns.py    the column layout, named: cash, shortfall, shares, takes
    rows.py       the row families, one function each (`ROW_FAMILIES`)
    matrix.py     the whole model as numbers (`numbers`: A, bounds, costs) for one exchange or a stack
    highs.py      the one way into HiGHS: build, options from settings.py, the status table, the banner guard,
                  "least shortfall, then least cost"
    engine.py     kept HiGHS models re-solved per structure (`Resolver`), certified bases, stacks of exchanges
    results.py    HiGHS's values → a verified Solution in JPY, binding limits
    pulp_view.py  the same numbers as a PuLP model (`solve --write-lp`, the risk view's TVaR rows)

Everything in the LP is in *units of R* (every yen amount divided by the requirement), so HiGHS sees numbers near
1 whatever the exchange's size.
"""

from .engine import Resolver, solve, solve_instance
from .scaled import Instance

__all__ = ["Instance", "Resolver", "solve", "solve_instance"]
