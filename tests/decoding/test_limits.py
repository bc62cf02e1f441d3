import pytest

from service.decoding.limits import ArrayLimits, check_pool_rows
from service.errors import PayloadTooLarge


def test_shapes_up_to_the_element_limit_pass():
    limits = ArrayLimits(max_elements=100)
    limits.check((10, 10), name="probabilities")
    limits.check((100,), name="probabilities")
    limits.check((0, 10**9), name="probabilities")


@pytest.mark.parametrize("shape", [(101,), (11, 10), (2, 3, 17), (10**12, 10**12)])
def test_shapes_over_the_element_limit_are_too_large(shape):
    with pytest.raises(PayloadTooLarge, match="elements declared") as caught:
        ArrayLimits(max_elements=100).check(shape, name="samples")
    assert caught.value.field == "samples"


def test_pool_rows_over_the_limit_are_too_large():
    check_pool_rows(50, 50, name="probabilities")
    with pytest.raises(PayloadTooLarge, match="51 pool rows declared, the limit is 50") as caught:
        check_pool_rows(51, 50, name="probabilities")
    assert caught.value.field == "probabilities"
