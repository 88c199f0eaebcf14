"""Learn from stored trajectories: verdict analysis, distillation, and recall before acting.

The rules are ruvllm's ReasoningBank (REASONINGBANK.md §4-6); see docs/store.md.
"""

from __future__ import annotations

from ._internal.exceptions import DistillError
from ._internal.learning.analyze import FailurePattern, RecoveryStrategy, VerdictAnalysis, VerdictAnalyzer, analyze
from ._internal.learning.distill import DistillConfig, DistillResult, MemoryDistiller, distill
from ._internal.learning.effect import Effect
from ._internal.learning.feedback import feedback
from ._internal.learning.findings import Finding, classify_error, findings
from ._internal.learning.recall import PastExperience, PastLesson, Recall, lessons_for
from ._internal.model.category import PatternCategory
from ._internal.model.lessons import CompressedTrajectory, KeyLesson
from ._internal.model.recall import RecalledMemory, lesson_id

__all__ = [
    "CompressedTrajectory",
    "DistillConfig",
    "DistillError",
    "DistillResult",
    "Effect",
    "FailurePattern",
    "Finding",
    "KeyLesson",
    "MemoryDistiller",
    "PastExperience",
    "PastLesson",
    "PatternCategory",
    "Recall",
    "RecalledMemory",
    "RecoveryStrategy",
    "VerdictAnalysis",
    "VerdictAnalyzer",
    "analyze",
    "classify_error",
    "distill",
    "feedback",
    "findings",
    "lesson_id",
    "lessons_for",
]
