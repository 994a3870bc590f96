"""Internals of the Airflow layer: Airflow-version differences and the one definition of waiting.

``compat`` holds everything that differs between Airflow 3.0 and 3.3; ``wait_rules`` decides what a
polled job means and defines the trigger event; ``job_waiting`` is the mixin the sensor and the
operators wait through. Nothing here is public API.
"""
