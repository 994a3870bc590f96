"""The hook: authenticated calls to the MetaStudio voice-training API."""
