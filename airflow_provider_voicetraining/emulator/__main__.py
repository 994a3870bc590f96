"""``python -m airflow_provider_voicetraining.emulator``: same as the ``metastudio-emulator`` CLI."""

from airflow_provider_voicetraining.emulator.cli import main

raise SystemExit(main())
