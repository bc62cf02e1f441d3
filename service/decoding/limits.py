"""Size limits on declared arrays, checked before anything is allocated."""

from __future__ import annotations

import math
from dataclasses import dataclass

from service.errors import PayloadTooLarge


@dataclass(frozen=True)
class ArrayLimits:
    """Largest array the service accepts, in elements.

    The pool-row limit is checked once the pool axis is known (see
    check_pool_rows), since some inputs may send it second.
    """

    max_elements: int

    def check(self, shape: tuple[int, ...], *, name: str) -> None:
        """Raise PayloadTooLarge when ``shape`` holds too many elements."""
        elements = math.prod(shape)
        if elements > self.max_elements:
            raise PayloadTooLarge(
                f"{elements} elements declared (shape {list(shape)}), the limit is "
                f"{self.max_elements}",
                field=name,
            )


def check_pool_rows(pool_size: int, max_rows: int, *, name: str) -> None:
    """Raise PayloadTooLarge when the pool has more than ``max_rows`` items."""
    if pool_size > max_rows:
        raise PayloadTooLarge(
            f"{pool_size} pool rows declared, the limit is {max_rows}", field=name
        )


def check_classes(n_classes: int, max_classes: int, *, name: str) -> None:
    """Raise PayloadTooLarge when an input has more than ``max_classes`` classes."""
    if n_classes > max_classes:
        raise PayloadTooLarge(
            f"{n_classes} classes declared, the limit is {max_classes}", field=name
        )
