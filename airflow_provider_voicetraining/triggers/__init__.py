"""The trigger that waits for a voice-training job in the triggerer."""

__all__: list[str] = []
