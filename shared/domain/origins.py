"""The origin (scheme, host, port) of a URL: what a stored credential is bound to. Pure."""

from __future__ import annotations

from urllib.parse import urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> str:
    """``https://cal.example.org:443`` for ``https://CAL.example.org/x``; ValueError if none.

    Host names are compared lower-case and IDNA-encoded, the port always explicit, so two
    spellings of one origin compare equal and ``http``/``https`` or another port never do.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise ValueError("only http and https URLs have a credential origin")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise ValueError("the URL has no host")
    try:
        host = host.encode("idna").decode("ascii").lower() if ":" not in host else host.lower()
    except UnicodeError:
        raise ValueError("the URL's host is not a valid name") from None
    try:
        port = parts.port or _DEFAULT_PORTS[scheme]
    except ValueError:
        raise ValueError("the URL's port is not a number from 0 to 65535") from None
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}:{port}"
