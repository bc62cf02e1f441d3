"""The application factory: gunicorn runs ``service.app:create_app()``."""

from __future__ import annotations

from collections.abc import Mapping

from flask import Flask

from service.config import load_config
from service.jobs.warmup import warm_up
from service.web import admission, docs, meta, models, observability, rank
from service.web.problems import register_error_handlers


def create_app(test_config: Mapping[str, object] | None = None) -> Flask:
    """A configured app: defaults, then ALRANK_* variables, then ``test_config``."""
    app = Flask(__name__)
    settings = load_config(app, test_config)
    # The per-route limits are set on each request; this caps everything else.
    app.config["MAX_CONTENT_LENGTH"] = max(settings.max_json_bytes, settings.max_npy_bytes)
    register_error_handlers(app)
    # Request ids, the access log and /metrics; then the compute slots.
    observability.init_app(app)
    admission.init_app(app)
    app.register_blueprint(rank.blueprint)
    app.register_blueprint(meta.blueprint)
    app.register_blueprint(docs.blueprint)
    # The model store: its directory and settings (ALRANK_MODEL_DIR, ...) are
    # read here; ONNX sessions are created lazily, in each worker, after the fork.
    models.init_app(app)
    # Compiles the ranking loops (or loads them from disk) before the worker
    # takes its first request.
    warm_up()
    return app
