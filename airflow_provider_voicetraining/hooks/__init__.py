"""The hook: authenticated calls to the MetaStudio voice-training API."""

__all__: list[str] = []
