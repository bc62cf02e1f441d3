"""Drop-in query strategies that rank through an alrank service.

``service.integrations.modal``: a modAL query strategy (``alrank_strategy``);
``service.integrations.small_text``: a small-text ``QueryStrategy``
(``AlrankQueryStrategy``). Both need only the standard library and numpy
beyond the library they plug into, and send what the strategy reads (class
probabilities, committee samples, embeddings) through
``service.integrations.ranking``. Importing this package imports neither
modAL nor small-text.
"""
