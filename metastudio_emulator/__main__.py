"""``python -m metastudio_emulator``: same as the ``metastudio-emulator`` CLI."""

from metastudio_emulator.cli import main

raise SystemExit(main())
