"""gunicorn settings for a CPU-bound numpy service.

Every value can be overridden from the environment (ALRANK_BIND,
ALRANK_WORKERS, ALRANK_THREADS, ALRANK_TIMEOUT, ...) or on the command line.
"""

import os
import shutil
import tempfile

# One thread per worker for the numeric libraries: the workers already use
# every core, and nested thread pools would only oversubscribe them. These must
# be set before numpy loads, which happens in each worker after the fork.
# onnxruntime otherwise writes under $HOME and tries to send usage events.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

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


def _shared_directory(variable: str, prefix: str) -> str:
    """The directory ``variable`` names, else a fresh one (on tmpfs where there
    is one), exported so every worker finds it."""
    directory = os.environ.get(variable)
    if not directory:
        base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
        directory = tempfile.mkdtemp(prefix=prefix, dir=base)
        _created.append(directory)
        os.environ[variable] = directory
    os.makedirs(directory, exist_ok=True)
    return directory


_created: list[str] = []

bind = os.environ.get("ALRANK_BIND", "127.0.0.1:8000")
# One worker per core: ranking is CPU-bound, so more workers only contend.
workers = _int("ALRANK_WORKERS", os.cpu_count() or 1)
# Rankings run on at most threads - 1 of each worker's threads (and on at most
# ALRANK_COMPUTE_SLOTS over all workers), so a thread is always free to answer
# health checks and /metrics while a large pool is ranked. The kernel does not
# spread connections evenly over the workers, so each admits several rankings
# (waiting for a slot) before it refuses one.
worker_class = "gthread"
threads = _int("ALRANK_THREADS", 8)
# The app reads both (see on_starting, which exports the final values).
_slots_given = "ALRANK_COMPUTE_SLOTS" in os.environ
# Lock files of the compute slots, shared by every worker.
_shared_directory("ALRANK_SLOT_DIR", "alrank-slots-")
# Prometheus multiprocess mode: each worker writes its metrics to files here
# and /metrics sums them. Set before any worker imports prometheus_client.
_metrics_directory = _shared_directory("PROMETHEUS_MULTIPROC_DIR", "alrank-metrics-")
# The compute deadline (ALRANK_COMPUTE_DEADLINE_SECONDS, 60 s by default) ends
# a long ranking first; this only catches a worker that stopped answering.
timeout = _int("ALRANK_TIMEOUT", 120)
# A stopping worker lets requests in flight finish: the compute deadline (60 s)
# plus the longest wait for a slot (5 s), with a margin.
graceful_timeout = _int("ALRANK_GRACEFUL_TIMEOUT", 70)
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
# No control socket (gunicornc): it would live under $HOME, which may be
# read-only, and servers of one user would share its path.
control_socket_disable = True
# The app writes one JSON line per request itself (ALRANK_ACCESS_LOG).
accesslog = None
errorlog = "-"
loglevel = os.environ.get("ALRANK_LOG_LEVEL", "info")


def on_starting(server: object) -> None:
    """Tell the workers the final thread and worker counts (the command line may
    have changed them), and start from empty metrics: files left by an earlier
    run would add to the totals."""
    settings = server.cfg  # type: ignore[attr-defined]
    os.environ["ALRANK_THREADS"] = str(settings.threads)
    if not _slots_given:
        os.environ["ALRANK_COMPUTE_SLOTS"] = str(settings.workers)
    for name in os.listdir(_metrics_directory):
        if name.endswith(".db"):
            os.remove(os.path.join(_metrics_directory, name))


def child_exit(server: object, worker: object) -> None:
    """A dead worker's live gauges leave the sums; its counters and histograms
    are kept in archive files, and its own files removed."""
    from service.metrics import retire_worker

    retire_worker(worker.pid)  # type: ignore[attr-defined]


def on_exit(server: object) -> None:
    """Remove the directories made for this run."""
    for directory in _created:
        shutil.rmtree(directory, ignore_errors=True)


def post_worker_init(worker: object) -> None:
    """A stopping worker closes its copy of the listening socket as it stops
    accepting, so new connections are refused while it finishes its requests
    instead of waiting in the kernel's queue for a worker that will not come."""
    stop_accepting = getattr(worker, "set_accept_enabled", None)
    if stop_accepting is None:  # a worker class without the method
        return

    def set_accept_enabled(enabled: bool) -> None:
        stop_accepting(enabled)
        if not enabled and not worker.alive:  # type: ignore[attr-defined]
            for listener in worker.sockets:  # type: ignore[attr-defined]
                listener.close()

    worker.set_accept_enabled = set_accept_enabled  # type: ignore[attr-defined]
