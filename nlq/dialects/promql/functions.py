"""Every PromQL function of Prometheus 3, with argument and return types and a one-line doc.

Taken from Prometheus's `promql/parser/functions.go` (the `Functions` table):
argument types, `variadic` and the experimental flag mean what they mean there:

* `variadic == 0`: exactly `len(arg_types)` arguments;
* `variadic > 0`: the last argument may be left out, and repeated up to
  `variadic` times in all (`round(v)`, `round(v, 5)`; `hour()`, `hour(v)`);
* `variadic == -1`: the last argument may repeat without limit (`label_join`).

The docs feed hover texts and explanations.  Aggregation operators (`sum`,
`topk`, `limitk`, ...) are not functions: see `AGGREGATIONS`.
"""

from __future__ import annotations

from dataclasses import dataclass

INSTANT = "instant vector"
RANGE = "range vector"
SCALAR = "scalar"
STRING = "string"


@dataclass(frozen=True)
class Function:
    name: str
    arg_types: tuple[str, ...]
    return_type: str
    variadic: int
    experimental: bool
    doc: str
    arg_names: tuple[str, ...] = ()

    @property
    def min_args(self) -> int:
        return len(self.arg_types) - (1 if self.variadic != 0 else 0)

    @property
    def max_args(self) -> int | None:
        if self.variadic == 0:
            return len(self.arg_types)
        if self.variadic < 0:
            return None
        return len(self.arg_types) - 1 + self.variadic

    def arg_type(self, index: int) -> str:
        """The type of argument `index` (0-based); repeats the last for variadic ones."""
        return self.arg_types[min(index, len(self.arg_types) - 1)]

    def signature(self) -> str:
        """`rate(v range vector) instant vector`-style text for hover docs."""
        names = list(self.arg_names) + ["v"] * (len(self.arg_types) - len(self.arg_names))
        parts = [f"{n} {t}" for n, t in zip(names, self.arg_types, strict=False)]
        if self.variadic > 0 and parts:
            parts[-1] = "[" + parts[-1] + ("" if self.variadic == 1 else ", ...") + "]"
        elif self.variadic < 0 and parts:
            parts[-1] += ", ..."
        return f"{self.name}({', '.join(parts)}) {self.return_type}"


