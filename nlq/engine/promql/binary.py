"""Binary operators: arithmetic, comparisons, set operators and vector matching."""

from __future__ import annotations

import numpy as np

from nlq.engine.promql.evaluator import (
    NAME,
    PromQLError,
    Scalar,
    String,
    Vector,
    VSeries,
    format_labels,
    label_key,
)

ARITH = {"+", "-", "*", "/", "%", "^", "atan2"}
COMPARE = {"==", "!=", ">", "<", ">=", "<="}
SETOPS = {"and", "or", "unless"}
META = (NAME, "__type__", "__unit__")


def arith(op: str, a, b):
    with np.errstate(all="ignore"):
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "/":
            return np.true_divide(a, b)
        if op == "%":
            return np.fmod(a, b)
        if op == "^":
            return np.power(np.asarray(a, dtype=float), b)
        if op == "atan2":
            return np.arctan2(a, b)
        if op == "==":
            return a == b
        if op == "!=":
            return a != b
        if op == ">":
            return a > b
        if op == "<":
            return a < b
        if op == ">=":
            return a >= b
        if op == "<=":
            return a <= b
    raise PromQLError(f"unknown operator {op}")


def binary(ev, node, times):
    op = node.op.lower()
    lhs = ev.eval(node.lhs, times)
    rhs = ev.eval(node.rhs, times)
    if isinstance(lhs, String) or isinstance(rhs, String):
        raise PromQLError("binary expression must contain only scalar and instant vector types")
    return_bool = bool(node.return_bool)
    if isinstance(lhs, Scalar) and isinstance(rhs, Scalar):
        r = arith(op, lhs.values, rhs.values)
        if op in COMPARE:
            r = r.astype(float)
        return Scalar(np.asarray(r, dtype=float))
    if isinstance(lhs, Vector) and isinstance(rhs, Scalar):
        return _vector_scalar(op, lhs, rhs.values, False, return_bool)
    if isinstance(lhs, Scalar) and isinstance(rhs, Vector):
        return _vector_scalar(op, rhs, lhs.values, True, return_bool)
    if not (isinstance(lhs, Vector) and isinstance(rhs, Vector)):
        raise PromQLError("binary expression must contain only scalar and instant vector types")
    matching = node.matching
    if op in SETOPS:
        return _set_op(op, lhs, rhs, matching)
    return _vector_vector(op, lhs, rhs, matching, return_bool, getattr(node, "fill_lhs", None),
                          getattr(node, "fill_rhs", None))


def _vector_scalar(op, vec: Vector, scalar, swap: bool, return_bool: bool) -> Vector:
    out = []
    for s in vec.series:
        a, b = (scalar, s.values) if swap else (s.values, scalar)
        r = arith(op, a, b)
        if op in COMPARE:
            if return_bool:
                values = r.astype(float)
                present = s.present
            else:
                values = s.values
                present = s.present & r
            drop = s.drop_name or return_bool
        else:
            values = r
            present = s.present
            drop = True
        if present.any():
            out.append(VSeries(s.labels, np.asarray(values, dtype=float), present, drop))
    return Vector(out)


def signature(labels: dict[str, str], matching) -> tuple:
    if matching is not None and matching.on:
        return tuple((k, labels.get(k, "")) for k in sorted(set(matching.labels)))
    ignore = set(matching.labels) if matching is not None else set()
    return tuple(sorted((k, v) for k, v in labels.items() if k not in ignore and k != NAME and v != ""))


def _set_op(op, lhs: Vector, rhs: Vector, matching) -> Vector:
    n = len(lhs.series[0].present) if lhs.series else (len(rhs.series[0].present) if rhs.series else 0)
    rhs_sig: dict[tuple, np.ndarray] = {}
    for s in rhs.series:
        sig = signature(s.labels, matching)
        rhs_sig[sig] = rhs_sig.get(sig, np.zeros(n, bool)) | s.present
    if op == "and":
        out = []
        for s in lhs.series:
            p = s.present & rhs_sig.get(signature(s.labels, matching), np.zeros(n, bool))
            if p.any():
                out.append(VSeries(s.labels, s.values, p, s.drop_name))
        return Vector(out)
    if op == "unless":
        out = []
        for s in lhs.series:
            p = s.present & ~rhs_sig.get(signature(s.labels, matching), np.zeros(n, bool))
            if p.any():
                out.append(VSeries(s.labels, s.values, p, s.drop_name))
        return Vector(out)
    # or
    lhs_sig: dict[tuple, np.ndarray] = {}
    for s in lhs.series:
        sig = signature(s.labels, matching)
        lhs_sig[sig] = lhs_sig.get(sig, np.zeros(n, bool)) | s.present
    out = [s for s in lhs.series]
    for s in rhs.series:
        p = s.present & ~lhs_sig.get(signature(s.labels, matching), np.zeros(n, bool))
        if p.any():
            out.append(VSeries(s.labels, s.values, p, s.drop_name))
    return Vector(out)


def _result_labels(many: dict, one: dict, op: str, matching, return_bool: bool) -> dict:
    labels = dict(many)
    if op in ARITH:
        for k in META:
            labels.pop(k, None)
    card = matching.card if matching is not None else "one-to-one"
    if card == "one-to-one":
        if matching is not None and matching.on:
            keep = set(matching.labels)
            labels = {k: v for k, v in labels.items() if k in keep}
        elif matching is not None:
            for k in matching.labels:
                labels.pop(k, None)
    if matching is not None:
        for k in matching.include:
            v = one.get(k, "")
            if v:
                labels[k] = v
            else:
                labels.pop(k, None)
    return labels


