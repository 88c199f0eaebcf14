"""Learn from stored trajectories: verdict analysis, distillation, and recall before acting.

The rules are ruvllm's ReasoningBank (REASONINGBANK.md §4-6); see docs/store.md.
"""

from __future__ import annotations

from ._internal.learning.analyze import (
    FailurePattern,
    PatternCategory,
    RecoveryStrategy,
    VerdictAnalysis,
    VerdictAnalyzer,
    analyze,
)
from ._internal.learning.distill import (
    CompressedTrajectory,
    DistillConfig,
    DistillError,
    DistillResult,
    KeyLesson,
    MemoryDistiller,
    distill,
)
from ._internal.learning.recall import PastExperience, Recall, lessons_for

__all__ = [
    "CompressedTrajectory",
    "DistillConfig",
    "DistillError",
    "DistillResult",
    "FailurePattern",
    "KeyLesson",
    "MemoryDistiller",
    "PastExperience",
    "PatternCategory",
    "Recall",
    "RecoveryStrategy",
    "VerdictAnalysis",
    "VerdictAnalyzer",
    "analyze",
    "distill",
    "lessons_for",
]
