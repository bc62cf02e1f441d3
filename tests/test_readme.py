"""The README documents every registered strategy with its formula, and every setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.ranking.registry import STRATEGIES

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def readme_table_rows() -> dict[str, list[str]]:
    """Strategy name -> cells of its row in the README's strategy table."""
    rows = {}
    for line in README.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        if line.startswith("| `") and len(cells) == 4:
            rows[cells[0].strip("`")] = cells
    return rows


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_strategy_row_matches_the_registry(name):
    strategy = STRATEGIES[name]
    row = readme_table_rows().get(name)
    assert row is not None, f"{name} is missing from the README's strategy table"
    assert row[1] == strategy.family
    inputs = ", ".join(strategy.inputs + strategy.arrays) or "embeddings"
    assert row[2] == inputs
    assert row[3].strip("`").replace("\\|", "|") == strategy.formula


def test_every_table_row_is_a_registered_strategy():
    assert set(readme_table_rows()) <= set(STRATEGIES)


def _settings() -> list[str]:
    from service.config import DEFAULTS, OPTIONAL, SECONDS, SWITCHES
    from service.web.models import MODEL_DEFAULTS, MODEL_OPTIONAL

    names = [*DEFAULTS, *SECONDS, *SWITCHES, *OPTIONAL, *MODEL_DEFAULTS, *MODEL_OPTIONAL]
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
