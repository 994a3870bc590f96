"""The extra link to a job in the MetaStudio console."""

__all__: list[str] = []
