"""nlq: natural-language questions to observability queries.

The library API; the CLI, the service and the language server are thin layers
over it.

    >>> import nlq
    >>> nlq.validate("sum(rate(http_requests_total[5m]))", "promql").valid
    True
"""

from __future__ import annotations

from nlq.validation import Validation, format_query, validate

__all__ = ["Validation", "format_query", "validate"]
