"""Verdict analysis (ruvllm's ``VerdictAnalyzer``), rule for rule as REASONINGBANK.md §4 gives it.

Given one trajectory it says why it turned out as it did (root cause, contributing factors,
known failure patterns), what could help (recovery strategies, improvements) and what to
remember (lessons, a category). The rules are deliberately simple and deterministic: the
point is that every agent sees the same analysis of the same trajectory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..model.category import PatternCategory
from ..model.outcome import FailureOutcome, NeedsRetryOutcome
from ..model.trajectory import Trajectory
from ..model.verdict import FailureVerdict, RecoveredVerdict, RootCause, Verdict
from ..validate import shown

__all__ = [
    "FailurePattern",
    "PatternCategory",
    "RecoveryStrategy",
    "VerdictAnalysis",
    "VerdictAnalyzer",
    "analyze",
    "cause_type",
]


def cause_type(cause: RootCause) -> str:
    """The Rust variant name of a root cause (``"ToolFailure"``), as patterns and strategies name them."""
    return cause.variant


@dataclass(frozen=True, slots=True)
class FailurePattern:
    """A known way of failing, matched when a failed step's action contains one of its actions."""

    id: str
    cause_type: str
    frequency: int
    triggers: tuple[str, ...]
    mitigations: tuple[str, ...]
    associated_actions: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "cause_type": self.cause_type,
            "frequency": self.frequency,
            "triggers": list(self.triggers),
            "mitigations": list(self.mitigations),
            "associated_actions": list(self.associated_actions),
        }


@dataclass(frozen=True, slots=True)
class RecoveryStrategy:
    """A way to recover from some root causes, with its expected success rate and effort (1-10)."""

    name: str
    description: str
    applicable_causes: tuple[str, ...]
    success_rate: float
    actions: tuple[str, ...]
    effort_score: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "applicable_causes": list(self.applicable_causes),
            "success_rate": self.success_rate,
            "actions": list(self.actions),
            "effort_score": self.effort_score,
        }


# In ruvllm these live in a HashMap, so their match order is arbitrary; we fix it as listed.
KNOWN_PATTERNS: tuple[FailurePattern, ...] = (
    FailurePattern(
        "context_gap",
        "InsufficientContext",
        0,
        ("vague query", "missing background", "ambiguous requirements"),
        ("ask clarifying questions", "search for context", "make assumptions explicit"),
        ("search", "query"),
    ),
    FailurePattern(
        "tool_error",
        "ToolFailure",
        0,
        ("invalid arguments", "permission denied", "resource not found"),
        ("validate inputs", "check permissions", "try alternative tool"),
        ("execute", "run"),
    ),
    FailurePattern(
        "reasoning_flaw",
        "ReasoningError",
        0,
        ("complex logic", "multiple constraints", "time pressure"),
        ("break down problem", "verify each step", "use structured approach"),
        ("analyze", "reason"),
    ),
)

STRATEGIES: tuple[RecoveryStrategy, ...] = (
    RecoveryStrategy(
        "Clarification Loop",
        "Ask clarifying questions to gather missing context",
        ("InsufficientContext", "InvalidInput"),
        0.75,
        (
            "Identify what information is missing",
            "Formulate specific questions",
            "Request clarification",
            "Retry with new context",
        ),
        3,
    ),
    RecoveryStrategy(
        "Decomposition",
        "Break the problem into smaller, manageable parts",
        ("ReasoningError", "CapabilityLimit"),
        0.70,
        ("Identify sub-problems", "Solve each independently", "Integrate solutions", "Verify combined result"),
        5,
    ),
    RecoveryStrategy(
        "Alternative Approach",
        "Try a different method or tool to achieve the goal",
        ("ToolFailure", "ExternalFailure"),
        0.65,
        ("Identify alternative methods", "Evaluate feasibility", "Implement alternative", "Compare results"),
        4,
    ),
    RecoveryStrategy(
        "Self-Verification",
        "Verify reasoning and outputs before finalizing",
        ("ReasoningError",),
        0.80,
        ("Review each reasoning step", "Check for logical consistency", "Verify facts if possible", "Correct identified errors"),
        2,
    ),
)


@dataclass(frozen=True, slots=True)
class VerdictAnalysis:
    """What :func:`analyze` found out about one trajectory."""

    verdict: Verdict
    root_cause: RootCause | None
    contributing_factors: tuple[str, ...] = ()
    failure_patterns: tuple[FailurePattern, ...] = ()
    recovery_strategies: tuple[RecoveryStrategy, ...] = ()
    lessons: tuple[str, ...] = ()
    pattern_category: PatternCategory = PatternCategory.General
    confidence: float = 0.5
    improvements: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """The analysis in ruvllm's serde shape (verdict and root cause in their ruvllm JSON)."""
        return {
            "verdict": self.verdict.to_dict(),
            "root_cause": None if self.root_cause is None else self.root_cause.to_dict(),
            "contributing_factors": list(self.contributing_factors),
            "failure_patterns": [p.to_dict() for p in self.failure_patterns],
            "recovery_strategies": [s.to_dict() for s in self.recovery_strategies],
            "lessons": list(self.lessons),
            "pattern_category": self.pattern_category.name,
            "confidence": self.confidence,
            "improvements": list(self.improvements),
        }


