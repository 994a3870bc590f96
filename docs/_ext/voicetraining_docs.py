"""The docs' pictures, drawn when the docs are built (no network, no checked-in images).

* ``lifecycle-diagram``: the job lifecycle as a Graphviz graph, generated from the one
  definition of the states (:mod:`airflow_provider_voicetraining.states`: every state and its
  class) and the emulator's timelines (:mod:`metastudio_emulator.lifecycle`: which state follows
  which, for every edition and outcome); the commit edges come from ``COMMITTABLE_STATES``.
* ``_generated/polling_sweep.svg``: requests per poll interval against the number of waits, per-job against
  shared polling, drawn with matplotlib from the benchmark's own output
  (``docs/_data/polling_sweep.json``, written by
  ``python -m benchmarks.polling_at_scale --scenarios sweep --json docs/_data/polling_sweep.json``).
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any, ClassVar

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.application import Sphinx
from sphinx.ext.graphviz import graphviz
from sphinx.util.docutils import SphinxDirective

DOCS = Path(__file__).resolve().parent.parent
SWEEP_DATA = DOCS / "_data" / "polling_sweep.json"

#: state class -> (cluster label, fill colour, border colour); the order the clusters are drawn in
CLASS_STYLE = {
    "in_progress": ("in progress (and any unknown state)", "#e8f1fb", "#2f6db5"),
    "needs_action": ("needs a person", "#fff3e0", "#d9822b"),
    "failure": ("failed", "#fdecea", "#c0392b"),
    "success": ("succeeded", "#e9f7ef", "#1e8449"),
}
#: state class -> what the sensor and the operators do with a job in it
CLASS_MEANING = {
    "in_progress": "keep waiting",
    "needs_action": "fail by default, with the audit errors attached; leave these states out of "
    "`failure_states` to keep waiting while someone acts",
    "failure": "fail the task without retries, with the failure details in XCom",
    "success": "return the job (sensor) or the `asset_id` (operators) and emit the voice's asset event",
}


def lifecycle_transitions() -> list[tuple[str, str, str]]:
    """``(from, to, label)`` of every transition: commits, then the emulator's timelines."""
    from airflow_provider_voicetraining.states import COMMITTABLE_STATES, JobState
    from airflow_provider_voicetraining.vocabulary import EDITIONS
    from metastudio_emulator.lifecycle import OUTCOME_ALIASES, build_timeline

    first = {
        build_timeline(e.job_type, o)[0].state for e in EDITIONS.values() for o in OUTCOME_ALIASES.values()
    }
    (committed,) = first  # every timeline starts where a commit leads
    edges: dict[tuple[str, str], str] = {}
    for state in sorted(COMMITTABLE_STATES):
        edges[(state, committed)] = "commit" if state == JobState.CREATING.value else "upload again, commit"
    for edition in EDITIONS.values():
        for outcome in sorted(set(OUTCOME_ALIASES.values())):
            steps = [step.state for step in build_timeline(edition.job_type, outcome)]
            for before, after in itertools.pairwise(steps):
                if after == JobState.WAITING_SPLIT.value:
                    splitting = ", ".join(e.name for e in EDITIONS.values() if e.splits)
                    edges.setdefault((before, after), splitting)
                else:
                    edges.setdefault((before, after), "")
    return [(a, b, label) for (a, b), label in edges.items()]


def lifecycle_dot() -> str:
    """The Graphviz source of the lifecycle picture."""
    from airflow_provider_voicetraining.states import JobState, classify

    lines = [
        "digraph lifecycle {",
        '  graph [rankdir=TB, fontname="Helvetica", fontsize=11, nodesep=0.3, ranksep=0.35, '
        'bgcolor="transparent"];',
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];',
        '  edge [fontname="Helvetica", fontsize=9, color="#555555"];',
    ]
    for cls, (label, fill, border) in CLASS_STYLE.items():
        lines.append(f"  subgraph cluster_{cls} {{")
        lines.append(f'    label="{label}"; style="rounded"; color="{border}"; fontcolor="{border}";')
        for state in JobState:
            if str(classify(state.value)) == cls:
                lines.append(f'    {state.value} [fillcolor="{fill}", color="{border}"];')
        lines.append("  }")
    for before, after, label in lifecycle_transitions():
        lines.append(f'  {before} -> {after} [label="{label}"];' if label else f"  {before} -> {after};")
    lines.append("}")
    return "\n".join(lines)


class LifecycleDiagram(SphinxDirective):
    """``lifecycle-diagram``: the job lifecycle, drawn from the states module."""

    has_content = False
    option_spec: ClassVar[dict[str, Any]] = {"alt": directives.unchanged}

    def run(self) -> list[nodes.Node]:
        node = graphviz()
        node["code"] = lifecycle_dot()
        node["options"] = {"docname": self.env.docname}
        node["alt"] = self.options.get("alt", "The voice-training job lifecycle")
        node["classes"] = ["voicetraining-diagram"]
        return [node]


def _sweep_points(variant: str) -> tuple[list[int], list[float]]:
    data = json.loads(SWEEP_DATA.read_text())["sweep"][variant]
    points = sorted(data["points"], key=lambda p: p["waits"])
    return [p["waits"] for p in points], [p["requests_per_interval"] for p in points]


def draw_polling_plot(target: Path) -> None:
    """Draw the shared-vs-per-job plot from the benchmark's output into ``target`` (SVG)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    interval = json.loads(SWEEP_DATA.read_text())["sweep"]["shared"]["interval"]
    fig, ax = plt.subplots(figsize=(7.0, 4.2), dpi=100)
    for variant, label, style in (
        ("per_job", "per-job polling (one show per wait)", "o-"),
        ("shared", "shared polling (list pages per connection)", "s-"),
    ):
        waits, requests = _sweep_points(variant)
        ax.plot(waits, requests, style, label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("deferred waits in one triggerer")
    ax.set_ylabel(f"API requests per {interval:g} s poll interval")
    ax.set_title("Requests per interval: per-job vs shared polling (measured)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target, format="svg", metadata={"Date": None})  # reproducible output
    plt.close(fig)


def state_classes_table() -> str:
    """A Markdown table of the state classes, their states and what waiting code does."""
    from airflow_provider_voicetraining.states import JobState, classify

    rows = ["| Class | States | What the sensor and the operators do |", "|---|---|---|"]
    for cls, (label, _, _) in CLASS_STYLE.items():
        states = ", ".join(f"`{s.value}`" for s in JobState if str(classify(s.value)) == cls)
        rows.append(f"| {label} (`{cls}`) | {states} | {CLASS_MEANING[cls]} |")
    return "\n".join(rows)


class StateClasses(SphinxDirective):
    """``state-classes``: the table of state classes, from the states module."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        return self.parse_text_to_nodes(state_classes_table())


def _draw_pictures(app: Sphinx) -> None:
    # the plot is an ordinary image of the performance page, drawn before the pages are read
    draw_polling_plot(Path(app.srcdir) / "_generated" / "polling_sweep.svg")


def setup(app: Sphinx) -> dict[str, Any]:
    app.setup_extension("sphinx.ext.graphviz")
    app.add_directive("lifecycle-diagram", LifecycleDiagram)
    app.add_directive("state-classes", StateClasses)
    app.connect("builder-inited", _draw_pictures)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
