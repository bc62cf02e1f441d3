"""gunicorn settings for a CPU-bound numpy service.

Every value can be overridden from the environment (ALRANK_BIND,
ALRANK_WORKERS, ALRANK_THREADS, ALRANK_TIMEOUT, ...) or on the command line.
"""

import os

# One thread per worker for the numeric libraries: the workers already use
# every core, and nested thread pools would only oversubscribe them. These must
# be set before numpy loads, which happens in each worker after the fork.
for variable in (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
):
    os.environ.setdefault(variable, "1")


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


bind = os.environ.get("ALRANK_BIND", "127.0.0.1:8000")
# One worker per core: ranking is CPU-bound, so more workers only contend.
workers = _int("ALRANK_WORKERS", os.cpu_count() or 1)
# A second thread per worker answers health checks and small requests while
# the first ranks a large pool (numpy releases the GIL in its loops).
worker_class = "gthread"
threads = _int("ALRANK_THREADS", 2)
timeout = _int("ALRANK_TIMEOUT", 120)
graceful_timeout = _int("ALRANK_GRACEFUL_TIMEOUT", 30)
keepalive = 5
# Recycle workers now and then so slow leaks in native libraries cannot grow.
max_requests = _int("ALRANK_MAX_REQUESTS", 2000)
max_requests_jitter = _int("ALRANK_MAX_REQUESTS_JITTER", 200)
# Workers import the app themselves, after the fork: no native session or
# thread pool is ever shared across a fork.
preload_app = False
# Heartbeat files on tmpfs where there is one, so a slow disk cannot stall them.
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("ALRANK_LOG_LEVEL", "info")
