"""Models: a content-addressed store of ONNX models, their validation and inference.

Uploaded bytes are untrusted: they are checked statically and loaded once in a
sandboxed child process, which also measures their memory per row, before
they are stored; sessions are created lazily in each worker process, kept in
a bounded cache, and allocate from one arena per worker capped at the
inference memory budget.
"""
