"""Active learning in Label Studio: rank a project's unlabeled tasks through alrank.

``python -m examples.label_studio`` reads a project's tasks with the official
SDK (``label-studio-sdk``), trains a small scikit-learn model on the tasks
already annotated, ranks the others through ``POST /v1/rank`` and writes one
prediction per unlabeled task: the model's label as a pre-annotation, and a
``score`` that follows the service's ranking (the first pick scores highest,
every pick above every task not picked). A Data Manager tab ordered by
prediction score, descending, then lists the picks first, in the service's
order, and its label stream hands them to annotators in that order.

``python -m examples.label_studio.demo`` runs the whole loop offline against
a Label Studio and an alrank started on loopback for the occasion, on
scikit-learn's bundled 8x8 digits rendered as images.

Modules: ``labeling`` (the labeling config, results, scores; no SDK),
``digits`` (the worked example's tasks), ``model`` (the scikit-learn model),
``rounds`` (one round of ranking against any SDK-shaped client), ``cli`` and
``demo``.
"""