class VerdictAnalyzer:
    """Analyses trajectories with a set of known failure patterns and recovery strategies.

    Both can be extended (``learn_pattern``, ``add_strategy``), as in ruvllm.
    """

    def __init__(self) -> None:
        self.patterns: list[FailurePattern] = list(KNOWN_PATTERNS)
        self.strategies: list[RecoveryStrategy] = list(STRATEGIES)

    def learn_pattern(self, pattern: FailurePattern) -> None:
        """Add a pattern, replacing a known one with the same id."""
        if not isinstance(pattern, FailurePattern):
            raise TypeError(f"pattern must be a FailurePattern, got {type(pattern).__name__}: {shown(pattern)}")
        self.patterns = [p for p in self.patterns if p.id != pattern.id] + [pattern]

    def add_strategy(self, strategy: RecoveryStrategy) -> None:
        if not isinstance(strategy, RecoveryStrategy):
            raise TypeError(f"strategy must be a RecoveryStrategy, got {type(strategy).__name__}: {shown(strategy)}")
        self.strategies.append(strategy)

    def analyze(self, trajectory: Trajectory) -> VerdictAnalysis:
        if not isinstance(trajectory, Trajectory):
            raise TypeError(f"trajectory must be a Trajectory, got {type(trajectory).__name__}: {shown(trajectory)}")
        verdict = trajectory.verdict
        root: RootCause | None = None
        if isinstance(verdict, FailureVerdict):
            root = verdict.cause
        elif isinstance(verdict, RecoveredVerdict):
            root = verdict.original_failure
        factors = contributing_factors(trajectory)
        patterns = self.match_failure_patterns(trajectory)
        strategies = self.suggest_strategies(root) if root is not None else ()
        lessons = extract_lessons(trajectory)
        confidence = min(
            1.0,
            0.5
            + 0.1 * min(len(factors), 2)
            + 0.1 * min(len(patterns), 2)
            + 0.1 * min(len(lessons), 3)
            + (0.1 if strategies else 0.0),
        )
        return VerdictAnalysis(
            verdict=verdict,
            root_cause=root,
            contributing_factors=factors,
            failure_patterns=patterns,
            recovery_strategies=strategies,
            lessons=lessons,
            pattern_category=determine_category(trajectory),
            confidence=round(confidence, 6),
            improvements=suggest_improvements(trajectory),
        )

    def match_failure_patterns(self, trajectory: Trajectory) -> tuple[FailurePattern, ...]:
        matched: list[FailurePattern] = []
        for step in trajectory.steps:
            if step.outcome.is_failure:
                for pattern in self.patterns:
                    if any(a in step.action for a in pattern.associated_actions) and all(m.id != pattern.id for m in matched):
                        matched.append(pattern)
        return tuple(matched)

    def suggest_strategies(self, cause: RootCause) -> tuple[RecoveryStrategy, ...]:
        kind = cause_type(cause)
        return tuple(s for s in self.strategies if kind in s.applicable_causes)


def contributing_factors(trajectory: Trajectory) -> tuple[str, ...]:
    factors: list[str] = []
    failed = sum(1 for s in trajectory.steps if s.outcome.is_failure)
    if failed > 0:
        factors.append(f"{failed} steps failed")
    low = sum(1 for s in trajectory.steps if s.confidence < 0.5)
    if low > 0:
        factors.append(f"{low} steps had low confidence")
    for s in trajectory.steps:
        if isinstance(s.outcome, NeedsRetryOutcome):
            factors.append(f"Step '{s.action}' needed retry: {s.outcome.reason}")
    if trajectory.total_latency_ms > 30_000:
        factors.append("Long execution time")
    return tuple(factors)


def extract_lessons(trajectory: Trajectory) -> tuple[str, ...]:
    lessons = list(trajectory.lessons)
    if trajectory.is_success:  # Trajectory.is_success: Success or any recovery
        actions = [s.action for s in trajectory.steps if s.outcome.is_success]
        if actions:
            lessons.append("Successful pattern: " + " -> ".join(actions[:3]))
    else:
        for s in trajectory.steps:
            if isinstance(s.outcome, FailureOutcome):
                lessons.append(f"Avoid: {s.action} - {s.outcome.error}")
    if isinstance(trajectory.verdict, RecoveredVerdict):
        lessons.append(f"Recovery possible with {trajectory.verdict.reflection_attempts} reflection attempts")
    return tuple(lessons)


def determine_category(trajectory: Trajectory) -> PatternCategory:
    if isinstance(trajectory.verdict, RecoveredVerdict):
        return PatternCategory.Reflection
    if isinstance(trajectory.verdict, FailureVerdict):
        return PatternCategory.ErrorRecovery
    actions = [s.action for s in trajectory.steps]
    if any("code" in a or "implement" in a for a in actions):
        return PatternCategory.CodeGeneration
    if any("search" in a or "research" in a for a in actions):
        return PatternCategory.Research
    if any("tool" in a or "execute" in a for a in actions):
        return PatternCategory.ToolUse
    return PatternCategory.General


def suggest_improvements(trajectory: Trajectory) -> tuple[str, ...]:
    out: list[str] = []
    low = [s.action for s in trajectory.steps if s.confidence < 0.6]
    if low:
        out.append(f"Improve confidence in {len(low)} steps: {', '.join(low[:3])}")
    if len(trajectory.steps) > 2 and not any("verify" in s.action or "check" in s.action for s in trajectory.steps):
        out.append("Consider adding verification steps")
    if trajectory.is_failure and not any(isinstance(s.outcome, NeedsRetryOutcome) for s in trajectory.steps):
        out.append("Consider implementing retry logic for recoverable errors")
    return tuple(out)


_DEFAULT = VerdictAnalyzer()


def analyze(trajectory: Trajectory) -> VerdictAnalysis:
    """Analyse *trajectory* with the built-in patterns and strategies (REASONINGBANK.md §4)."""
    return _DEFAULT.analyze(trajectory)
