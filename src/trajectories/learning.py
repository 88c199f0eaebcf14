"""Learn from stored trajectories: verdict analysis, distillation, and recall before acting.

The rules are ruvllm's ReasoningBank (REASONINGBANK.md §4-6); see docs/store.md.
"""

from __future__ import annotations

from ._internal.exceptions import DistillError
from ._internal.learning.analyze import FailurePattern, RecoveryStrategy, VerdictAnalysis, VerdictAnalyzer, analyze
from ._internal.learning.distill import DistillConfig, DistillResult, MemoryDistiller, distill
from ._internal.learning.findings import Finding, classify_error, findings
from ._internal.learning.recall import PastExperience, Recall, lessons_for
from ._internal.model.category import PatternCategory
from ._internal.model.lessons import CompressedTrajectory, KeyLesson

__all__ = [
    "CompressedTrajectory",
    "DistillConfig",
    "DistillError",
    "DistillResult",
    "FailurePattern",
    "Finding",
    "KeyLesson",
    "MemoryDistiller",
    "PastExperience",
    "PatternCategory",
    "Recall",
    "RecoveryStrategy",
    "VerdictAnalysis",
    "VerdictAnalyzer",
    "analyze",
    "classify_error",
    "distill",
    "findings",
    "lessons_for",
]
