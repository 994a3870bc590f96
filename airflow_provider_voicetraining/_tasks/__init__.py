"""What the sensor and the operators share, above the hook and the trigger (internal).

``waiting``: :class:`~.waiting.JobWaitMixin`, how a task waits (through the trigger);
``reattach``: never train twice (a retry finds its earlier try's job); ``quota``: quota first.
"""
