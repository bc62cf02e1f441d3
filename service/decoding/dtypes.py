"""Which array element types are accepted, and the float type they are scored in."""

from __future__ import annotations

import numpy as np

from service.errors import InvalidInput


def working_dtype(dtype: np.dtype, *, name: str) -> np.dtype:
    """The native float dtype rows of ``dtype`` are scored in.

    float32 stays float32 and float64 stays float64; float16 and small
    integers widen to float32, wider integers to float64 (numpy's safe cast).
    Object, string, boolean, complex and structured dtypes are refused.
    """
    if dtype.hasobject:
        raise InvalidInput(
            "object arrays are refused: they need pickle, which is never enabled",
            field=name,
        )
    if dtype.kind not in "fiu" or dtype.fields is not None or dtype.subdtype is not None:
        raise InvalidInput(
            f"expected a numeric array (float or integer), got dtype {dtype.str!r}",
            field=name,
        )
    return np.result_type(dtype.newbyteorder("="), np.float32)
