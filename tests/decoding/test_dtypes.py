import numpy as np
import pytest

from service.decoding.dtypes import working_dtype
from service.errors import InvalidInput


@pytest.mark.parametrize(
    ("dtype", "working"),
    [
        ("<f2", np.float32),
        ("<f4", np.float32),
        (">f4", np.float32),
        ("<f8", np.float64),
        (">f8", np.float64),
        ("i1", np.float32),
        ("u1", np.float32),
        ("<i2", np.float32),
        ("<u2", np.float32),
        ("<i4", np.float64),
        ("<u4", np.float64),
        ("<i8", np.float64),
        (">u8", np.float64),
    ],
)
def test_working_dtype_is_a_native_float_wide_enough(dtype, working):
    out = working_dtype(np.dtype(dtype), name="probabilities")
    assert out == np.dtype(working)
    assert out.isnative


@pytest.mark.parametrize(
    ("dtype", "message"),
    [
        ("O", "object arrays are refused"),
        ("?", "expected a numeric array"),
        ("<c8", "expected a numeric array"),
        ("<U3", "expected a numeric array"),
        ("S3", "expected a numeric array"),
        ("<M8[s]", "expected a numeric array"),
        ("<m8[s]", "expected a numeric array"),
        ("V8", "expected a numeric array"),
        ([("p", "<f8")], "expected a numeric array"),
        ([("p", "O")], "object arrays are refused"),
        (("<f8", (2,)), "expected a numeric array"),
    ],
)
def test_other_dtypes_are_refused(dtype, message):
    with pytest.raises(InvalidInput, match=message) as caught:
        working_dtype(np.dtype(dtype), name="samples")
    assert caught.value.field == "samples"
