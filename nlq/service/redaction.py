"""Redaction of what must never reach a log: secrets, tokens, e-mail and IP addresses.

Questions come from people and people paste things: a curl line with a bearer
token, an API key, a customer's e-mail, a host's address.  Only the redacted
form of a question is logged.

    >>> redact("why does alice@example.com get 500s from 10.0.0.12?")
    'why does [email] get 500s from [ip]?'
"""

from __future__ import annotations

import ipaddress
import re

_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{8,}"), "Bearer [token]"),
    # key=value / key: value secrets (keep the key so the log stays readable)
    (re.compile(r"(?i)\b(password|passwd|pwd|secret|token|api[_-]?key|apikey|app[_-]?key|access[_-]?key|"
                r"client[_-]?secret|authorization|auth)\b(\s*[:=]\s*)(\"[^\"]*\"|'[^']*'|\S+)"),
     r"\1\2[secret]"),
    (re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"), "[slack-token]"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}"), "[jwt]"),
    (re.compile(r"\b(AKIA|ASIA)[A-Z0-9]{16}\b"), "[aws-key]"),
    (re.compile(r"\b(ghp|gho|ghs|ghu|github_pat|glpat|sk|pk|rk)[-_][A-Za-z0-9_-]{16,}"), "[token]"),
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"), "[email]"),
    (re.compile(r"\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?::\d{1,5})?\b"),
     "[ip]"),
    # long opaque strings: hex or base64 runs that look like keys
    (re.compile(r"\b[A-Fa-f0-9]{32,}\b"), "[secret]"),
    (re.compile(r"\b(?=[A-Za-z0-9+/_-]*\d)(?=[A-Za-z0-9+/_-]*[A-Z])[A-Za-z0-9+/_-]{32,}={0,2}"), "[secret]"),
]


_IPV6_CANDIDATE = re.compile(r"(?<![\w:.])[0-9A-Fa-f:]*:[0-9A-Fa-f:]*:[0-9A-Fa-f:]*(?:%\w+)?(?![\w:])")


def _ipv6(match: re.Match[str]) -> str:
    try:
        ipaddress.IPv6Address(match.group(0).split("%")[0])
    except ValueError:
        return match.group(0)
    return "[ip]"


def redact(text: str) -> str:
    """`text` with every secret-looking or personal part replaced by a [placeholder]."""
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return _IPV6_CANDIDATE.sub(_ipv6, text)
