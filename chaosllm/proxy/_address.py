"""``host:port`` addresses, checked once for the proxy server and its actions."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

__all__ = ["parse_address", "is_ip"]

_HOST = re.compile(r"[A-Za-z0-9._-]+")


def _shown(address: str) -> str:
    """The address for an error message, with anything before an ``@`` hidden."""
    return re.sub(r"^(.*//)?[^/]*@", lambda m: (m.group(1) or "") + "***@", address)


def parse_address(address: Any, what: str) -> tuple[str, int]:
    """``"host:port"`` (IPv6 as ``[::1]:port``; an empty host means every interface)
    -> ``(host, port)``. Raises ValueError naming ``what``, never quoting credentials."""
    if not isinstance(address, str) or ":" not in address:
        raise ValueError(f"{what} must be host:port, got {address!r}")
    host, _, port = address.rpartition(":")
    bracketed = host.startswith("[") and host.endswith("]")
    if bracketed:
        host = host[1:-1]
    valid_host = not host or (is_ip(host) if bracketed else bool(_HOST.fullmatch(host)))
    if not valid_host:
        raise ValueError(f"{what} must be host:port, a host name or IP address and a port, "
                         f"not a URL, got {_shown(address)!r}")
    if not port.isdigit():
        raise ValueError(f"{what} port must be a number, got {_shown(address)!r}")
    number = int(port)
    if number > 65535:
        raise ValueError(f"{what} port out of range in {_shown(address)!r}")
    return host or "0.0.0.0", number


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
