"""One round in a Label Studio project: read, train, rank through alrank, write predictions.

``ls`` is the SDK's ``LabelStudio`` client (or anything with the same
``projects``, ``tasks`` and ``views`` calls); ``alrank`` is an
:class:`service.client.AlrankClient`.

Label Studio averages a task's prediction scores over the predictions of the
project's ``model_version`` (none match a new project's empty version), so the
round names its predictions with a fresh version and, once they are in (Label
Studio accepts only a version that has predictions), makes it the project's:
earlier rounds' predictions stay but no longer count, and the labeling
interface pre-annotates with this round's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from examples.label_studio import model as user_model
from examples.label_studio.labeling import (
    SCORE_ORDERING,
    choices_config,
    prediction_requests,
    ranking_scores,
    split_tasks,
)
from examples.simulation.plans import StrategyPlan, plan_strategies
from service.client import AlrankClient

VIEW_TITLE = "alrank picks"


@dataclass(frozen=True)
class Round:
    """What a round did: the picks (task ids, best first) and what was written."""

    project: int
    strategy: str
    model_version: str
    labeled: int
    pool: int
    picks: tuple[int, ...]
    scores: tuple[float, ...]
    predicted: tuple[str, ...]
    written: int
    view: int | None


def default_model_version(strategy: str) -> str:
    """A version naming the strategy and the time, new for every round."""
    return f"alrank-{strategy}-{datetime.now(UTC):%Y%m%dT%H%M%S.%f}"


def run_round(
    ls: Any,
    alrank: AlrankClient,
    project: int,
    *,
    budget: int,
    strategy: str = "margin",
    features_field: str = "pixels",
    control: str | None = None,
    model_version: str | None = None,
    view_title: str | None = VIEW_TITLE,
    seed: int = 0,
) -> Round:
    """Rank the project's unlabeled tasks and write a prediction for each of them.

    Every unlabeled task gets the model's label as a pre-annotation; the
    ``budget`` picks get scores from 1.0 down in the service's order, the
    rest 0. ``view_title``: the Data Manager tab ordered by that score,
    highest first, created or updated (None: no tab).
    """
    config = choices_config(ls.projects.get(id=project).label_config, control)
    split = split_tasks(ls.tasks.list(project=project, fields="all"), config, features_field)
    if not split.pool_ids:
        raise ValueError("every task is labeled: nothing to rank")
    plan = _plan(alrank, strategy)
    scored = user_model.fit_and_score(
        split.labeled_features, split.labels, split.pool_features, seed=seed
    )
    budget = min(budget, len(split.pool_ids))
    everything = np.vstack([split.labeled_features, split.pool_features])
    arrays: dict[str, np.ndarray] = {}
    if plan.input == "probabilities":
        arrays["probabilities"] = scored.probabilities
    if plan.embeddings:
        arrays["embeddings"] = user_model.embeddings(split.pool_features, everything)
    if plan.labeled_embeddings:
        arrays["labeled_embeddings"] = user_model.embeddings(split.labeled_features, everything)
    ranked = alrank.rank(strategy, budget, seed=seed if plan.randomized else None, **arrays)
    scores = ranking_scores(ranked.indices.tolist(), len(split.pool_ids))
    version = model_version or default_model_version(strategy)
    requests = prediction_requests(split.pool_ids, scored.labels, scores.tolist(), config, version)
    ls.projects.import_predictions(id=project, request=requests)
    ls.projects.update(id=project, model_version=version)
    view = ensure_view(ls, project, view_title) if view_title else None
    picks = tuple(split.pool_ids[index] for index in ranked.indices.tolist())
    return Round(
        project=project,
        strategy=strategy,
        model_version=version,
        labeled=len(split.labeled_ids),
        pool=len(split.pool_ids),
        picks=picks,
        scores=tuple(float(scores[index]) for index in ranked.indices.tolist()),
        predicted=tuple(scored.labels[index] for index in ranked.indices.tolist()),
        written=len(requests),
        view=view,
    )


def ensure_view(ls: Any, project: int, title: str) -> int:
    """The id of the project's tab ``title``, ordered by prediction score, highest first."""
    data = {"title": title, "ordering": [SCORE_ORDERING]}
    for view in ls.views.list(project=project):
        existing = dict(view.data or {})
        if existing.get("title") == title:
            ls.views.update(id=str(view.id), project=project, data=existing | data)
            return int(view.id)
    return int(ls.views.create(project=project, data=data).id)


def ordered_task_ids(ls: Any, project: int, view: int | None = None) -> list[int]:
    """The project's task ids as Label Studio orders them: by the tab, or by score."""
    if view is not None:
        tasks = ls.tasks.list(project=project, view=view)
    else:
        query = json.dumps({"ordering": [SCORE_ORDERING]})
        tasks = ls.tasks.list(project=project, query=query)
    return [int(task.id) for task in tasks]


def next_in_stream(ls: Any, project: int, view: int) -> int | None:
    """The task the label stream of tab ``view`` hands the calling user next (None: no task).

    It is what "Label All Tasks" in that tab opens: the Data Manager action
    ``next_task``, whose answer the SDK returns only in the raw response.
    """
    answer = ls.actions.with_raw_response.create(id="next_task", project=project, view=view)
    task = answer.response.json()
    return int(task["id"]) if task.get("id") is not None else None


def _plan(alrank: AlrankClient, strategy: str) -> StrategyPlan:
    plans, skipped = plan_strategies(alrank.strategies(), committee=False)
    for plan in plans:
        if plan.name == strategy:
            return plan
    if strategy in skipped:
        raise ValueError(f"this example cannot rank with {strategy}: it {skipped[strategy]}")
    names = ", ".join(sorted(plan.name for plan in plans))
    raise ValueError(f"unknown strategy {strategy!r}; this example can use {names}")
