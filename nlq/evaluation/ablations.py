"""Eval configurations: a name, the `translate()` keyword arguments and a model spec.

`nlq eval` runs one configuration as *the best* (by default `default`:
translate()'s own defaults, catalog-constrained decoding with retries) on every
case, and any number of ablations beside it, each changing one thing:

| name | what changes |
|---|---|
| `unconstrained` | decoding with no grammar (any one line); validity is decided after the fact |
| `grammar` | decoding with the dialect's plain grammar, not narrowed to the catalog |
| `ungrounded` | narrowed to the catalog, but a label may take any of its values, not only those the question names |
| `no-retry` | no second attempt when the first is invalid or leaves out a named value (`max_retries=0`) |
| `uncovered` | no retry when a valid answer leaves out a value the question names (nlq.coverage) |
| `k0`, `k4`, `k8` | 0, 4 or 8 few-shot examples in the prompt |
| `bm25`, `embedding`, `hybrid`, `no-retrieval` | how the few-shot pairs are found (preset `retrieval`) |
| `exec-choice` | execution-guided choice among sampled candidates (preset `choice`) |
| `prompt-only` | no few-shot pairs at all: instructions and the catalog slice only |
| `adapter` | the run's tuned adapter (`--adapter`, default `shop`) with the prompt it was trained on |
| `adapter-ungrounded` | the tuned adapter without grounding values in the question |
| `adapter-uncovered` | the tuned adapter without the retry for named values it left out |
| `adapter-exec-choice` | the tuned adapter and execution-guided choice |
| `adapter-exec-if-empty` | the tuned adapter; the choice only when its answer fails or returns nothing |

Preset `stack` is issue #7's ladder, each step adding one thing: `prompt-only`,
`default` (+ retrieved few-shot pairs), `adapter` (+ the tuned adapter, whose
compact prompt carries no examples), `adapter-exec-choice` (+ execution-guided
choice).  Run it as `--best prompt-only --ablations stack` for the columns in
that order.

Preset `all` is the issue's set (decoding, retry, examples); `retrieval` and
`choice` are apart because each costs a full pass of the model.

A new ablation is one `register(Config(...))` call: its keyword arguments are
checked against translate()'s signature when a run asks for it, so a parameter
translate() does not (yet) have is a clear error, not a silent no-op.

    >>> [c.name for c in resolve(["k0"], preset=None)]
    ['default', 'k0']
    >>> get("unconstrained").translate_kwargs()
    {'constraint': 'none'}
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from nlq.errors import UsageError

DEFAULT = "default"


@dataclass(frozen=True)
class Config:
    """One way of running the translator over the benchmark."""

    name: str
    #: what the configuration varies, for grouping in reports: decoding, retry, examples, ...
    axis: str
    description: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    #: a model spec (`embedded`, `llama-cpp:...`); None: the run's --model
    model: str | None = None
    #: True: the run's tuned adapter on the run's engine (`llama-cpp:adapter=shop`), see `model_spec`
    tuned: bool = False
    #: a configuration whose *first attempt* this one is: with greedy first tries the
    #: harness reads the answer off that configuration's translation instead of generating
    #: again (`no-retry` is `default`'s first attempt); None: always generate
    first_attempt_of: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kwargs", MappingProxyType(dict(self.kwargs)))

    def translate_kwargs(self) -> dict[str, Any]:
        return dict(self.kwargs)

    def model_spec(self, run_model: str | None, adapter: str = "shop") -> str | None:
        """The model this configuration runs: its own, the run's tuned adapter, or the run's --model."""
        if self.tuned:
            engine = (run_model or "embedded").split(":", 1)[0]
            return f"{engine}:adapter={adapter}"
        return self.model if self.model is not None else run_model

    def label(self) -> str:
        """`k4 (k_examples=4)`: the name with what it sets, for report headings."""
        settings = ", ".join(f"{k}={v}" for k, v in self.kwargs.items())
        if self.model:
            settings = ", ".join(filter(None, [settings, f"model={self.model}"]))
        if self.tuned:
            settings = ", ".join(filter(None, [settings, "tuned adapter"]))
        return f"{self.name} ({settings})" if settings else self.name


REGISTRY: dict[str, Config] = {}


def register(config: Config) -> Config:
    """Add a configuration (names are unique)."""
    if config.name in REGISTRY:
        raise ValueError(f"eval configuration {config.name!r} registered twice")
    REGISTRY[config.name] = config
    return config


register(Config(DEFAULT, "default", "translate()'s defaults: catalog-constrained decoding, retries on"))
register(Config("unconstrained", "decoding", "no grammar while decoding (any one line)",
                {"constraint": "none"}))
register(Config("grammar", "decoding", "the dialect's plain grammar, not narrowed to the catalog",
                {"constraint": "grammar"}))
register(Config("ungrounded", "decoding", "narrowed to the catalog, but any of a label's values, "
                "not only those the question names", {"ground_values": False}))
register(Config("no-retry", "retry", "one attempt, no retry with the error fed back",
                {"max_retries": 0}, first_attempt_of=DEFAULT))
register(Config("uncovered", "retry", "no retry when a valid answer leaves out a value the question "
                "names (nlq.coverage)", {"cover_named": False}))
for _k in (0, 4, 8):
    register(Config(f"k{_k}", "examples", f"{_k} few-shot examples in the prompt", {"k_examples": _k}))
# retrieval of the few-shot pairs (the default is nlq.prompting.retrieval.DEFAULT_RETRIEVAL)
register(Config("bm25", "retrieval", "few-shot pairs found by BM25", {"retrieval": "bm25"}))
register(Config("embedding", "retrieval", "few-shot pairs found by sentence embeddings",
                {"retrieval": "embedding"}))
register(Config("hybrid", "retrieval", "few-shot pairs by BM25 and embeddings fused", {"retrieval": "hybrid"}))
register(Config("no-retrieval", "retrieval", "few-shot pairs not retrieved for the question",
                {"retrieval": "none"}))
register(Config("exec-choice", "choice", "execution-guided choice among sampled candidates (nlq.choice)",
                {"choose": "exec"}))

# issue #7's ladder: prompt only -> + retrieval (`default`) -> + tuned adapter -> + execution-guided choice
register(Config("prompt-only", "stack", "no few-shot pairs: instructions and the catalog slice only",
                {"k_examples": 0, "retrieval": "none"}))
register(Config("adapter", "stack", "the tuned adapter (--adapter) with its compact prompt", tuned=True))
register(Config("adapter-ungrounded", "stack", "the tuned adapter with any of a label's values, not only "
                "those the question names", {"ground_values": False}, tuned=True))
register(Config("adapter-uncovered", "stack", "the tuned adapter, with no retry when a valid answer leaves "
                "out a value the question names", {"cover_named": False}, tuned=True))
register(Config("adapter-exec-choice", "stack", "the tuned adapter, then execution-guided choice among "
                "sampled candidates", {"choose": "exec"}, tuned=True))
register(Config("adapter-exec-if-empty", "stack", "the tuned adapter; execution-guided choice only when its "
                "answer fails or returns nothing on the snapshot", {"choose": "exec-if-empty"}, tuned=True))

#: `--ablations [PRESET]`: named sets of ablations
PRESETS: dict[str, tuple[str, ...]] = {
    "all": ("unconstrained", "grammar", "no-retry", "k0", "k4", "k8"),
    "decoding": ("unconstrained", "grammar", "ungrounded"),
    "retry": ("no-retry", "uncovered"),
    "examples": ("k0", "k4", "k8"),
    "retrieval": ("bm25", "embedding", "hybrid", "no-retrieval"),
    "choice": ("exec-choice",),
    "stack": ("prompt-only", DEFAULT, "adapter", "adapter-exec-choice"),
}


def get(name: str) -> Config:
    try:
        return REGISTRY[name]
    except KeyError:
        raise UsageError(
            f"unknown eval configuration {name!r}: use one of {', '.join(REGISTRY)}"
        ) from None


def check_kwargs(config: Config) -> None:
    """Raise UsageError when translate() has no parameter a configuration sets."""
    from nlq.translate import translate

    accepted = set(inspect.signature(translate).parameters)
    unknown = sorted(set(config.kwargs) - accepted)
    if unknown:
        raise UsageError(
            f"eval configuration {config.name!r} sets {', '.join(unknown)}, "
            "which translate() does not take"
        )


def resolve(names: list[str] | tuple[str, ...], preset: str | None, best: str = DEFAULT) -> list[Config]:
    """The configurations of a run: `best` first, then the preset's and the named ablations."""
    if preset is not None and preset not in PRESETS:
        raise UsageError(f"unknown ablation preset {preset!r}: use one of {', '.join(PRESETS)}")
    wanted = [best, *(PRESETS[preset] if preset else ()), *names]
    configs: list[Config] = []
    for name in wanted:
        config = get(name)
        if config not in configs:
            check_kwargs(config)
            configs.append(config)
    return configs


__all__ = ["DEFAULT", "PRESETS", "REGISTRY", "Config", "check_kwargs", "get", "register", "resolve"]
