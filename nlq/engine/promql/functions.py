"""PromQL functions (float samples), following prometheus/promql/functions.go."""

from __future__ import annotations

import math

import numpy as np

from nlq.engine.promql.evaluator import (
    LOOKBACK_MS,
    NAME,
    Matrix,
    MSeries,
    PromQLError,
    Scalar,
    String,
    Vector,
    VSeries,
    date_parts,
    days_in_month,
    expand_template,
    go_regex,
    interpolate,
    kahan_sum,
    kind,
    unwrap,
)

LABEL_NAME = __import__("re").compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


# --------------------------------------------------------------------------- element-wise
def _elementwise(fn):
    def apply(ev, node, times):
        vec = ev.vector_arg(node.args[0], times)
        out = []
        with np.errstate(all="ignore"):
            for s in vec.series:
                out.append(VSeries(s.labels, fn(s.values), s.present, True))
        return Vector(out)

    return apply


def _sgn(v):
    return np.where(np.isnan(v), np.nan, np.sign(v))


def _deg(v):
    return v * 180 / math.pi


def _rad(v):
    return v * math.pi / 180


ELEMENTWISE = {
    "abs": np.abs, "ceil": np.ceil, "floor": np.floor, "exp": np.exp, "sqrt": np.sqrt,
    "ln": np.log, "log2": np.log2, "log10": np.log10, "sgn": _sgn,
    "sin": np.sin, "cos": np.cos, "tan": np.tan, "asin": np.arcsin, "acos": np.arccos,
    "atan": np.arctan, "sinh": np.sinh, "cosh": np.cosh, "tanh": np.tanh,
    "asinh": np.arcsinh, "acosh": np.arccosh, "atanh": np.arctanh,
    "deg": _deg, "rad": _rad,
}


def fn_round(ev, node, times):
    vec = ev.vector_arg(node.args[0], times)
    nearest = ev.scalar_arg(node.args[1], times) if len(node.args) > 1 else np.ones(len(times))
    out = []
    with np.errstate(all="ignore"):
        inv = 1.0 / nearest
        for s in vec.series:
            out.append(VSeries(s.labels, np.floor(s.values * inv + 0.5) / inv, s.present, True))
    return Vector(out)


def fn_clamp(ev, node, times):
    vec = ev.vector_arg(node.args[0], times)
    lo = ev.scalar_arg(node.args[1], times)
    hi = ev.scalar_arg(node.args[2], times)
    ok = ~(hi < lo)
    out = []
    for s in vec.series:
        v = _go_max(lo, _go_min(hi, s.values))
        out.append(VSeries(s.labels, v, s.present & ok, True))
    return Vector(out)


def _go_max(a, b):
    return np.where(np.isnan(a) | np.isnan(b), np.nan, np.maximum(a, b))


def _go_min(a, b):
    return np.where(np.isnan(a) | np.isnan(b), np.nan, np.minimum(a, b))


def fn_clamp_min(ev, node, times):
    vec = ev.vector_arg(node.args[0], times)
    lo = ev.scalar_arg(node.args[1], times)
    return Vector([VSeries(s.labels, _go_max(lo, s.values), s.present, True) for s in vec.series])


def fn_clamp_max(ev, node, times):
    vec = ev.vector_arg(node.args[0], times)
    hi = ev.scalar_arg(node.args[1], times)
    return Vector([VSeries(s.labels, _go_min(hi, s.values), s.present, True) for s in vec.series])


def fn_timestamp(ev, node, times):
    vec = ev.vector_arg(node.args[0], times)
    arg = unwrap(node.args[0])
    out = []
    for s in vec.series:
        ts = s.ts if (s.ts is not None and kind(arg) == "VectorSelector") else times
        out.append(VSeries(s.labels, ts / 1000.0, s.present, True))
    return Vector(out)


# --------------------------------------------------------------------------- scalars, time
def fn_time(ev, node, times):
    return Scalar(times / 1000.0)


def fn_pi(ev, node, times):
    return Scalar(np.full(len(times), math.pi))


def fn_start(ev, node, times):
    return Scalar(np.full(len(times), ev.ctx.start_ms / 1000.0))


def fn_end(ev, node, times):
    return Scalar(np.full(len(times), ev.ctx.end_ms / 1000.0))


def fn_range(ev, node, times):
    return Scalar(np.full(len(times), (ev.ctx.end_ms - ev.ctx.start_ms) / 1000.0))


def fn_step(ev, node, times):
    return Scalar(np.full(len(times), ev.ctx.step_ms / 1000.0))


def _scalar_pair(pick):
    def apply(ev, node, times):
        a = ev.scalar_arg(node.args[0], times)
        b = ev.scalar_arg(node.args[1], times)
        return Scalar(pick(a, b))

    return apply


def fn_vector(ev, node, times):
    values = ev.scalar_arg(node.args[0], times)
    return Vector([VSeries({}, values, np.ones(len(times), dtype=bool))])


