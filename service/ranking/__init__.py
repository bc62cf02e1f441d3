"""The numpy core: pure functions over arrays, no web framework, no I/O.

Arrays keep the pool axis first. Every score is "higher = label first"; top-k
selection breaks ties toward the lower pool index.
"""
