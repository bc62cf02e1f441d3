"""Size limits on declared arrays, checked before anything is allocated."""

from __future__ import annotations

import math
from dataclasses import dataclass

from service.errors import PayloadTooLarge


@dataclass(frozen=True)
class ArrayLimits:
    """Largest pool array the service accepts: rows (pool axis) and total elements."""

    max_rows: int
    max_elements: int

    def check(self, shape: tuple[int, ...], *, name: str) -> None:
        """Raise PayloadTooLarge when ``shape`` exceeds a limit."""
        if shape and shape[0] > self.max_rows:
            raise PayloadTooLarge(
                f"{shape[0]} rows declared, the limit is {self.max_rows}", field=name
            )
        elements = math.prod(shape)
        if elements > self.max_elements:
            raise PayloadTooLarge(
                f"{elements} elements declared (shape {list(shape)}), the limit is "
                f"{self.max_elements}",
                field=name,
            )
