"""Decoding: request bytes in, checked arrays out; every failure is a typed error."""
