"""The README documents every setting and every metric.

Its strategy table is generated from the registry (tests/test_contract.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def _settings() -> list[str]:
    from service.config import SETTINGS

    names = [setting.key for setting in SETTINGS]
    return sorted(set(names))


@pytest.mark.parametrize("name", _settings())
def test_every_setting_is_in_the_configuration_tables(name):
    configuration = README[README.index("## Configuration") : README.index("## Layout")]
    assert f"| `ALRANK_{name}` |" in configuration


def _metric_names() -> list[str]:
    from prometheus_client.metrics import MetricWrapperBase

    from service import metrics

    names = []
    for value in vars(metrics).values():
        if isinstance(value, MetricWrapperBase):
            suffix = "_total" if value._type == "counter" else ""
            names.append(value._name + suffix)
    return sorted(names)


@pytest.mark.parametrize("name", _metric_names())
def test_every_metric_is_in_the_metrics_table(name):
    assert f"| `{name}` |" in README
