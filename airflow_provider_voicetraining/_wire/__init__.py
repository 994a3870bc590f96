"""The wire layer: everything that talks to MetaStudio, and nothing that knows Airflow.

Signing, the request flow and its two transports, the endpoint catalogue, IAM tokens, the API's
vocabulary and states, typed models and errors, input checks and connection settings. Two rules,
both pinned by tests (``tests/wire/test_layers.py``):

* nothing here imports Airflow (the emulator, ``metastudio_emulator``, builds on this layer and
  runs without Airflow);
* nothing here imports the emulator.

The Airflow layer (``hooks``, ``sensors``, ``triggers``, ``operators``, ``links``, ``utils``)
wraps it: it turns an Airflow connection into :class:`~.settings.ConnectionSettings`, registers
secrets with Airflow's masker and decides what a task does with a job.
"""
