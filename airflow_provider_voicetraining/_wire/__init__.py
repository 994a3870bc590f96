"""The wire layer (internal): everything that talks to MetaStudio, and nothing that knows Airflow.

Signing, the request flow and its transport, the endpoint catalogue, IAM tokens, the API's
vocabulary and states, typed models and errors, input checks and connection settings. The
rule, pinned by ``tests/wire/test_layers.py``: nothing here imports Airflow, the emulator, or
anything of the package outside ``_wire`` (the emulator builds on this layer without Airflow).
Public names defined here have public paths (``errors``, ``models``, ``states``, ...).
"""
