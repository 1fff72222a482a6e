"""Which addresses only this machine can reach: the check `reporter serve` and `reporter app`
make before binding without a login. Kept apart so the app need not import FastAPI for it."""

from __future__ import annotations

import ipaddress
import socket


def loopback(host: str) -> bool:
    """True only when every address `host` stands for is a loopback address: an IP literal
    is parsed, a name is resolved ('localhost' is, '127.example.com' is not, a name that
    does not resolve is not)."""
    address = _address(host)
    if address is not None:
        return address.is_loopback
    try:
        resolved = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return False
    addresses = [_address(str(info[4][0])) for info in resolved]
    return bool(addresses) and all(a is not None and a.is_loopback for a in addresses)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An IP literal (an IPv6 one may carry brackets or a %zone), or None for a name."""
    literal = text.strip().removeprefix("[").removesuffix("]").split("%", 1)[0]
    try:
        address = ipaddress.ip_address(literal)
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1 is 127.0.0.1
    return mapped or address
