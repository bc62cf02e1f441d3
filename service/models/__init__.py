"""Models: a content-addressed store of ONNX models, their validation and inference.

Uploaded bytes are untrusted: they are checked statically and loaded once in a
sandboxed child process before they are stored; sessions are created lazily
in each worker process and kept in a bounded cache.
"""