def _matched_labels(labels: dict, matching) -> dict:
    """Prometheus's Labels.MatchLabels: the `on` labels, or all but the ignored ones and the name."""
    if matching is not None and matching.on:
        return {k: v for k, v in labels.items() if k in set(matching.labels)}
    ignore = set(matching.labels) if matching is not None else set()
    return {k: v for k, v in labels.items() if k not in ignore and k != NAME}


def _vector_vector(op, lhs: Vector, rhs: Vector, matching, return_bool: bool,
                   fill_lhs: float | None = None, fill_rhs: float | None = None) -> Vector:
    has_fill = fill_lhs is not None or fill_rhs is not None
    if not lhs.series and not rhs.series:
        return Vector([])
    if (not lhs.series or not rhs.series) and not has_fill:
        return Vector([])
    n = len((lhs.series or rhs.series)[0].present)
    card = matching.card if matching is not None else "one-to-one"
    swapped = card == "one-to-many"
    many, one = (rhs, lhs) if swapped else (lhs, rhs)
    # As Prometheus (which swaps the sides of group_right before filling): fill_right stands in for
    # a missing "one" side operand and fill_left for a missing "many" side one, whichever side is which.
    fill_one, fill_many = fill_rhs, fill_lhs
    lhs_any = np.zeros(n, bool)
    for s in lhs.series:
        lhs_any |= s.present
    rhs_any = np.zeros(n, bool)
    for s in rhs.series:
        rhs_any |= s.present
    active = (lhs_any & rhs_any) if not has_fill else (lhs_any | rhs_any)
    # the "one" side: by signature, no two series at one step
    one_by_sig: dict[tuple, list[VSeries]] = {}
    for s in one.series:
        sig = signature(s.labels, matching)
        members = one_by_sig.setdefault(sig, [])
        for other in members:
            clash = s.present & other.present & active
            if clash.any():
                side = "left" if swapped else "right"
                d1, d2 = sorted([format_labels(s.labels), format_labels(other.labels)])
                match = format_labels(dict(sig))
                raise PromQLError(
                    f"found duplicate series for the match group {match} on the {side} hand-side of the "
                    f"operation: [{d1}, {d2}];many-to-many matching not allowed: matching labels must be unique "
                    "on one side")
        members.append(s)
    results: dict[tuple, VSeries] = {}
    order: list[tuple] = []
    matched_count: dict[tuple, np.ndarray] = {}
    matched_keys: dict[tuple, np.ndarray] = {}
    one_matched: dict[tuple, np.ndarray] = {}

    def emit(ms_labels, ms_values, os_labels, os_values, both, sig):
        if card == "one-to-one":
            cnt = matched_count.setdefault(sig, np.zeros(n, int))
            cnt += both
            if (cnt > 1).any():
                raise PromQLError("multiple matches for labels: many-to-one matching must be explicit "
                                  "(group_left/group_right)")
        left, right = (os_values, ms_values) if swapped else (ms_values, os_values)
        r = arith(op, left, right)
        if op in COMPARE:
            if return_bool:
                values = np.asarray(r, dtype=float)
                present = both
            else:
                values = left
                present = both & r
        else:
            values = r
            present = both
        labels = _result_labels(ms_labels, os_labels, op, matching, return_bool)
        key = label_key(labels)
        if card != "one-to-one":
            seen = matched_keys.get(key)
            if seen is not None and (seen & both).any():
                raise PromQLError("multiple matches for labels: grouping labels must ensure unique matches")
            matched_keys[key] = both if seen is None else (seen | both)
        values = np.broadcast_to(np.asarray(values, dtype=float), (n,))
        existing = results.get(key)
        if existing is None:
            results[key] = VSeries(labels, np.where(present, values, np.nan), present.copy(), return_bool)
            order.append(key)
        else:
            if (existing.present & present).any():
                raise PromQLError("vector cannot contain metrics with the same labelset")
            existing.values = np.where(present, values, existing.values)
            existing.present = existing.present | present

    for ms in many.series:
        sig = signature(ms.labels, matching)
        ones = one_by_sig.get(sig, [])
        one_any = np.zeros(n, bool)
        for os_ in ones:
            one_any |= os_.present
            both = ms.present & os_.present & active
            if not both.any():
                continue
            one_matched[sig] = one_matched.get(sig, np.zeros(n, bool)) | both
            emit(ms.labels, ms.values, os_.labels, os_.values, both, sig)
        if fill_one is not None:
            missing = ms.present & ~one_any
            if missing.any():
                fake = _matched_labels(ms.labels, matching)
                emit(ms.labels, ms.values, fake, np.full(n, fill_one), missing, sig)
    if fill_many is not None:
        for os_ in one.series:
            sig = signature(os_.labels, matching)
            missing = os_.present & ~one_matched.get(sig, np.zeros(n, bool))
            if missing.any():
                fake = _matched_labels(os_.labels, matching)
                emit(fake, np.full(n, fill_many), os_.labels, os_.values, missing, sig)
    out = [results[k] for k in order if results[k].present.any()]
    return Vector(out)
