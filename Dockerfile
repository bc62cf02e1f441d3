# syntax=docker/dockerfile:1
# The production image: gunicorn serving service.app:create_app() as a fixed
# non-root user. It runs with a read-only root filesystem when /tmp is a tmpfs
# and the model store is a volume (deploy/README.md):
#
#   docker build -t alrank .
#   docker run --rm -p 8000:8000 --read-only --tmpfs /tmp alrank
#
# Pin the base image by digest (python:3.11-slim-bookworm@sha256:...) where
# builds must be reproducible; both stages must use the same one.

# The builder: the project's wheel and a wheel of every runtime dependency.
FROM python:3.11-slim-bookworm AS builder
WORKDIR /src
COPY pyproject.toml README.md openapi.yaml ./
COPY service/ service/
COPY models/ models/
RUN python -m pip wheel --no-cache-dir --wheel-dir /wheels .

# The runtime: those wheels installed, and nothing from the build.
FROM python:3.11-slim-bookworm AS runtime
# At run time the service writes only to /tmp, /dev/shm and the model store.
# (gunicorn.conf.py also turns off gunicorn's control socket and onnxruntime's
# telemetry, which would otherwise write under $HOME.) The ranking core's
# compiled loops are cached under /tmp, so the first worker compiles them and
# the rest load them.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TMPDIR=/tmp \
    NUMBA_CACHE_DIR=/tmp/numba-cache \
    ORT_DISABLE_TELEMETRY=1 \
    ALRANK_BIND=0.0.0.0:8000 \
    ALRANK_MODEL_DIR=/var/lib/alrank/models
RUN groupadd --system --gid 10001 alrank \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin alrank \
    && install --directory --owner=10001 --group=10001 --mode=0750 /var/lib/alrank/models
# The wheels are mounted for this step only, so they never become a layer.
# pip compiles the bytecode here: nothing is written to the image at run time.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    python -m pip install --no-cache-dir --root-user-action=ignore --no-index \
        --find-links=/wheels /wheels/*.whl
WORKDIR /app
COPY gunicorn.conf.py /app/gunicorn.conf.py
USER 10001:10001
VOLUME ["/var/lib/alrank/models"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-m", "service.healthcheck"]
CMD ["gunicorn", "--config", "/app/gunicorn.conf.py", "service.app:create_app()"]
