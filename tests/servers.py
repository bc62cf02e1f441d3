"""A WSGI app served on a free loopback port in a background thread."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

from werkzeug.serving import make_server

WSGIApp = Callable[..., Any]


def serve(app: WSGIApp) -> Iterator[str]:
    """Serve ``app`` on a free loopback port in a background thread; yield its URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
