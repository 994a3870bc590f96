"""Sphinx configuration of the provider's documentation (``make docs``; warnings are errors)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
# autodoc imports Airflow: give it a private home under the build folder, and quiet logs
os.environ.setdefault("AIRFLOW_HOME", str(DOCS / "_build" / "airflow-home"))
os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
sys.path.insert(0, str(DOCS / "_ext"))
sys.path.insert(0, str(DOCS.parent))  # the package, the emulator and the example DAGs

from airflow_provider_voicetraining import __version__  # noqa: E402

project = "airflow-provider-voicetraining"
author = "airflow-provider-voicetraining developers"
copyright = "the airflow-provider-voicetraining developers, Apache License 2.0"
version = release = __version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.graphviz",
    "voicetraining_docs",
]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build", "_generated/*.md", "README.md"]
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# Nothing is fetched at build time: no intersphinx, no remote images, no CDN (furo ships its assets).
html_theme = "furo"
html_title = f"airflow-provider-voicetraining {release}"
html_static_path = ["_static"]
html_css_files = ["voicetraining.css"]
html_show_sourcelink = False

graphviz_output_format = "svg"
graphviz_dot_args = ["-Gfontname=Helvetica"]

# The API reference documents what each public module's __all__ lists, nothing else.
autodoc_default_options = {"members": True, "imported-members": True, "member-order": "bysource"}
autodoc_typehints = "signature"
autodoc_class_signature = "separated"
autoclass_content = "class"
autodoc_inherit_docstrings = False