def fn_scalar(ev, node, times):
    vec = ev.vector_arg(node.args[0], times)
    count = np.zeros(len(times), dtype=int)
    value = np.full(len(times), np.nan)
    for s in vec.series:
        count += s.present
        value = np.where(s.present, s.values, value)
    return Scalar(np.where(count == 1, value, np.nan))


def _date_fn(part):
    def apply(ev, node, times):
        if node.args:
            vec = ev.vector_arg(node.args[0], times)
            series = vec.series
        else:
            series = [VSeries({}, times / 1000.0, np.ones(len(times), dtype=bool))]
        out = []
        for s in series:
            vals = np.full(len(times), np.nan)
            for i in np.nonzero(s.present)[0]:
                d = date_parts(float(s.values[i]))
                vals[i] = np.nan if d is None else part(d)
            out.append(VSeries(s.labels, vals, s.present, True))
        return Vector(out)

    return apply


DATE_FUNCS = {
    "year": lambda d: d.year,
    "month": lambda d: d.month,
    "day_of_month": lambda d: d.day,
    "day_of_week": lambda d: (d.weekday() + 1) % 7,
    "day_of_year": lambda d: d.timetuple().tm_yday,
    "days_in_month": days_in_month,
    "hour": lambda d: d.hour,
    "minute": lambda d: d.minute,
}


# --------------------------------------------------------------------------- labels
def fn_label_replace(ev, node, times):
    vec = ev.vector_arg(node.args[0], times)
    dst, repl, src, regex = (_string(ev, a, times) for a in node.args[1:5])
    pattern = go_regex(regex)
    if not LABEL_NAME.match(dst) and not dst:
        raise PromQLError(f"invalid destination label name in label_replace(): {dst}")
    out = []
    for s in vec.series:
        m = pattern.match(s.labels.get(src, ""))
        if m is None:
            out.append(s)
            continue
        value = expand_template(repl, m)
        labels = dict(s.labels)
        if value:
            labels[dst] = value
        else:
            labels.pop(dst, None)
        drop = s.drop_name and dst != NAME
        out.append(VSeries(labels, s.values, s.present, drop))
    return Vector(out)


def fn_label_join(ev, node, times):
    vec = ev.vector_arg(node.args[0], times)
    dst = _string(ev, node.args[1], times)
    sep = _string(ev, node.args[2], times)
    srcs = [_string(ev, a, times) for a in node.args[3:]]
    if not dst:
        raise PromQLError(f"invalid destination label name in label_join(): {dst}")
    for src in srcs:
        if not src:
            raise PromQLError(f"invalid source label name in label_join(): {src}")
    out = []
    for s in vec.series:
        value = sep.join(s.labels.get(src, "") for src in srcs)
        labels = dict(s.labels)
        if value:
            labels[dst] = value
        else:
            labels.pop(dst, None)
        out.append(VSeries(labels, s.values, s.present, s.drop_name and dst != NAME))
    return Vector(out)


def _string(ev, node, times) -> str:
    value = ev.eval(node, times)
    if not isinstance(value, String):
        raise PromQLError("expected a string argument")
    return value.value


# --------------------------------------------------------------------------- sorting
def _sort_fn(descending: bool):
    def apply(ev, node, times):
        vec = ev.vector_arg(node.args[0], times)
        if len(times) != 1:
            return vec

        def key(s):
            v = float(s.values[0])
            if math.isnan(v):
                return (1, 0.0)
            return (0, -v if descending else v)

        present = [s for s in vec.series if s.present[0]]
        return Vector(sorted(present, key=key))

    return apply


def _sort_by_label(descending: bool):
    def apply(ev, node, times):
        vec = ev.vector_arg(node.args[0], times)
        names = [_string(ev, a, times) for a in node.args[1:]]
        if len(times) != 1:
            return vec
        present = [s for s in vec.series if s.present[0]]

        def key(s):
            return [natural_key(s.labels.get(n, "")) for n in names] + [natural_key(str(sorted(s.labels.items())))]

        return Vector(sorted(present, key=key, reverse=descending))

    return apply


def natural_key(text: str):
    import re

    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", text) if p != ""]


# --------------------------------------------------------------------------- absent
def _absent_labels(node) -> dict[str, str]:
    node = unwrap(node)
    if kind(node) == "MatrixSelector":
        node = node.vector
    if kind(node) != "VectorSelector":
        return {}
    labels: dict[str, str] = {}
    has: set[str] = set()
    for m in node.matchers:
        if m.name == NAME:
            continue
        if m.op == "=" and m.name not in has:
            labels[m.name] = m.value
            has.add(m.name)
        else:
            labels.pop(m.name, None)
    return labels


def fn_absent(ev, node, times):
    vec = ev.vector_arg(node.args[0], times)
    any_present = np.zeros(len(times), dtype=bool)
    for s in vec.series:
        any_present |= s.present
    labels = _absent_labels(node.args[0])
    return Vector([VSeries(labels, np.ones(len(times)), ~any_present)])


