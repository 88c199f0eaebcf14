"""The trajectory model (ruvllm's ReasoningBank) and everything that depends only on it.

Outcomes, verdicts and root causes; trajectories, steps and metadata; the recorder; compressed
trajectories and key lessons; the totals helper; constants; and ``serde`` (JSON in ruvllm's
form, JSON lines). Nothing here knows of spans, stores or the command line. Importing this
package installs the serde codec behind every model class's ``to_json``/``from_json``.
"""

from __future__ import annotations

from . import serde as serde

__all__ = ["serde"]
