"""ruvllm's pattern categories: what kind of work a trajectory, a lesson or a pattern is."""

from __future__ import annotations

import enum

from ..validate import shown

__all__ = ["PatternCategory"]


class PatternCategory(enum.Enum):
    """ruvllm's pattern categories. ``str()`` is the snake_case Display text; JSON uses the name."""

    General = "general"
    Reasoning = "reasoning"
    CodeGeneration = "code_generation"
    Research = "research"
    Creative = "creative"
    Conversational = "conversational"
    ToolUse = "tool_use"
    ErrorRecovery = "error_recovery"
    Reflection = "reflection"

    def __str__(self) -> str:
        return self.value

    @classmethod
    def parse(cls, value: str) -> PatternCategory:
        for member in cls:
            if value in (member.name, member.value):
                return member
        raise ValueError(f"unknown pattern category {shown(value)}")