_TABLE = [
    Function(
        "abs",
        ("instant vector",),
        "instant vector",
        0,
        False,
        "absolute value of each sample",
        ("v",),
    ),
    Function(
        "absent",
        ("instant vector",),
        "instant vector",
        0,
        False,
        "1-element vector when the input vector has no elements, else empty",
        ("v",),
    ),
    Function(
        "absent_over_time",
        ("range vector",),
        "instant vector",
        0,
        False,
        "1-element vector when the range vector has no samples, else empty",
        ("v",),
    ),
    Function("acos", ("instant vector",), "instant vector", 0, False, "arc cosine", ("v",)),
    Function(
        "acosh",
        ("instant vector",),
        "instant vector",
        0,
        False,
        "inverse hyperbolic cosine",
        ("v",),
    ),
    Function("asin", ("instant vector",), "instant vector", 0, False, "arc sine", ("v",)),
    Function(
        "asinh", ("instant vector",), "instant vector", 0, False, "inverse hyperbolic sine", ("v",)
    ),
    Function("atan", ("instant vector",), "instant vector", 0, False, "arc tangent", ("v",)),
    Function(
        "atanh",
        ("instant vector",),
        "instant vector",
        0,
        False,
        "inverse hyperbolic tangent",
        ("v",),
    ),
    Function(
        "avg_over_time",
        ("range vector",),
        "instant vector",
        0,
        False,
        "average of each series' samples in the range",
        ("v",),
    ),
    Function(
        "ceil",
        ("instant vector",),
        "instant vector",
        0,
        False,
        "rounds each sample up to the nearest integer",
        ("v",),
    ),
    Function(
        "changes",
        ("range vector",),
        "instant vector",
        0,
        False,
        "how many times each series' value changed in the range",
        ("v",),
    ),
    Function(
        "clamp",
        ("instant vector", "scalar", "scalar"),
        "instant vector",
        0,
        False,
        "clamps each sample between min and max",
        ("v", "min", "max"),
    ),
    Function(
        "clamp_max",
        ("instant vector", "scalar"),
        "instant vector",
        0,
        False,
        "clamps each sample to at most max",
        ("v", "max"),
    ),
    Function(
        "clamp_min",
        ("instant vector", "scalar"),
        "instant vector",
        0,
        False,
        "clamps each sample to at least min",
        ("v", "min"),
    ),
    Function("cos", ("instant vector",), "instant vector", 0, False, "cosine (radians)", ("v",)),
    Function("cosh", ("instant vector",), "instant vector", 0, False, "hyperbolic cosine", ("v",)),
    Function(
        "count_over_time",
        ("range vector",),
        "instant vector",
        0,
        False,
        "number of samples of each series in the range",
        ("v",),
    ),
    Function(
        "days_in_month",
        ("instant vector",),
        "instant vector",
        1,
        False,
        "number of days in the month of each timestamp (UTC; default: evaluation time)",
        ("v",),
    ),
    Function(
        "day_of_month",
        ("instant vector",),
        "instant vector",
        1,
        False,
        "day of the month (1-31) of each timestamp (UTC)",
        ("v",),
    ),
    Function(
        "day_of_week",
        ("instant vector",),
        "instant vector",
        1,
        False,
        "day of the week (0=Sunday) of each timestamp (UTC)",
        ("v",),
    ),
    Function(
        "day_of_year",
        ("instant vector",),
        "instant vector",
        1,
        False,
        "day of the year (1-366) of each timestamp (UTC)",
        ("v",),
    ),
    Function(
        "deg",
        ("instant vector",),
        "instant vector",
        0,
        False,
        "converts radians to degrees",
        ("v",),
    ),
    Function(
        "end",
        (),
        "scalar",
        0,
        True,
        "the end time of the range query, in seconds (experimental)",
        (),
    ),
    Function(
        "delta",
        ("range vector",),
        "instant vector",
        0,
        False,
        "difference between the first and last value of a gauge over the range",
        ("v",),
    ),
    Function(
        "deriv",
        ("range vector",),
        "instant vector",
        0,
        False,
        "per-second derivative of a gauge by linear regression over the range",
        ("v",),
    ),
    Function(
        "exp", ("instant vector",), "instant vector", 0, False, "e raised to each sample", ("v",)
    ),
    Function(
        "first_over_time",
        ("range vector",),
        "instant vector",
        0,
        False,
        "the oldest sample of each series in the range",
        ("v",),
    ),
    Function(
        "floor",
        ("instant vector",),
        "instant vector",
        0,
        False,
        "rounds each sample down to the nearest integer",
        ("v",),
    ),
    Function(
        "histogram_avg",
        ("instant vector",),
        "instant vector",
        0,
        False,
        "average of observations of native histograms",
        ("v",),
    ),
    Function(
        "histogram_count",
        ("instant vector",),
        "instant vector",
        0,
        False,
        "count of observations of native histograms",
        ("v",),
    ),
    Function(
        "histogram_sum",
        ("instant vector",),
        "instant vector",
        0,
        False,
        "sum of observations of native histograms",
        ("v",),
    ),
    Function(
        "histogram_stddev",
        ("instant vector",),
        "instant vector",
        0,
        False,
        "estimated standard deviation of native histograms",
        ("v",),
    ),
    Function(
        "histogram_stdvar",
        ("instant vector",),
        "instant vector",
        0,
        False,
        "estimated standard variance of native histograms",
        ("v",),
    ),
    Function(
        "histogram_fraction",
        ("scalar", "scalar", "instant vector"),
        "instant vector",
        0,
        False,
        "estimated fraction of observations between lower and upper",
        ("lower", "upper", "v"),
    ),
    Function(
        "histogram_quantile",
        ("scalar", "instant vector"),
        "instant vector",
        0,
        False,
        "φ-quantile from the `le` buckets of a classic histogram (or a native histogram)",
        ("φ", "v"),
    ),
    Function(
        "histogram_quantiles",
        ("instant vector", "string", "scalar", "scalar"),
        "instant vector",
        9,
        True,
        "several quantiles at once, each into the label named by the string argument (experimental)",
        ("v", "label", "φ", "φ"),
    ),
    Function(
        "double_exponential_smoothing",
        ("range vector", "scalar", "scalar"),
        "instant vector",
        0,
        True,
        "smoothed value of a gauge (formerly holt_winters; experimental)",
        ("v", "sf", "tf"),
    ),
    Function(
        "hour",
        ("instant vector",),
        "instant vector",
        1,
        False,
        "hour of the day (0-23) of each timestamp (UTC)",
        ("v",),
    ),
    Function(
        "idelta",
        ("range vector",),
        "instant vector",
        0,
        False,
        "difference between the last two samples in the range",
        ("v",),
    ),
    Function(
        "increase",
        ("range vector",),
        "instant vector",
        0,
        False,
        "increase of a counter over the range, corrected for resets and extrapolated",
        ("v",),
    ),
    Function(
        "info",
        ("instant vector", "instant vector"),
        "instant vector",
        1,
        True,
        "adds the labels of info metrics (target_info) to each series (experimental)",
        ("v", "data_label_selector"),
    ),
    Function(
        "irate",
        ("range vector",),
        "instant vector",
        0,
        False,
        "per-second rate from the last two samples of a counter in the range",
        ("v",),
    ),
    Function(
        "label_replace",
        ("instant vector", "string", "string", "string", "string"),
        "instant vector",
        0,
        False,
        "sets a label from a regex match on another label",
        ("v", "dst_label", "replacement", "src_label", "regex"),
    ),
    Function(
        "label_join",
        ("instant vector", "string", "string", "string"),
        "instant vector",
        -1,
        False,
        "joins the values of source labels into a destination label",
        ("v", "dst_label", "separator", "src_label"),
    ),
    Function(
        "max_of",
        ("scalar", "scalar"),
        "scalar",
        0,
        True,
        "larger of two durations (duration expressions only; experimental)",
        ("a", "b"),
    ),
    Function(
        "last_over_time",
        ("range vector",),
        "instant vector",
        0,
        False,
        "the most recent sample of each series in the range",
        ("v",),
    ),
    Function(
        "min_of",
        ("scalar", "scalar"),
        "scalar",
        0,
        True,
        "smaller of two durations (duration expressions only; experimental)",
        ("a", "b"),
    ),
    Function("ln", ("instant vector",), "instant vector", 0, False, "natural logarithm", ("v",)),
    Function("log10", ("instant vector",), "instant vector", 0, False, "decimal logarithm", ("v",)),
    Function("log2", ("instant vector",), "instant vector", 0, False, "binary logarithm", ("v",)),
    Function(
        "mad_over_time",
        ("range vector",),
        "instant vector",
        0,
        True,
        "median absolute deviation of each series' samples in the range (experimental)",
        ("v",),
    ),
    Function(
        "max_over_time",
        ("range vector",),
        "instant vector",
        0,
        False,
        "maximum of each series' samples in the range",
        ("v",),
    ),
    Function(
        "min_over_time",
        ("range vector",),
        "instant vector",
        0,
        False,
        "minimum of each series' samples in the range",
        ("v",),
    ),
    Function(
        "ts_of_first_over_time",
        ("range vector",),
        "instant vector",
        0,
        True,
        "timestamp of the oldest sample in the range (experimental)",
        ("v",),
    ),
    Function(
        "ts_of_max_over_time",
        ("range vector",),
        "instant vector",
        0,
        True,
        "timestamp of the maximum sample in the range (experimental)",
        ("v",),
    ),
    Function(
        "ts_of_min_over_time",
        ("range vector",),
        "instant vector",
        0,
        True,
        "timestamp of the minimum sample in the range (experimental)",
        ("v",),
    ),
    Function(
        "ts_of_last_over_time",
        ("range vector",),
        "instant vector",
        0,
        True,
        "timestamp of the most recent sample in the range (experimental)",
        ("v",),
    ),
    Function(
        "minute",
        ("instant vector",),
        "instant vector",
        1,
        False,
        "minute of the hour (0-59) of each timestamp (UTC)",
        ("v",),
    ),
    Function(
        "month",
        ("instant vector",),
        "instant vector",
        1,
        False,
        "month of the year (1-12) of each timestamp (UTC)",
        ("v",),
    ),
    Function("pi", (), "scalar", 0, False, "the number π", ()),
    Function(
        "predict_linear",
        ("range vector", "scalar"),
        "instant vector",
        0,
        False,
        "predicted value t seconds from now by linear regression over the range",
        ("v", "t"),
    ),
    Function(
        "present_over_time",
        ("range vector",),
        "instant vector",
        0,
        False,
        "1 for each series with any sample in the range",
        ("v",),
    ),
    Function(
        "quantile_over_time",
        ("scalar", "range vector"),
        "instant vector",
        0,
        False,
        "φ-quantile of each series' samples in the range",
        ("φ", "v"),
    ),
    Function(
        "rad",
        ("instant vector",),
        "instant vector",
        0,
        False,
        "converts degrees to radians",
        ("v",),
    ),
    Function(
        "range",
        (),
        "scalar",
        0,
        True,
        "the range of the range query, in seconds (experimental)",
        (),
    ),
    Function(
        "rate",
        ("range vector",),
        "instant vector",
        0,
        False,
        "per-second average rate of increase of a counter over the range",
        ("v",),
    ),
    Function(
        "resets",
        ("range vector",),
        "instant vector",
        0,
        False,
        "number of counter resets in the range",
        ("v",),
    ),
    Function(
        "round",
        ("instant vector", "scalar"),
        "instant vector",
        1,
        False,
        "rounds each sample to the nearest multiple of to_nearest (default 1)",
        ("v", "to_nearest"),
    ),
    Function(
        "scalar",
        ("instant vector",),
        "scalar",
        0,
        False,
        "the single sample of a 1-element vector as a scalar, else NaN",
        ("v",),
    ),
    Function(
        "sgn",
        ("instant vector",),
        "instant vector",
        0,
        False,
        "sign of each sample: 1, -1 or 0",
        ("v",),
    ),
    Function("sin", ("instant vector",), "instant vector", 0, False, "sine (radians)", ("v",)),
    Function("sinh", ("instant vector",), "instant vector", 0, False, "hyperbolic sine", ("v",)),
    Function(
        "sort",
        ("instant vector",),
        "instant vector",
        0,
        False,
        "sorts by sample value, ascending (instant queries)",
        ("v",),
    ),
    Function(
        "sort_desc",
        ("instant vector",),
        "instant vector",
        0,
        False,
        "sorts by sample value, descending (instant queries)",
        ("v",),
    ),
    Function(
        "sort_by_label",
        ("instant vector", "string"),
        "instant vector",
        -1,
        True,
        "sorts by the values of the given labels, ascending (experimental)",
        ("v", "label"),
    ),
    Function(
        "sort_by_label_desc",
        ("instant vector", "string"),
        "instant vector",
        -1,
        True,
        "sorts by the values of the given labels, descending (experimental)",
        ("v", "label"),
    ),
    Function("sqrt", ("instant vector",), "instant vector", 0, False, "square root", ("v",)),
    Function(
        "start",
        (),
        "scalar",
        0,
        True,
        "the start time of the range query, in seconds (experimental)",
        (),
    ),
    Function(
        "start_timestamp",
        ("instant vector",),
        "instant vector",
        0,
        True,
        "the start timestamp (created timestamp) of each series (experimental)",
        ("v",),
    ),
    Function(
        "step", (), "scalar", 0, True, "the step of the range query, in seconds (experimental)", ()
    ),
    Function(
        "stddev_over_time",
        ("range vector",),
        "instant vector",
        0,
        False,
        "population standard deviation of each series' samples in the range",
        ("v",),
    ),
    Function(
        "stdvar_over_time",
        ("range vector",),
        "instant vector",
        0,
        False,
        "population variance of each series' samples in the range",
        ("v",),
    ),
    Function(
        "sum_over_time",
        ("range vector",),
        "instant vector",
        0,
        False,
        "sum of each series' samples in the range",
        ("v",),
    ),
    Function("tan", ("instant vector",), "instant vector", 0, False, "tangent (radians)", ("v",)),
    Function("tanh", ("instant vector",), "instant vector", 0, False, "hyperbolic tangent", ("v",)),
    Function("time", (), "scalar", 0, False, "evaluation time in seconds since the epoch", ()),
    Function(
        "timestamp",
        ("instant vector",),
        "instant vector",
        0,
        False,
        "timestamp of each sample, in seconds",
        ("v",),
    ),
    Function(
        "vector",
        ("scalar",),
        "instant vector",
        0,
        False,
        "the scalar as a 1-element vector without labels",
        ("s",),
    ),
    Function(
        "year",
        ("instant vector",),
        "instant vector",
        1,
        False,
        "year of each timestamp (UTC)",
        ("v",),
    ),
]

