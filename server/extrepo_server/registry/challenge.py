"""The `WWW-Authenticate` challenge a registry answers `GET /v2/` with (RFC 9110
§11.6.1), as the Docker registry token flow reads it:

    Bearer realm="https://auth.example.com/token",service="registry.example.com"
    Basic realm="Registry Realm"
"""

from __future__ import annotations

import re

from ..domain.ports import Challenge

# auth-param = token BWS "=" BWS ( token / quoted-string )
_PARAM_RE = re.compile(
    r'\s*([!#$%&\'*+.^_`|~0-9A-Za-z-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,]*)\s*(?:,|$)'
)


def parse_challenge(header: str) -> Challenge | None:
    """The first challenge of a `WWW-Authenticate` value, or None if it has none.

    Registries send one challenge; a value with several is read up to the first
    parameter that does not parse.
    """
    scheme, _, rest = header.strip().partition(" ")
    if not scheme:
        return None
    params: dict[str, str] = {}
    position = 0
    rest = rest.strip()
    while position < len(rest):
        match = _PARAM_RE.match(rest, position)
        if match is None or match.end() == position:
            break
        name, value = match.group(1).lower(), match.group(2)
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        params[name] = value
        position = match.end()
    return Challenge(scheme.lower(), params)
