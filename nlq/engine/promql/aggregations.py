"""PromQL aggregation operators, following prometheus/promql/engine.go."""

from __future__ import annotations

import math

import numpy as np

from nlq.engine.promql.evaluator import (
    NAME,
    PromQLError,
    Scalar,
    String,
    Vector,
    VSeries,
    go_format_float,
    kahan_rows,
    label_key,
)
from nlq.engine.promql.functions import quantile

META = (NAME, "__type__", "__unit__")


def grouping_labels(labels: dict[str, str], grouping: tuple[str, ...], without: bool) -> dict[str, str]:
    if without:
        return {k: v for k, v in labels.items() if k not in grouping and k not in META}
    return {k: v for k, v in labels.items() if k in grouping}


def aggregate(ev, node, times):
    op = node.op.lower()
    param = None
    if node.param is not None:
        value = ev.eval(node.param, times)
        if op == "count_values":
            if not isinstance(value, String):
                raise PromQLError("count_values needs a string parameter")
            param = value.value
        elif isinstance(value, Scalar):
            param = value.values
        else:
            raise PromQLError(f"{op} needs a scalar parameter")
    vec = ev.eval(node.expr, times)
    if not isinstance(vec, Vector):
        raise PromQLError(f"expected type instant vector in aggregation expression, got {type(vec).__name__.lower()}")
    grouping = tuple(node.grouping or ())
    without = bool(node.without)
    n = len(times)

    if op in ("topk", "bottomk", "limitk", "limit_ratio"):
        return _aggregation_k(op, param, vec, grouping, without, n)
    if op == "count_values":
        return _count_values(param, vec, grouping, without, n)

    groups: dict[tuple, tuple[dict, list[VSeries]]] = {}
    for s in vec.series:
        g = grouping_labels(s.labels, grouping, without)
        groups.setdefault(label_key(g), (g, []))[1].append(s)
    out = []
    with np.errstate(all="ignore"):
        for labels, members in groups.values():
            vals = np.vstack([s.values for s in members])
            mask = np.vstack([s.present for s in members])
            any_present = mask.any(axis=0)
            count = mask.sum(axis=0)
            if op == "sum":
                result = kahan_rows(vals, mask)
            elif op == "avg":
                result = _avg(vals, mask, count)
            elif op == "count":
                result = count.astype(float)
            elif op == "group":
                result = np.ones(n)
            elif op in ("min", "max"):
                result = _minmax(vals, mask, op)
            elif op in ("stddev", "stdvar"):
                result = _variance(vals, mask, count)
                if op == "stddev":
                    result = np.sqrt(result)
            elif op == "quantile":
                result = np.full(n, np.nan)
                for i in np.nonzero(any_present)[0]:
                    result[i] = quantile(float(param[i]), vals[mask[:, i], i])
            else:
                raise PromQLError(f"aggregation {op}() is not supported by this engine")
            drop = any(s.drop_name for s in members) and NAME in labels
            out.append(VSeries(labels, result, any_present, drop))
    return Vector([s for s in out if s.present.any()])


def _avg(vals, mask, count):
    s = kahan_rows(vals, mask)
    with np.errstate(all="ignore"):
        mean = s / count
        finite_inputs = np.all(np.where(mask, np.isfinite(vals), True), axis=0)
        overflow = np.isinf(mean) & finite_inputs
        if overflow.any():
            alt = kahan_rows(vals / np.where(count == 0, 1, count), mask)
            mean = np.where(overflow, alt, mean)
    return mean


def _minmax(vals, mask, op):
    fill = np.inf if op == "min" else -np.inf
    real = mask & ~np.isnan(vals)
    data = np.where(real, vals, fill)
    result = data.min(axis=0) if op == "min" else data.max(axis=0)
    has_real = real.any(axis=0)
    return np.where(has_real, result, np.nan)


def _variance(vals, mask, count):
    n = vals.shape[1]
    result = np.full(n, np.nan)
    for i in range(n):
        xs = vals[mask[:, i], i]
        if len(xs) == 0:
            continue
        if not np.all(np.isfinite(xs)):
            result[i] = np.nan
            continue
        c = 0.0
        mean = 0.0
        acc = 0.0
        for x in xs:
            c += 1
            delta = x - mean
            mean += delta / c
            acc += delta * (x - mean)
        result[i] = acc / c
    return result


def _aggregation_k(op, param, vec, grouping, without, n):
    if param is None:
        raise PromQLError(f"{op} needs a parameter")
    if op != "limit_ratio":
        if np.all(param < 1):
            return Vector([])
        if np.any(np.isnan(param)):
            raise PromQLError("Parameter value is NaN")
        if np.any(param >= 9.223372036854775807e18):
            raise PromQLError(f"Scalar value {float(np.max(param))} overflows int64")
        if np.any(param <= -9.223372036854775807e18):
            raise PromQLError(f"Scalar value {float(np.min(param))} underflows int64")
    elif np.any(np.isnan(param)):
        raise PromQLError("Ratio value is NaN")
    group_of = []
    order: dict[tuple, int] = {}
    for s in vec.series:
        key = label_key(grouping_labels(s.labels, grouping, without))
        group_of.append(order.setdefault(key, len(order)))
    # per step selection of series indices
    selected = np.zeros((len(vec.series), n), dtype=bool)
    instant_order: list[int] = []
    for i in range(n):
        p = float(param[i])
        by_group: dict[int, list[int]] = {}
        for si, s in enumerate(vec.series):
            if s.present[i]:
                by_group.setdefault(group_of[si], []).append(si)
        for g in sorted(by_group):
            members = by_group[g]
            if op == "limit_ratio":
                chosen = [si for si in members if _ratio_keep(vec.series[si].labels, p)]
            else:
                k = min(int(p), len(vec.series))
                if k < 1:
                    continue
                if op == "limitk":
                    chosen = members[:k]
                else:
                    def sort_key(si, desc=(op == "topk"), i=i):
                        v = float(vec.series[si].values[i])
                        if math.isnan(v):
                            return (1, 0.0)
                        return (0, -v if desc else v)

                    chosen = sorted(members, key=sort_key)[:k]
            for si in chosen:
                selected[si, i] = True
            if n == 1:
                instant_order.extend(chosen)
    if n == 1:
        out = [VSeries(vec.series[si].labels, vec.series[si].values, np.ones(1, bool), vec.series[si].drop_name)
               for si in instant_order]
        return Vector(out)
    out = []
    for si, s in enumerate(vec.series):
        if selected[si].any():
            out.append(VSeries(s.labels, np.where(selected[si], s.values, np.nan), selected[si], s.drop_name))
    return Vector(out)


def _ratio_keep(labels: dict[str, str], ratio: float) -> bool:
    import hashlib

    text = "\xff".join(f"{k}\xff{v}" for k, v in sorted(labels.items()))
    h = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")
    frac = h / 2**64
    if ratio >= 0:
        return frac < ratio
    return frac >= 1.0 + ratio


def _count_values(label, vec, grouping, without, n):
    if not label:
        raise PromQLError(f"invalid label name {label!r}")
    counts: dict[tuple, tuple[dict, np.ndarray]] = {}
    for s in vec.series:
        base = grouping_labels(s.labels, grouping, without)
        for i in np.nonzero(s.present)[0]:
            labels = dict(base)
            labels[label] = go_format_float(float(s.values[i]))
            key = label_key(labels)
            if key not in counts:
                counts[key] = (labels, np.zeros(n))
            counts[key][1][i] += 1
    return Vector([VSeries(lbl, c, c > 0) for lbl, c in counts.values()])
