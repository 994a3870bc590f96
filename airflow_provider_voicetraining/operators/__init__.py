"""Operators that create voice-training jobs and collect their results."""

__all__: list[str] = []
