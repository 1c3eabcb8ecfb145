"""The baseline of bench_batch.py's `repeat` and `assets` cases: the script a user writes from docs/design.md §3–4
alone, without the package — a fresh PuLP model per profile, solved with HiGHS, the cost only (no marginal cost,
no independent check, no checkpoints, no reasons, no validation).

It reads the same files as `python -m optimizer batch` (profiles CSV/Parquet, quotes CSV, regime TOML, and with
`--assets` an assets CSV) with pandas, csv and tomllib, and carries the model's terms the way the document states
them, in units of R:

    R = min(cap, share_cap·assets, max(floor, volume_rate·volume, hot_rate·hot + cold_rate·cold))
    κ_j: 0 when paid later than max_days_to_pay, or unlicensed where the regime requires a licence (insurance may be
         fronted); else the rating credit (0 below min_rating; the exact rating's entry, else its bucket's, else 1),
         × derivative_credit_factor for a derivative (that factor alone when collateralized), × the state-backed
         factor for a quote excluding state-backed attacks. Quotes with κ = 0 are not columns.
    c_a = κ_a·(1 − haircut_a): κ_a = 0 when paid later than max_days_to_pay, 1 for a JGB, else the rating credit.
    columns: C ∈ [0, liquid/R], z (0, or free for the shortfall), s_j ∈ [0, max_share_j], A_a ∈ [0, max_amount_a/R],
             y_j ∈ {0, 1} for a quote with a minimum line or a flat fee
    min  carry·C + Σ_j multiplier·ROL_j·(1 + fronting_j)·l_j·s_j + Σ_a cost_a·A_a + Σ_j fee_j/R·y_j
         (cost_a = cost_of_capital − yield_a held, fee_rate_a promised)
    for each peril group g and x ∈ {1} ∪ {a_j, a_j + l_j} clipped to [0, 1]:
         C + z + Σ_{j covers g} κ_j·r_j(x)·s_j + Σ_a c_a·A_a ≥ x
    with σ = second_event_share > 0, for each ordered pair of groups (g₁, g₂) and each pair
         (x₁, x₂) ∈ {0, 1, a_j: j covers g₁} × {0, σ, a_j: j covers g₂} (clipped to [0, 1] × [0, σ]):
         C + z + Σ_j κ_j·min(c₁_j·r_j(x₁) + c₂_j·r_j(x₂), l_j·(1 + reinstatements_j))·s_j + Σ_a c_a·A_a ≥ x₁ + x₂
    C + z + Σ_{a held} c_a·A_a ≥ min_cash_share;  insurance and derivative credit κ_j·r_j(1)·s_j ≤ their caps;
    Σ_{a of kind k} c_a·A_a ≤ max_share.<k>;  Σ_{j of c} κ_j·r_j(1)·s_j + Σ_{a of c} c_a·A_a ≤ max_counterparty_share
    (collateralized derivatives and JGBs not counted);  C + Σ_{a held} A_a ≤ liquid/R when a held asset is eligible;
    s_j − min_j·y_j ≥ 0,  s_j − max_j·y_j ≤ 0.

Where no compliant mix exists it does what the package does: the least shortfall first, then the least cost at that
shortfall (two more fresh models). Writes `exchange_id,status,annual_cost_jpy` as CSV, like user_script.py.

Run:  .venv/bin/python benchmarks/user_script_terms.py PROFILES QUOTES REGIME OUT.csv [--assets ASSETS] [--limit N]
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import sys
import tomllib

import pandas as pd
import pulp

RATINGS = ("AAA", "AA+", "AA", "AA-", "A+", "A", "A-", "BBB+", "BBB", "BBB-",
           "BB+", "BB", "BB-", "B+", "B", "B-", "CCC+", "CCC", "CCC-", "NR")
PERILS = ("external_hack", "insider_theft", "vendor_compromise")
HELD = ("deposit", "jgb")
ASSET_SHARE = {"deposit": 1.0, "jgb": 1.0, "bank_guarantee": 0.0, "credit_line": 0.0, "parent_guarantee": 0.0}
INF = math.inf


def solver() -> pulp.HiGHS:
    """HiGHS with the settings docs/design.md gives: one thread, MIP gaps 1e-9 / 1e-12, feasibility 1e-10, 60 s."""
    return pulp.HiGHS(msg=False, gapRel=1e-9, gapAbs=1e-12, threads=1, timeLimit=60.0,
                      primal_feasibility_tolerance=1e-10, dual_feasibility_tolerance=1e-10,
                      mip_feasibility_tolerance=1e-10)


# ------------------------------------------------------------------------------------------------ the files

def number(text, default: float) -> float:
    text = "" if text is None else str(text).strip()
    return default if text == "" else float(text)


def flag(text, default: bool) -> bool:
    text = "" if text is None else str(text).strip().lower()
    return default if text == "" else text == "true"


def read_regime(path: str) -> dict:
    with open(path, "rb") as fh:
        raw = tomllib.load(fh)
    req, elig = raw.get("requirement", {}), dict(raw.get("eligibility", {}))
    shares = dict(ASSET_SHARE, **elig.pop("assets", {}).get("max_share", {}))
    return {
        "volume_rate": req.get("volume_rate", 0.0), "hot_wallet_rate": req.get("hot_wallet_rate", 0.0),
        "cold_wallet_rate": req.get("cold_wallet_rate", 0.0), "floor_jpy": req.get("floor_jpy", 0.0),
        "cap_jpy": req.get("cap_jpy", INF), "share_cap": req.get("max_share_of_customer_assets", INF),
        "perils": tuple(req.get("perils", PERILS)), "sigma": req.get("second_event_share", 0.0),
        "min_cash_share": elig.get("min_cash_share", 0.0), "max_insurance_share": elig.get("max_insurance_share", 1.0),
        "max_derivative_share": elig.get("max_derivative_share", 0.0),
        "max_counterparty_share": elig.get("max_counterparty_share", 1.0), "min_rating": elig.get("min_rating", "BBB-"),
        "derivative_credit_factor": elig.get("derivative_credit_factor", 0.7),
        "require_licensed": elig.get("require_licensed", False),
        "state_backed_factor": elig.get("state_backed_exclusion_factor", 1.0),
        "max_days_to_pay": elig.get("max_days_to_pay", INF), "asset_shares": shares,
        "rating_credit": raw.get("rating_credit", {}),
    }


def read_quotes(path: str) -> list[dict]:
    out = []
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            perils = (row.get("perils") or "all").strip()
            out.append({
                "id": row["quote_id"], "kind": row["kind"], "counterparty": row["counterparty"],
                "rating": row["rating"].strip(), "attachment": float(row["attachment"]), "limit": float(row["limit"]),
                "basis": (row.get("layer_basis") or "jpy").strip(), "rol": float(row["rate_on_line"]),
                "max_share": number(row.get("max_share"), 1.0), "min_share": number(row.get("min_share"), 0.0),
                "fee": number(row.get("fixed_fee_jpy"), 0.0),
                "perils": set(PERILS) if perils == "all" else {p.strip() for p in perils.split(";")},
                "collateralized": flag(row.get("collateralized"), False),
                "for": (row.get("exchange_id") or "").strip() or None,
                "max_limit_jpy": number(row.get("max_limit_jpy"), INF),
                "licensed": flag(row.get("licensed_in_japan"), True),
                "fronting": number(row.get("fronting_fee_rate"), 0.0),
                "state_backed_excluded": "state_backed" in (row.get("exclusions") or ""),
                "reinstatements": number(row.get("reinstatements"), 0.0),
                "days_to_pay": number(row.get("days_to_pay"), 0.0),
                "form": (row.get("legal_form") or "").strip() or row["kind"],
            })
    return out


def read_assets(path: str | None) -> list[dict]:
    if not path:
        return []
    out = []
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            out.append({
                "id": row["asset_id"], "kind": row["kind"].strip(), "counterparty": (row.get("counterparty") or "").strip(),
                "rating": (row.get("rating") or "").strip(), "haircut": number(row.get("haircut"), 0.0),
                "yield": number(row.get("yield"), 0.0), "fee_rate": number(row.get("fee_rate"), 0.0),
                "max_amount_jpy": number(row.get("max_amount_jpy"), INF),
                "days_to_pay": number(row.get("days_to_pay"), 0.0),
                "for": (row.get("exchange_id") or "").strip() or None,
            })
    return out


# ------------------------------------------------------------------------------------------------ the rules

def rating_credit(rating: str, regime: dict) -> float:
    if RATINGS.index(rating) > RATINGS.index(regime["min_rating"]):
        return 0.0
    table = regime["rating_credit"]
    return float(table[rating]) if rating in table else float(table.get(rating.rstrip("+-"), 1.0))


def kappa(q: dict, regime: dict) -> float:
    if q["days_to_pay"] > regime["max_days_to_pay"]:
        return 0.0
    if (regime["require_licensed"] and q["form"] != "derivative" and not q["licensed"]
            and not (q["form"] == "insurance" and q["fronting"] > 0)):
        return 0.0
    derivative = q["kind"] == "derivative"
    if derivative and q["collateralized"]:
        k = regime["derivative_credit_factor"]
    else:
        k = rating_credit(q["rating"], regime) * (regime["derivative_credit_factor"] if derivative else 1.0)
    return k * (regime["state_backed_factor"] if q["state_backed_excluded"] else 1.0)


def asset_kappa(a: dict, regime: dict) -> float:
    if a["days_to_pay"] > regime["max_days_to_pay"]:
        return 0.0
    return 1.0 if a["kind"] == "jgb" else rating_credit(a["rating"], regime)


def requirement(p: dict, regime: dict) -> float:
    assets, hot = p["customer_assets_jpy"], p["customer_assets_jpy"] * p["hot_wallet_share"]
    by_assets = regime["hot_wallet_rate"] * hot + regime["cold_wallet_rate"] * (assets - hot)
    ceiling = min(regime["cap_jpy"], regime["share_cap"] * assets if regime["share_cap"] < INF else INF)
    return min(ceiling, max(regime["floor_jpy"], regime["volume_rate"] * p["annual_trading_volume_jpy"], by_assets))


def r(x: float, a: float, l: float) -> float:
    """What a 100% line pays for a loss x."""
    return min(max(x - a, 0.0), l)


# ------------------------------------------------------------------------------------------------ the model

def model(p: dict, quotes: list[dict], assets: list[dict], regime: dict, free_gap: bool):
    """A fresh PuLP model for one profile (units of R). Returns (problem, cost expression, z, R)."""
    R = requirement(p, regime)
    me = p["exchange_id"]
    qs = [(q, k) for q in quotes if q["for"] in (None, me) for k in [kappa(q, regime)] if k > 0]
    ats = [(a, k * (1.0 - a["haircut"])) for a in assets if a["for"] in (None, me)
           for k in [asset_kappa(a, regime)] if k > 0]
    liquid = p["liquid_capital_jpy"] / R
    prob = pulp.LpProblem("reserve", pulp.LpMinimize)
    C = prob.add_variable("cash", lowBound=0.0, upBound=None if liquid == INF else liquid)
    z = prob.add_variable("shortfall", lowBound=0.0, upBound=None if free_gap else 0.0)
    att, lim, agg, s, y = [], [], [], [], {}
    cost = [p["carry"] * C]
    for j, (q, k) in enumerate(qs):
        if q["basis"] == "requirement":
            a, l = q["attachment"], min(q["limit"] * R, q["max_limit_jpy"]) / R
        else:
            a, l = q["attachment"] / R, q["limit"] / R
        att.append(a), lim.append(l), agg.append(l * (1.0 + q["reinstatements"]))
        s.append(prob.add_variable(f"s{j}", lowBound=0.0, upBound=q["max_share"]))
        cost.append(p["premium_multiplier"] * q["rol"] * (1.0 + q["fronting"]) * l * s[j])
        if q["min_share"] > 0 or q["fee"] > 0:
            y[j] = prob.add_variable(f"y{j}", cat=pulp.LpBinary)
            cost.append(q["fee"] / R * y[j])
            prob += s[j] - q["min_share"] * y[j] >= 0
            prob += s[j] - q["max_share"] * y[j] <= 0
    A = []
    for i, (a, c) in enumerate(ats):
        A.append(prob.add_variable(f"A{i}", lowBound=0.0,
                                   upBound=None if a["max_amount_jpy"] == INF else a["max_amount_jpy"] / R))
        cost.append(((p["cost_of_capital"] - a["yield"]) if a["kind"] in HELD else a["fee_rate"]) * A[i])
    reserve = C + z + pulp.lpSum(c * A[i] for i, (a, c) in enumerate(ats))
    # peril groups: perils covered by the same quotes
    groups: dict[tuple, None] = {}
    for peril in regime["perils"]:
        groups.setdefault(tuple(peril in q["perils"] for q, _ in qs), None)
    groups = list(groups)
    n = len(qs)
    for cov in groups:
        for x in {1.0, *(min(max(v, 0.0), 1.0) for j in range(n) for v in (att[j], att[j] + lim[j]))}:
            prob += reserve + pulp.lpSum(qs[j][1] * r(x, att[j], lim[j]) * s[j] for j in range(n) if cov[j]) >= x
    sigma = regime["sigma"]
    if sigma > 0:  # two losses in one year
        for c1 in groups:
            xs1 = {0.0, 1.0, *(min(max(att[j], 0.0), 1.0) for j in range(n) if c1[j])}
            for c2 in groups:
                xs2 = {0.0, sigma, *(min(max(att[j], 0.0), sigma) for j in range(n) if c2[j])}
                for x1 in xs1:
                    for x2 in xs2:
                        paid = [min(c1[j] * r(x1, att[j], lim[j]) + c2[j] * r(x2, att[j], lim[j]), agg[j])
                                for j in range(n)]
                        prob += reserve + pulp.lpSum(qs[j][1] * paid[j] * s[j] for j in range(n)
                                                     if paid[j] > 0) >= x1 + x2
    held = [i for i, (a, _) in enumerate(ats) if a["kind"] in HELD]
    prob += C + z + pulp.lpSum(ats[i][1] * A[i] for i in held) >= regime["min_cash_share"]
    top = [qs[j][1] * r(1.0, att[j], lim[j]) for j in range(n)]
    for derivative, cap in ((False, "max_insurance_share"), (True, "max_derivative_share")):
        terms = [top[j] * s[j] for j in range(n) if (qs[j][0]["kind"] == "derivative") == derivative and top[j] > 0]
        if terms:
            prob += pulp.lpSum(terms) <= regime[cap]
    for kind in sorted({a["kind"] for a, _ in ats}):
        prob += pulp.lpSum(c * A[i] for i, (a, c) in enumerate(ats) if a["kind"] == kind) <= \
            regime["asset_shares"][kind]
    names = {q["counterparty"] for q, _ in qs if not (q["kind"] == "derivative" and q["collateralized"])} | \
        {a["counterparty"] for a, _ in ats if a["counterparty"]}
    for name in sorted(names):
        terms = [top[j] * s[j] for j, (q, _) in enumerate(qs) if q["counterparty"] == name and top[j] > 0
                 and not (q["kind"] == "derivative" and q["collateralized"])]
        terms += [c * A[i] for i, (a, c) in enumerate(ats) if a["counterparty"] == name]
        if terms:
            prob += pulp.lpSum(terms) <= regime["max_counterparty_share"]
    if held and liquid < INF:
        prob += C + pulp.lpSum(A[i] for i in held) <= liquid
    total = pulp.lpSum(cost)
    return prob, total, z, R


def cost_of(p: dict, quotes: list[dict], assets: list[dict], regime: dict) -> tuple[str, float]:
    """A fresh model; if infeasible, two more: least shortfall, then least cost at it."""
    prob, total, _, R = model(p, quotes, assets, regime, free_gap=False)
    prob += total
    if prob.solve(solver()).status == 1:  # optimal
        return "optimal", pulp.value(total) * R
    prob, total, z, R = model(p, quotes, assets, regime, free_gap=True)
    prob += z
    prob.solve(solver())
    least = z.varValue
    prob, total, z, R = model(p, quotes, assets, regime, free_gap=True)
    z.upBound = least + 1e-12
    prob += total
    prob.solve(solver())
    return ("shortfall" if least > 1e-9 else "optimal"), pulp.value(total) * R


def profiles(path: str, limit: int | None) -> list[dict]:
    frame = (pd.read_parquet if path.endswith(".parquet") else pd.read_csv)(path)
    if limit:
        frame = frame.head(limit)
    out = []
    for row in frame.to_dict("records"):
        get = lambda k, d: d if k not in row or pd.isna(row[k]) else float(row[k])  # noqa: E731
        p = {"exchange_id": str(row["exchange_id"]), "customer_assets_jpy": float(row["customer_assets_jpy"]),
             "hot_wallet_share": float(row["hot_wallet_share"]),
             "annual_trading_volume_jpy": float(row["annual_trading_volume_jpy"]),
             "cost_of_capital": float(row["cost_of_capital"]), "reserve_yield": get("reserve_yield", 0.0),
             "liquid_capital_jpy": get("liquid_capital_jpy", INF), "premium_multiplier": get("premium_multiplier", 1.0)}
        p["carry"] = p["cost_of_capital"] - p["reserve_yield"]
        out.append(p)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("profiles")
    ap.add_argument("quotes")
    ap.add_argument("regime")
    ap.add_argument("out")
    ap.add_argument("--assets", default=None, help="an assets CSV (docs/inputs.md)")
    ap.add_argument("--limit", type=int, default=None, help="only the first N profiles")
    args = ap.parse_args()
    quotes, assets, regime = read_quotes(args.quotes), read_assets(args.assets), read_regime(args.regime)
    rows = profiles(args.profiles, args.limit)
    with open(args.out, "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["exchange_id", "status", "annual_cost_jpy"])
        for p in rows:
            status, cost = cost_of(p, quotes, assets, regime)
            out.writerow([p["exchange_id"], status, repr(cost)])
    sys.stdout.flush()


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
