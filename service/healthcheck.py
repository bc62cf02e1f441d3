"""The container health check: ``python -m service.healthcheck [URL]``.

Exits 0 when GET URL answers 200, and 1 otherwise, with one line on stderr
saying why. Without a URL it asks /healthz of the local server, on the port
of ALRANK_BIND. Standard library only, so it starts fast and the image needs
no curl or wget.
"""

from __future__ import annotations

import http.client
import os
import sys
from collections.abc import Sequence
from urllib.parse import urlsplit

DEFAULT_BIND = "127.0.0.1:8000"
DEFAULT_PORT = 8000
PATH = "/healthz"
TIMEOUT_S = 3.0
# Addresses that mean "every interface": the check asks the loopback one.
WILDCARDS = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}


def url_from_bind(bind: str) -> str:
    """The /healthz URL of a server bound to ``bind`` (gunicorn's HOST:PORT, [V6]:PORT)."""
    bind = bind.strip().removeprefix("tcp://")
    if bind.startswith(("unix:", "fd://")):
        raise ValueError(f"cannot check {bind!r} over TCP; pass a URL")
    host, port = _split_host_port(bind)
    host = WILDCARDS.get(host, host)
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}{PATH}"


def _split_host_port(bind: str) -> tuple[str, int]:
    if bind.startswith("["):
        host, _, rest = bind[1:].partition("]")
        port_text = rest.removeprefix(":")
    elif bind.count(":") == 1:
        host, _, port_text = bind.partition(":")
    else:
        host, port_text = bind, ""
    if not port_text:
        return host, DEFAULT_PORT
    if not port_text.isdigit():
        raise ValueError(f"bad port in bind address {bind!r}")
    return host, int(port_text)


def check(url: str, timeout_s: float = TIMEOUT_S) -> str | None:
    """None when GET ``url`` answers 200, else why not."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"not an http(s) URL: {url!r}"
    # http.client, not urllib: a proxy from the environment must not answer for us.
    connection_class = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    connection = connection_class(parts.hostname, parts.port, timeout=timeout_s)
    try:
        connection.request("GET", parts.path or "/")
        status = connection.getresponse().status
    except (OSError, http.client.HTTPException) as error:
        return f"GET {url} failed: {error or type(error).__name__}"
    finally:
        connection.close()
    return None if status == 200 else f"GET {url} answered {status}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the check; the process exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) > 1:
        print("usage: python -m service.healthcheck [URL]", file=sys.stderr)
        return 1
    try:
        url = args[0] if args else url_from_bind(os.environ.get("ALRANK_BIND", DEFAULT_BIND))
    except ValueError as error:
        print(f"healthcheck: {error}", file=sys.stderr)
        return 1
    problem = check(url)
    if problem is not None:
        print(f"healthcheck: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
