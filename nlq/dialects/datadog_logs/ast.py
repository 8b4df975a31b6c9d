"""The typed tree of a Datadog log search.

Values keep their source spelling (`raw`, escapes included) so the formatter
can write them back unchanged; `.value` gives the unescaped text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nlq.dialects.datadog_common import unescape

Span = tuple[int, int] | None


def has_wildcard(raw: str) -> bool:
    r"""True when `raw` holds an unescaped `*` or `?` (`web*`, not `web\*`)."""
    escaped = False
    for ch in raw:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch in "*?":
            return True
    return False


# ---- values -----------------------------------------------------------------
@dataclass(frozen=True)
class Text:
    """A term (`web*`, `va\\:lue`) or, when `quoted`, a phrase (`"hello world"`)."""

    raw: str
    quoted: bool = False
    span: Span = field(default=None, compare=False, repr=False)

    @property
    def value(self) -> str:
        return unescape(self.raw)

    @property
    def is_wildcard(self) -> bool:
        return not self.quoted and has_wildcard(self.raw)


@dataclass(frozen=True)
class Comparison:
    """`>=100`, `<"b"`: numeric when the value reads as a number."""

    op: str
    raw: str
    quoted: bool = False
    span: Span = field(default=None, compare=False, repr=False)

    @property
    def value(self) -> str:
        return unescape(self.raw)


@dataclass(frozen=True)
class Range:
    """`[400 TO 499]` (inclusive) or `{1 TO 100}` (exclusive); `*` is unbounded."""

    low: str
    high: str
    low_inclusive: bool = True
    high_inclusive: bool = True
    span: Span = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class ValueAnd:
    operands: tuple
    span: Span = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class ValueOr:
    operands: tuple
    span: Span = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class ValueNot:
    operand: object
    symbol: str = "NOT"  # "NOT" or "-"
    span: Span = field(default=None, compare=False, repr=False)


Value = Text | Comparison | Range | ValueAnd | ValueOr | ValueNot


# ---- fields and clauses -----------------------------------------------------
@dataclass(frozen=True)
class Field:
    """What a clause searches: a tag or reserved attribute (`service`), an
    attribute (`@http.url`, `attribute=True`) or everything (`*`, full text)."""

    name: str
    attribute: bool = False
    span: Span = field(default=None, compare=False, repr=False)

    @property
    def full_text(self) -> bool:
        return self.name == "*" and not self.attribute

    @property
    def path(self) -> str:
        """The unescaped name without `@`."""
        return unescape(self.name)

    def __str__(self) -> str:
        return ("@" if self.attribute else "") + self.name


@dataclass(frozen=True)
class FreeText:
    """A bare term, phrase or range: searched in the message."""

    value: Text | Range
    span: Span = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Match:
    """`field:value`, `field:(a OR b)`."""

    field: Field
    value: Value
    span: Span = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Exists:
    """`_exists_:field` (or, with `missing`, `_missing_:field`)."""

    field: Field
    missing: bool = False
    span: Span = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Cidr:
    """`CIDR(@network.client.ip, 10.0.0.0/8, ...)`."""

    attribute: str
    blocks: tuple[str, ...]
    span: Span = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class And:
    operands: tuple
    span: Span = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Or:
    operands: tuple
    span: Span = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Not:
    operand: object
    symbol: str = "NOT"  # "NOT" or "-"
    span: Span = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Required:
    """`+term`: Lucene's "must"; the same as the term alone in an AND."""

    operand: object
    span: Span = field(default=None, compare=False, repr=False)


Query = FreeText | Match | Exists | Cidr | And | Or | Not | Required