#: name -> Function, for every function Prometheus 3 knows
FUNCTIONS: dict[str, Function] = {f.name: f for f in _TABLE}

#: functions that only make sense inside duration expressions (`foo[max_of(step(), 5m)]`)
DURATION_FUNCTIONS = frozenset({"step", "range", "max_of", "min_of"})


@dataclass(frozen=True)
class Aggregator:
    name: str
    param_type: str | None
    doc: str
    experimental: bool = False


AGGREGATIONS: dict[str, Aggregator] = {
    a.name: a
    for a in [
        Aggregator("sum", None, "sum over dimensions"),
        Aggregator("avg", None, "average over dimensions"),
        Aggregator("min", None, "minimum over dimensions"),
        Aggregator("max", None, "maximum over dimensions"),
        Aggregator("count", None, "number of elements in the vector"),
        Aggregator("group", None, "1 for every group (all values become 1)"),
        Aggregator("stddev", None, "population standard deviation over dimensions"),
        Aggregator("stdvar", None, "population variance over dimensions"),
        Aggregator("topk", SCALAR, "the k largest elements by sample value"),
        Aggregator("bottomk", SCALAR, "the k smallest elements by sample value"),
        Aggregator("quantile", SCALAR, "φ-quantile (0 ≤ φ ≤ 1) over dimensions"),
        Aggregator(
            "count_values",
            STRING,
            "number of elements with the same value, value in the named label",
        ),
        Aggregator("limitk", SCALAR, "k elements, chosen deterministically (experimental)", True),
        Aggregator(
            "limit_ratio",
            SCALAR,
            "a ratio of elements, chosen deterministically (experimental)",
            True,
        ),
    ]
}

#: functions whose argument should be a counter (counters are fine only inside these)
COUNTER_FUNCTIONS = frozenset({"rate", "irate", "increase", "resets"})
#: functions meant for gauges; a counter inside them is suspicious
GAUGE_FUNCTIONS = frozenset(
    {"delta", "idelta", "deriv", "predict_linear", "double_exponential_smoothing"}
)


def lookup(name: str) -> Function | None:
    """The function called `name`, or None.

    >>> lookup("rate").signature()
    'rate(v range vector) instant vector'
    """
    return FUNCTIONS.get(name)
