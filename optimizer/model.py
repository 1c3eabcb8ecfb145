"""The model's names as they were before it became a package (optimizer/lp/), so that code written against
`optimizer.model` keeps working. New code imports from optimizer.lp and its modules."""

from __future__ import annotations

from .domain import recovery  # noqa: F401
from .settings import (BINDING, FEASIBILITY, INTEGRALITY, OPTIMALITY, SAME_MATRIX, SHORTFALL_SLACK,  # noqa: F401
                        ZERO_SHARE, ZERO_SHORTFALL)
from .lp.columns import Columns  # noqa: F401
from .lp.engine import (KEEP_BASES, MARGINAL_STEP, MAX_PATTERN_BINARIES, MIP_RESOLVE, NODES,  # noqa: F401
                        REBUILD_NEW_STRUCTURE, REUSED_BASIS, SHORTFALL_PHASES, WARM_SIMPLEX, Resolver, _Kept,
                        certify_many, solve, solve_instance)
from .lp.highs import (INF, options as highs_options, pulp_solver as highs_solver, quiet_highs,  # noqa: F401
                       run_highs)
from .lp.matrix import Numbers, numbers  # noqa: F401
from .lp.pulp_view import ModelView, TowerModel, build, build_view  # noqa: F401
from .lp.results import (Raw as _Raw, Status, assemble, binding as _binding, binding_many,  # noqa: F401
                         solution_from_columns, solutions_from_columns_many)
from .lp.rows import (  # noqa: F401
    ROW_FAMILIES, Rows, counterparty_caps, credit_caps, funded_losses, liquid_capital, min_lines, repeat_losses,
)
from .lp.scaled import Instance, Scaled  # noqa: F401
