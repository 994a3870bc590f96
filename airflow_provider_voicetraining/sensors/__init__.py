"""The sensor that waits for a voice-training job."""

__all__: list[str] = []