# --------------------------------------------------------------------------- range vectors
def _windows(m: Matrix, s: MSeries):
    lo = np.searchsorted(s.ts, m.ends - m.range_ms, side="right")
    hi = np.searchsorted(s.ts, m.ends, side="right")
    return lo, hi


def _over_time(fn, min_samples=1, keep_name=False, pass_index=False):
    """A range function computed window by window: fn(ts, values[, step index]) -> float | None."""

    def apply(ev, node, times, m: Matrix | None = None, extra=None):
        m = m if m is not None else ev.matrix_arg(node.args[-1] if extra else node.args[0], times)
        out = []
        with np.errstate(all="ignore"):
            for s in m.series:
                lo, hi = _windows(m, s)
                vals = np.full(len(times), np.nan)
                present = np.zeros(len(times), dtype=bool)
                for i in np.nonzero(hi - lo >= min_samples)[0]:
                    a, b = lo[i], hi[i]
                    r = fn(s.ts[a:b], s.values[a:b], i) if pass_index else fn(s.ts[a:b], s.values[a:b])
                    if r is None:
                        continue
                    vals[i] = r
                    present[i] = True
                if present.any():
                    out.append(VSeries(s.labels, vals, present, s.drop_name or not keep_name))
        return Vector(out)

    return apply


def _extended_window(m: Matrix, s: MSeries, i: int):
    """Samples of an anchored/smoothed window: from a lookback before its start (to its end + lookback)."""
    lb = LOOKBACK_MS
    start = m.ends[i] - m.range_ms
    end = m.ends[i] + (lb if m.modifier == "smoothed" else 0)
    a = np.searchsorted(s.ts, start - lb, side="right")
    b = np.searchsorted(s.ts, end, side="right")
    return s.ts[a:b], s.values[a:b]


def _extended(m: Matrix, times, compute):
    out = []
    for s in m.series:
        vals = np.full(len(times), np.nan)
        present = np.zeros(len(times), dtype=bool)
        for i in range(len(times)):
            ts, vs = _extended_window(m, s, i)
            if len(ts) == 0:
                continue
            r = compute(ts, vs, int(m.ends[i] - m.range_ms), int(m.ends[i]))
            if r is None:
                continue
            vals[i] = r
            present[i] = True
        if present.any():
            out.append(VSeries(s.labels, vals, present, True))
    return Vector(out)


def _extended_rate(m: Matrix, is_counter: bool, is_rate: bool):
    smoothed = m.modifier == "smoothed"

    def compute(ts, f, range_start, range_end):
        last = len(ts) - 1
        first = max(0, _search(last, lambda k: ts[k] > range_start) - 1)
        if smoothed:
            last = _search(last, lambda k: ts[k] >= range_end)
        if ts[last] <= range_start:
            return None
        if smoothed and ts[first] > range_end:
            return None
        if smoothed and ts[first] < range_start:
            left = interpolate(ts[first], f[first], ts[first + 1], f[first + 1], range_start, is_counter)
        else:
            left = float(f[first])
        if smoothed and last > 0 and ts[last] > range_end:
            right = interpolate(ts[last - 1], f[last - 1], ts[last], f[last], range_end, is_counter)
        else:
            right = float(f[last])
        result = right - left
        if is_counter:
            lo, hi = first, last
            if ts[lo] <= range_start:
                lo += 1
            if ts[hi] >= range_end:
                hi -= 1
            prev = left
            for v in f[lo:hi + 1]:
                if v < prev:
                    result += prev
                prev = v
            if right < prev:
                result += prev
        if is_rate:
            result /= m.range_ms / 1000
        return result

    return compute


def _search(n: int, pred) -> int:
    """Go's sort.Search: the smallest k in [0, n) with pred(k), else n."""
    lo, hi = 0, n
    while lo < hi:
        mid = (lo + hi) // 2
        if pred(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def _anchored_count(fn):
    def compute(ts, f, range_start, range_end):
        last_le = int(np.searchsorted(ts, range_start, side="right")) - 1
        if last_le + 1 >= len(ts):
            return None
        start = max(last_le, 0)
        return fn(ts[start:], f[start:])

    return compute


def _extrapolated(is_counter: bool, is_rate: bool):
    """rate/increase/delta, vectorised over steps: Prometheus's extrapolatedRate."""

    def apply(ev, node, times):
        m = ev.matrix_arg(node.args[0], times)
        if m.modifier:
            return _extended(m, times, _extended_rate(m, is_counter, is_rate))
        out = []
        range_s = m.range_ms / 1000
        with np.errstate(all="ignore"):
            for s in m.series:
                lo, hi = _windows(m, s)
                ok = hi - lo >= 2
                if not ok.any():
                    continue
                first = np.where(ok, lo, 0)
                last = np.where(ok, hi - 1, 0)
                v, t = s.values, s.ts
                result = v[last] - v[first]
                if is_counter and len(v) > 1:
                    resets = np.concatenate(([0.0], np.where(v[1:] < v[:-1], v[:-1], 0.0)))
                    cs = np.cumsum(resets)
                    result = result + (cs[last] - cs[first])
                first_t = t[first].astype(np.float64)
                last_t = t[last].astype(np.float64)
                range_start = (m.ends - m.range_ms).astype(np.float64)
                range_end = m.ends.astype(np.float64)
                to_start = (first_t - range_start) / 1000
                to_end = (range_end - last_t) / 1000
                sampled = (last_t - first_t) / 1000
                average = sampled / np.maximum(last - first, 1)
                threshold = average * 1.1
                to_start = np.where(to_start >= threshold, average / 2, to_start)
                if is_counter:
                    to_zero = np.where((result > 0) & (v[first] >= 0), sampled * (v[first] / result), to_start)
                    to_start = np.where(to_zero < to_start, to_zero, to_start)
                to_end = np.where(to_end >= threshold, average / 2, to_end)
                factor = np.where(sampled != 0, (sampled + to_start + to_end) / np.where(sampled != 0, sampled, 1), 1.0)
                if is_rate:
                    factor = factor / range_s
                vals = np.where(ok, result * factor, np.nan)
                out.append(VSeries(s.labels, vals, ok, True))
        return Vector(out)

    return apply


def _instant_value(is_rate: bool):
    def compute(ts, vals):
        if len(ts) < 2:
            return None
        last, prev = vals[-1], vals[-2]
        if is_rate and last < prev:
            result = last
        else:
            result = last - prev
        if is_rate:
            dt = (ts[-1] - ts[-2]) / 1000
            if dt == 0:
                return None
            result = result / dt
        return result

    return _over_time(compute, 2)


def _anchorable(fn):
    plain = _over_time(fn)

    def apply(ev, node, times):
        m = ev.matrix_arg(node.args[0], times)
        if m.modifier == "anchored":
            return _extended(m, times, _anchored_count(fn))
        return plain(ev, node, times, m)

    return apply


def _changes(ts, vals):
    prev, cur = vals[:-1], vals[1:]
    changed = (cur != prev) & ~(np.isnan(cur) & np.isnan(prev))
    return float(np.sum(changed))


def _resets(ts, vals):
    return float(np.sum(vals[1:] < vals[:-1]))


def _sum(ts, vals):
    return kahan_sum(vals)


def _avg(ts, vals):
    n = len(vals)
    s = kahan_sum(vals)
    if math.isinf(s) and np.all(np.isfinite(vals)):
        return kahan_sum(v / n for v in vals)
    return s / n


def _min(ts, vals):
    real = vals[~np.isnan(vals)]
    return float(real.min()) if len(real) else math.nan


def _max(ts, vals):
    real = vals[~np.isnan(vals)]
    return float(real.max()) if len(real) else math.nan


def _variance(vals) -> float:
    count = 0.0
    mean = c_mean = 0.0
    aux = c_aux = 0.0
    for f in vals:
        count += 1
        delta = f - (mean + c_mean)
        mean, c_mean = _inc(delta / count, mean, c_mean)
        aux, c_aux = _inc(delta * (f - (mean + c_mean)), aux, c_aux)
    return (aux + c_aux) / count


def _inc(inc, s, c):
    t = s + inc
    if math.isinf(t):
        c = 0.0
    elif abs(s) >= abs(inc):
        c += (s - t) + inc
    else:
        c += (inc - t) + s
    return t, c


def quantile(q: float, values) -> float:
    values = sorted((float(v) for v in values), key=lambda v: (0, 0.0) if math.isnan(v) else (1, v))
    if not values or math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    n = len(values)
    rank = q * (n - 1)
    lower = max(0, math.floor(rank))
    upper = min(n - 1, lower + 1)
    weight = rank - math.floor(rank)
    return values[int(lower)] * (1 - weight) + values[int(upper)] * weight


def _go_sort_key(v: float):
    return (0, v) if not math.isnan(v) else (-1, 0.0)


def linear_regression(ts, vals, intercept_t):
    init = vals[0]
    const = bool(np.all(vals == init))
    if const:
        if math.isinf(init):
            return math.nan, math.nan
        return 0.0, float(init)
    n = float(len(vals))
    x = (ts - intercept_t) / 1e3
    sum_x = kahan_sum(x)
    sum_y = kahan_sum(vals)
    sum_xy = kahan_sum(x * vals)
    sum_x2 = kahan_sum(x * x)
    cov = sum_xy - sum_x * sum_y / n
    var = sum_x2 - sum_x * sum_x / n
    slope = cov / var if var != 0 else (math.nan if cov == 0 else math.copysign(math.inf, cov))
    intercept = sum_y / n - slope * sum_x / n
    return slope, intercept


def fn_deriv(ev, node, times):
    return _over_time(lambda ts, v: linear_regression(ts, v, ts[0])[0], 2)(ev, node, times)


def fn_predict_linear(ev, node, times):
    m = ev.matrix_arg(node.args[0], times)
    dur = ev.scalar_arg(node.args[1], times)

    def compute(ts, vals, i):
        slope, intercept = linear_regression(ts, vals, times[i])
        return slope * dur[i] + intercept

    return _over_time(compute, 2, pass_index=True)(ev, node, times, m)


def fn_quantile_over_time(ev, node, times):
    q = ev.scalar_arg(node.args[0], times)
    m = ev.matrix_arg(node.args[1], times)
    return _over_time(lambda ts, v, i: quantile(q[i], v), 1, pass_index=True)(ev, node, times, m)


def fn_double_exponential_smoothing(ev, node, times):
    m = ev.matrix_arg(node.args[0], times)
    sf_all = ev.scalar_arg(node.args[1], times)
    tf_all = ev.scalar_arg(node.args[2], times)

    def compute(ts, vals, i):
        sf, tf = sf_all[i], tf_all[i]
        if sf <= 0 or sf >= 1:
            raise PromQLError(f"invalid smoothing factor. Expected: 0 < sf < 1, got: {sf:f}")
        if tf <= 0 or tf >= 1:
            raise PromQLError(f"invalid trend factor. Expected: 0 < tf < 1, got: {tf:f}")
        s0 = 0.0
        s1 = vals[0]
        b = vals[1] - vals[0]
        for j in range(1, len(vals)):
            x = sf * vals[j]
            if j - 1 != 0:
                b = tf * (s1 - s0) + (1 - tf) * b
            y = (1 - sf) * (s1 + b)
            s0, s1 = s1, x + y
        return s1

    return _over_time(compute, 2, pass_index=True)(ev, node, times, m)


def fn_absent_over_time(ev, node, times):
    m = ev.matrix_arg(node.args[0], times)
    any_present = np.zeros(len(times), dtype=bool)
    for s in m.series:
        lo, hi = _windows(m, s)
        any_present |= hi > lo
    labels = _absent_labels(node.args[0]) if kind(unwrap(node.args[0])) == "MatrixSelector" else {}
    return Vector([VSeries(labels, np.ones(len(times)), ~any_present)])


def _mad(ts, vals):
    if np.isnan(vals).any():
        return math.nan
    med = quantile(0.5, vals)
    return quantile(0.5, np.abs(vals - med))


def _ts_of(pick):
    def compute(ts, vals):
        if pick == "last":
            return ts[-1] / 1000
        if pick == "first":
            return ts[0] / 1000
        best = None
        for t, v in zip(ts, vals, strict=True):
            if math.isnan(v):
                continue
            if best is None or (v >= best[1] if pick == "max" else v <= best[1]):
                best = (t, v)
        if best is None:
            return ts[-1] / 1000
        return best[0] / 1000

    return compute


# --------------------------------------------------------------------------- histograms
def _bucket_groups(ev, vec):
    groups: dict[tuple, tuple[dict, list]] = {}
    for s in vec.series:
        le = s.labels.get("le")
        try:
            bound = _parse_le(le)
        except ValueError:
            ev.ctx.warnings.append(f"bucket label \"le\" is missing or has a malformed value of {le!r}")
            continue
        labels = {k: v for k, v in s.labels.items() if k != "le"}
        key = tuple(sorted(labels.items()))
        groups.setdefault(key, (labels, []))[1].append((bound, s))
    return groups


def _per_bucket_group(ev, vec, times, compute):
    out = []
    for labels, members in _bucket_groups(ev, vec).values():
        vals = np.full(len(times), np.nan)
        present = np.zeros(len(times), dtype=bool)
        for i in range(len(times)):
            buckets = [(b, float(s.values[i])) for b, s in members if s.present[i]]
            if not buckets:
                continue
            vals[i] = compute(i, buckets)
            present[i] = True
        if present.any():
            out.append(VSeries(labels, vals, present, True))
    return Vector(out)


def fn_histogram_quantile(ev, node, times):
    q = ev.scalar_arg(node.args[0], times)
    vec = ev.vector_arg(node.args[1], times)
    return _per_bucket_group(ev, vec, times, lambda i, buckets: bucket_quantile(float(q[i]), buckets))


def fn_histogram_quantiles(ev, node, times):
    from nlq.engine.promql.evaluator import go_format_float

    vec = ev.vector_arg(node.args[0], times)
    label = _string(ev, node.args[1], times)
    qs = [ev.scalar_arg(a, times) for a in node.args[2:]]
    groups = _bucket_groups(ev, vec)
    out = []
    for q in qs:
        for labels, members in groups.values():
            vals = np.full(len(times), np.nan)
            present = np.zeros(len(times), dtype=bool)
            qlabels = {}
            for i in range(len(times)):
                buckets = [(b, float(s.values[i])) for b, s in members if s.present[i]]
                if not buckets:
                    continue
                vals[i] = bucket_quantile(float(q[i]), buckets)
                present[i] = True
                text = go_format_float(float(q[i]))
                if not any(c in text for c in ".eIN"):
                    text += ".0"
                qlabels = dict(labels, **{label: text})
            if present.any():
                out.append(VSeries(qlabels, vals, present, True))
    return Vector(out)


def fn_histogram_fraction(ev, node, times):
    lower = ev.scalar_arg(node.args[0], times)
    upper = ev.scalar_arg(node.args[1], times)
    vec = ev.vector_arg(node.args[2], times)
    return _per_bucket_group(ev, vec, times,
                             lambda i, buckets: bucket_fraction(float(lower[i]), float(upper[i]), buckets))


def bucket_fraction(lower: float, upper: float, buckets: list[tuple[float, float]]) -> float:
    buckets = sorted(buckets, key=lambda b: b[0])
    if not (math.isinf(buckets[-1][0]) and buckets[-1][0] > 0):
        return math.nan
    merged: list[list[float]] = []
    for bound, count in buckets:
        if merged and merged[-1][0] == bound:
            merged[-1][1] += count
        else:
            merged.append([bound, count])
    count = merged[-1][1]
    if count == 0 or math.isnan(lower) or math.isnan(upper):
        return math.nan
    if lower >= upper:
        return 0.0
    rank = lower_rank = upper_rank = 0.0
    lower_set = upper_set = False
    lower_bound = 0.0 if merged[0][0] > 0 else -math.inf
    for i, (upper_bound, bcount) in enumerate(merged):
        if i > 0:
            lower_bound = merged[i - 1][0]

        def interp(v, lb=lower_bound, ub=upper_bound, bc=bcount, r=rank):
            if lb == -math.inf:
                return bc
            return r + (bc - r) * (v - lb) / (ub - lb)

        if not lower_set and lower_bound >= lower:
            lower_rank, lower_set = rank, True
        if not upper_set and lower_bound >= upper:
            upper_rank, upper_set = rank, True
        if lower_set and upper_set:
            break
        if not lower_set and lower_bound < lower < upper_bound:
            lower_rank, lower_set = interp(lower), True
        if not upper_set and lower_bound < upper < upper_bound:
            upper_rank, upper_set = interp(upper), True
        if lower_set and upper_set:
            break
        rank = bcount
    if not lower_set or lower_rank > count:
        lower_rank = count
    if not upper_set or upper_rank > count:
        upper_rank = count
    return (upper_rank - lower_rank) / count


def _parse_le(text) -> float:
    if text is None:
        raise ValueError("no le")
    return _go_parse_float(text)


def _go_parse_float(text: str) -> float:
    t = text.strip()
    low = t.lower().lstrip("+")
    if low in ("inf", "infinity"):
        return math.inf if not t.startswith("-") else -math.inf
    if t.lower() in ("-inf", "-infinity"):
        return -math.inf
    if low == "nan":
        return math.nan
    return float(t)


def bucket_quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    buckets = sorted(buckets, key=lambda b: b[0])
    if not math.isinf(buckets[-1][0]) or buckets[-1][0] < 0:
        return math.nan
    # coalesce equal bounds
    merged: list[list[float]] = []
    for bound, count in buckets:
        if merged and merged[-1][0] == bound:
            merged[-1][1] += count
        else:
            merged.append([bound, count])
    # ensure monotonic, ignore tiny deltas
    from nlq.results import almost_equal

    prev = merged[0][1]
    for b in merged[1:]:
        cur = b[1]
        if cur == prev:
            continue
        if almost_equal(prev, cur, 1e-12):
            b[1] = prev
            continue
        if cur < prev:
            b[1] = prev
            continue
        prev = cur
    if len(merged) < 2:
        return math.nan
    observations = merged[-1][1]
    if observations == 0:
        return math.nan
    rank = q * observations
    n = len(merged) - 1
    b = n
    for i in range(n):
        if merged[i][1] >= rank:
            b = i
            break
    if b == n:
        return merged[-2][0]
    if b == 0 and merged[0][0] <= 0:
        return merged[0][0]
    start = 0.0
    end = merged[b][0]
    count = merged[b][1]
    if b > 0:
        start = merged[b - 1][0]
        count -= merged[b - 1][1]
        rank -= merged[b - 1][1]
    return start + (end - start) * (rank / count)


# --------------------------------------------------------------------------- info()
IDENTIFYING = ("instance", "job")


def _matches(m, value: str) -> bool:
    if m.op == "=":
        return value == m.value
    if m.op == "!=":
        return value != m.value
    hit = go_regex(m.value).match(value) is not None
    return hit if m.op == "=~" else not hit


def _effective_name_matchers(matchers):
    from nlq.dialects.promql.ast import Matcher

    if any(m.op in ("=", "=~") for m in matchers):
        return list(matchers)
    if matchers:
        return [Matcher(NAME, "=~", ".+_info"), *matchers]
    return [Matcher(NAME, "=", "target_info")]


def _first_selector(node, path=()):
    """(at, offset_ms) for info(): the first selector's, completed by enclosing subqueries' (as Prometheus)."""
    import dataclasses

    k = kind(node)
    if k in ("VectorSelector", "MatrixSelector"):
        sel = node if k == "VectorSelector" else node.vector
        at, offset = sel.at, sel.offset_ms
        for p in reversed(path):
            if at is not None:
                break
            if kind(p) == "Subquery":
                offset += p.offset_ms
                at = p.at
        return at, offset
    if dataclasses.is_dataclass(node):
        for f in dataclasses.fields(node):
            v = getattr(node, f.name)
            items = v if isinstance(v, tuple) else (v,)
            for item in items:
                if dataclasses.is_dataclass(item) and not isinstance(item, type):
                    found = _first_selector(item, (*path, node))
                    if found is not None:
                        return found
    return None


def fn_info(ev, node, times):
    from nlq.dialects.promql.ast import Matcher

    base = ev.vector_arg(node.args[0], times)
    data: dict[str, list] = {}
    name_matchers = []
    if len(node.args) > 1:
        sel = unwrap(node.args[1])
        matchers = list(sel.matchers)
        if sel.name:
            matchers.append(Matcher(NAME, "=", sel.name))
        for m in matchers:
            data.setdefault(m.name, []).append(m)
            if m.name == NAME:
                name_matchers.append(m)
    else:
        name_matchers = [Matcher(NAME, "=", "target_info")]
    effective = _effective_name_matchers(name_matchers)
    ignored = [all(_matches(m, s.labels.get(NAME, "")) for m in effective) for s in base.series]
    id_values: dict[str, set] = {}
    for s, ign in zip(base.series, ignored, strict=True):
        if ign:
            continue
        for label in IDENTIFYING:
            if s.labels.get(label):
                id_values.setdefault(label, set()).add(s.labels[label])
    data.pop(NAME, None)
    info_series = []
    if id_values:
        sel_matchers = [(label, "=~", "|".join(_re2_quote(v) for v in sorted(vals))) for label, vals in id_values.items()]
        sel_matchers += [(m.name, m.op, m.value) for ms in data.values() for m in ms]
        sel_matchers += [(m.name, m.op, m.value) for m in _effective_name_matchers(name_matchers)]
        at, offset = _first_selector(node.args[0]) or (None, 0)
        t = ev._times(at, offset, times)
        lb = ev.ctx.lookback_ms
        for st in ev.ctx.storage.select(tuple(sel_matchers), int(t.min()) - lb, int(t.max())):
            if len(st.ts) == 0:
                continue
            idx = np.searchsorted(st.ts, t, side="right") - 1
            ok = idx >= 0
            safe = np.where(ok, idx, 0)
            ok &= (st.ts[safe] > t - lb) & ~st.stale[safe]
            if ok.any():
                info_series.append((st.labels, np.where(ok, st.ts[safe], 0), ok))
    info_names = sorted({lbl.get(NAME, "") for lbl, _, _ in info_series})

    def sig(name, labels):
        return (name, tuple((k, labels[k]) for k in IDENTIFYING if labels.get(k)))

    all_match_empty = all(_matches(m, "") for ms in data.values() for m in ms)
    results: dict[tuple, VSeries] = {}
    order = []
    for i in range(len(times)):
        by_sig: dict[tuple, tuple[dict, int]] = {}
        for labels, ts, ok in info_series:
            if not ok[i]:
                continue
            key = sig(labels.get(NAME, ""), labels)
            prev = by_sig.get(key)
            if prev is not None:
                if prev[1] == ts[i]:
                    raise PromQLError(f"found duplicate series for info metric: existing {prev[0]} @ {prev[1]}, "
                                      f"new {labels} @ {ts[i]}")
                if prev[1] > ts[i]:
                    continue
            by_sig[key] = (labels, int(ts[i]))
        for s, ign in zip(base.series, ignored, strict=True):
            if not s.present[i]:
                continue
            if ign:
                out_labels = dict(s.labels)
            else:
                extra: dict[str, str] = {}
                seen = 0
                for name in info_names:
                    hit = by_sig.get(sig(name, s.labels))
                    if hit is None:
                        continue
                    for k, v in hit[0].items():
                        if k == NAME or (data and k not in data):
                            continue
                        if extra.get(k, v) != v:
                            raise PromQLError(f"conflicting label: {k}")
                        if k in s.labels:
                            continue
                        extra[k] = v
                    seen += 1
                if seen == 0 and not all_match_empty:
                    continue
                out_labels = {**s.labels, **extra}
            key = tuple(sorted(out_labels.items()))
            r = results.get(key)
            if r is None:
                r = VSeries(out_labels, np.full(len(times), np.nan), np.zeros(len(times), bool), s.drop_name)
                results[key] = r
                order.append(key)
            elif r.present[i]:
                raise PromQLError("vector cannot contain metrics with the same labelset")
            r.values[i] = s.values[i]
            r.present[i] = True
    return Vector([results[k] for k in order])


def _re2_quote(text: str) -> str:
    import re as _re

    return _re.sub(r"([\\.+*?()|\[\]{}^$])", r"\\\1", text)


# --------------------------------------------------------------------------- dispatch
RANGE_FUNCS = {
    "rate": _extrapolated(True, True),
    "increase": _extrapolated(True, False),
    "delta": _extrapolated(False, False),
    "irate": _instant_value(True),
    "idelta": _instant_value(False),
    "changes": _anchorable(_changes),
    "resets": _anchorable(_resets),
    "sum_over_time": _over_time(_sum),
    "avg_over_time": _over_time(_avg),
    "min_over_time": _over_time(_min),
    "max_over_time": _over_time(_max),
    "count_over_time": _over_time(lambda ts, v: float(len(v))),
    "last_over_time": _over_time(lambda ts, v: float(v[-1]), keep_name=True),
    "first_over_time": _over_time(lambda ts, v: float(v[0]), keep_name=True),
    "present_over_time": _over_time(lambda ts, v: 1.0),
    "stddev_over_time": _over_time(lambda ts, v: math.sqrt(_variance(v)) if _variance(v) >= 0 else math.nan),
    "stdvar_over_time": _over_time(lambda ts, v: _variance(v)),
    "mad_over_time": _over_time(_mad),
    "ts_of_last_over_time": _over_time(_ts_of("last")),
    "ts_of_first_over_time": _over_time(_ts_of("first")),
    "ts_of_max_over_time": _over_time(_ts_of("max")),
    "ts_of_min_over_time": _over_time(_ts_of("min")),
    "deriv": fn_deriv,
    "predict_linear": fn_predict_linear,
    "quantile_over_time": fn_quantile_over_time,
    "double_exponential_smoothing": fn_double_exponential_smoothing,
    "holt_winters": fn_double_exponential_smoothing,
    "absent_over_time": fn_absent_over_time,
}

FUNCS = {
    "round": fn_round, "clamp": fn_clamp, "clamp_min": fn_clamp_min, "clamp_max": fn_clamp_max,
    "timestamp": fn_timestamp, "time": fn_time, "pi": fn_pi, "vector": fn_vector, "scalar": fn_scalar,
    "label_replace": fn_label_replace, "label_join": fn_label_join,
    "sort": _sort_fn(False), "sort_desc": _sort_fn(True),
    "sort_by_label": _sort_by_label(False), "sort_by_label_desc": _sort_by_label(True),
    "absent": fn_absent, "info": fn_info, "histogram_quantile": fn_histogram_quantile,
    "histogram_fraction": fn_histogram_fraction, "histogram_quantiles": fn_histogram_quantiles,
    "min_of": _scalar_pair(lambda a, b: _go_min(a, b)), "max_of": _scalar_pair(lambda a, b: _go_max(a, b)),
    "start": fn_start, "end": fn_end, "range": fn_range, "step": fn_step,
}
FUNCS.update({name: _elementwise(fn) for name, fn in ELEMENTWISE.items()})
FUNCS.update({name: _date_fn(part) for name, part in DATE_FUNCS.items()})
FUNCS.update(RANGE_FUNCS)

NATIVE_HISTOGRAM_FUNCS = {"histogram_count", "histogram_sum", "histogram_avg",
                          "histogram_stddev", "histogram_stdvar"}


ANCHORED_SAFE = ("changes", "delta", "increase", "rate", "resets")
SMOOTHED_SAFE = ("delta", "increase", "rate")


def _check_modifiers(node):
    for arg in node.args:
        arg = unwrap(arg)
        if kind(arg) != "MatrixSelector":
            continue
        modifier = getattr(arg.vector, "modifier", None)
        if modifier == "anchored" and node.func not in ANCHORED_SAFE:
            raise PromQLError(f"anchored modifier can only be used with: {', '.join(ANCHORED_SAFE)} - "
                              f"not with {node.func}")
        if modifier == "smoothed" and node.func not in SMOOTHED_SAFE:
            raise PromQLError(f"smoothed modifier can only be used with: {', '.join(SMOOTHED_SAFE)} - "
                              f"not with {node.func}")


def call(ev, node, times):
    _check_modifiers(node)
    fn = FUNCS.get(node.func)
    if fn is None:
        if node.func in NATIVE_HISTOGRAM_FUNCS:
            # float samples carry no native histograms: these return nothing
            ev.vector_arg(node.args[-1], times)
            return Vector([])
        raise PromQLError(f"function {node.func}() is not supported by this engine")
    return fn(ev, node, times)


__all__ = ["FUNCS", "bucket_quantile", "call", "quantile"]
