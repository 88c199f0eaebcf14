"""Every span attribute name the SDK writes or reads, in one place.

docs/attributes.md lists them with their types and meanings for people who build
dashboards and collector pipelines. The instrumentation writes these, the exporter reads
them back; a trajectory is fully recoverable from its spans alone.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "EVENT_EVALUATION_RESULT",
    "EVENT_EXCEPTION",
    "GEN_AI_AGENT_NAME",
    "GEN_AI_CONVERSATION_ID",
    "GEN_AI_EVALUATION_EXPLANATION",
    "GEN_AI_EVALUATION_NAME",
    "GEN_AI_EVALUATION_SCORE_LABEL",
    "GEN_AI_EVALUATION_SCORE_VALUE",
    "GEN_AI_MEMORY_QUERY_TEXT",
    "GEN_AI_MEMORY_RECORDS",
    "GEN_AI_MEMORY_RECORD_COUNT",
    "GEN_AI_OPERATION_NAME",
    "GEN_AI_REQUEST_MODEL",
    "GEN_AI_RESPONSE_MODEL",
    "GEN_AI_TOOL_NAME",
    "GEN_AI_USAGE_INPUT_TOKENS",
    "GEN_AI_USAGE_OUTPUT_TOKENS",
    "OPERATION_EXECUTE_TOOL",
    "OPERATION_INVOKE_AGENT",
    "OPERATION_SEARCH_MEMORY",
    "QUALITY_EVALUATION_NAME",
    "RECALL_FILTERS_PREFIX",
    "RECALL_IDS",
    "RECALL_K",
    "RECALL_KINDS",
    "RECALL_QUERY_SOURCE",
    "RECALL_RANK",
    "RECALL_SIMILARITIES",
    "SESSION_ID",
    "STEP_ACTION",
    "STEP_ATTRIBUTES_PREFIX",
    "STEP_CONFIDENCE",
    "STEP_CONTEXT_EMBEDDING",
    "STEP_INDEX",
    "STEP_INPUT",
    "STEP_INPUT_ATTRIBUTE",
    "STEP_OUTCOME",
    "STEP_OUTCOME_ACHIEVED",
    "STEP_OUTCOME_ERROR",
    "STEP_OUTCOME_MISSING",
    "STEP_OUTCOME_REASON",
    "STEP_OUTCOME_SUGGESTIONS",
    "STEP_OUTPUT",
    "STEP_OUTPUT_ATTRIBUTE",
    "STEP_PARENT_ATTRIBUTE",
    "STEP_RATIONALE",
    "STEP_TAGS",
    "TRAJECTORY_ATTRIBUTES_PREFIX",
    "TRAJECTORY_CANCELLED",
    "TRAJECTORY_ID",
    "TRAJECTORY_INCOMPLETE_ATTRIBUTE",
    "TRAJECTORY_LESSONS",
    "TRAJECTORY_MODELS_USED",
    "TRAJECTORY_NAME_ATTRIBUTE",
    "TRAJECTORY_OWN_INPUT_TOKENS",
    "TRAJECTORY_OWN_OUTPUT_TOKENS",
    "TRAJECTORY_QUALITY",
    "TRAJECTORY_QUERY_EMBEDDING",
    "TRAJECTORY_REQUEST_TYPE",
    "TRAJECTORY_STEP_COUNT",
    "TRAJECTORY_MISSING_STEPS_ATTRIBUTE",
    "TRAJECTORY_RESPONSE_EMBEDDING",
    "TRAJECTORY_TAGS",
    "TRAJECTORY_TOOLS_INVOKED",
    "TRAJECTORY_VERDICT",
    "TRAJECTORY_VERDICT_COMPLETION_RATIO",
    "TRAJECTORY_VERDICT_FINAL_QUALITY",
    "TRAJECTORY_VERDICT_REFLECTION_ATTEMPTS",
    "TRAJECTORY_VERDICT_ROOT_CAUSE",
    "USER_ID",
]

# --- OpenTelemetry GenAI semantic conventions -------------------------------------------
GEN_AI_OPERATION_NAME: Final = "gen_ai.operation.name"
GEN_AI_AGENT_NAME: Final = "gen_ai.agent.name"
GEN_AI_CONVERSATION_ID: Final = "gen_ai.conversation.id"
GEN_AI_TOOL_NAME: Final = "gen_ai.tool.name"
GEN_AI_REQUEST_MODEL: Final = "gen_ai.request.model"
GEN_AI_RESPONSE_MODEL: Final = "gen_ai.response.model"
GEN_AI_USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
GEN_AI_EVALUATION_NAME: Final = "gen_ai.evaluation.name"
GEN_AI_EVALUATION_SCORE_VALUE: Final = "gen_ai.evaluation.score.value"
GEN_AI_EVALUATION_SCORE_LABEL: Final = "gen_ai.evaluation.score.label"
GEN_AI_EVALUATION_EXPLANATION: Final = "gen_ai.evaluation.explanation"
#: Memory operations (``search_memory`` spans): records returned, and (content capture only) the
#: query text and the records as JSON.
GEN_AI_MEMORY_RECORD_COUNT: Final = "gen_ai.memory.record.count"
GEN_AI_MEMORY_QUERY_TEXT: Final = "gen_ai.memory.query.text"
GEN_AI_MEMORY_RECORDS: Final = "gen_ai.memory.records"
OPERATION_INVOKE_AGENT: Final = "invoke_agent"
OPERATION_EXECUTE_TOOL: Final = "execute_tool"
OPERATION_SEARCH_MEMORY: Final = "search_memory"
EVENT_EVALUATION_RESULT: Final = "gen_ai.evaluation.result"
EVENT_EXCEPTION: Final = "exception"
QUALITY_EVALUATION_NAME: Final = "trajectory.quality"

# --- general semantic conventions --------------------------------------------------------
SESSION_ID: Final = "session.id"
USER_ID: Final = "user.id"

# --- trajectory (root) span ----------------------------------------------------------------
TRAJECTORY_ID: Final = "trajectory.id"  # int: root span id with the top bit cleared
TRAJECTORY_REQUEST_TYPE: Final = "trajectory.request_type"
TRAJECTORY_TAGS: Final = "trajectory.tags"
TRAJECTORY_ATTRIBUTES_PREFIX: Final = "trajectory.attributes."
TRAJECTORY_LESSONS: Final = "trajectory.lessons"
TRAJECTORY_QUERY_EMBEDDING: Final = "trajectory.query_embedding"
TRAJECTORY_RESPONSE_EMBEDDING: Final = "trajectory.response_embedding"
TRAJECTORY_VERDICT: Final = "trajectory.verdict"
TRAJECTORY_VERDICT_COMPLETION_RATIO: Final = "trajectory.verdict.completion_ratio"
TRAJECTORY_VERDICT_ROOT_CAUSE: Final = "trajectory.verdict.root_cause"  # ruvllm JSON of the RootCause
TRAJECTORY_VERDICT_REFLECTION_ATTEMPTS: Final = "trajectory.verdict.reflection_attempts"
TRAJECTORY_VERDICT_FINAL_QUALITY: Final = "trajectory.verdict.final_quality"
TRAJECTORY_QUALITY: Final = "trajectory.quality"
TRAJECTORY_CANCELLED: Final = "trajectory.cancelled"
#: int, at the end: how many steps the trajectory recorded (indices 0..n-1). The exporter
#: waits for that many step spans after the root, so children arriving after it still count.
TRAJECTORY_STEP_COUNT: Final = "trajectory.step_count"
#: str[]: every model the trajectory used (its steps' and ``record_model``'s), first use first.
TRAJECTORY_MODELS_USED: Final = "trajectory.models_used"
#: str[]: every tool the trajectory invoked (its steps' and ``record_tool``'s), first use first.
TRAJECTORY_TOOLS_INVOKED: Final = "trajectory.tools_invoked"
#: int, at the end: tokens recorded on the trajectory itself (``t.add_tokens``), in no step. With
#: them the assembly totals the steps (framework spans included) and adds these, so usage that the
#: live handle already counted in ``gen_ai.usage.*`` is never counted twice.
TRAJECTORY_OWN_INPUT_TOKENS: Final = "trajectory.own_usage.input_tokens"
TRAJECTORY_OWN_OUTPUT_TOKENS: Final = "trajectory.own_usage.output_tokens"

# --- step span -------------------------------------------------------------------------------
STEP_INDEX: Final = "trajectory.step.index"
STEP_ACTION: Final = "trajectory.step.action"
STEP_RATIONALE: Final = "trajectory.step.rationale"
STEP_CONFIDENCE: Final = "trajectory.step.confidence"
STEP_OUTCOME: Final = "trajectory.step.outcome"  # success|partial|failure|skipped|needs_retry
STEP_OUTCOME_ACHIEVED: Final = "trajectory.step.outcome.achieved"
STEP_OUTCOME_MISSING: Final = "trajectory.step.outcome.missing"
STEP_OUTCOME_ERROR: Final = "trajectory.step.outcome.error"
STEP_OUTCOME_REASON: Final = "trajectory.step.outcome.reason"
STEP_OUTCOME_SUGGESTIONS: Final = "trajectory.step.outcome.suggestions"
STEP_TAGS: Final = "trajectory.step.tags"
STEP_ATTRIBUTES_PREFIX: Final = "trajectory.step.attributes."
STEP_CONTEXT_EMBEDDING: Final = "trajectory.step.context_embedding"
# Content capture (off by default; configure(capture_content=True) or @step(capture=True)):
# redacted, length-limited JSON text of the step's arguments and return value.
STEP_INPUT: Final = "trajectory.step.input"
STEP_OUTPUT: Final = "trajectory.step.output"

# --- recall span (``search_memory``: what lessons_for() searched and got back) ----------------
#: str, ``text`` or ``embedding``: what the query was. Its presence marks the SDK's recall span,
#: which the exporter never turns into a step nor folds into one (docs/attributes.md).
RECALL_QUERY_SOURCE: Final = "trajectory.recall.query_source"
RECALL_K: Final = "trajectory.recall.k"  # int: how many were asked for
RECALL_RANK: Final = "trajectory.recall.rank"  # str: the ranking mode
#: ``trajectory.recall.filters.<name>`` (str or float): each filter given (``min_quality``, ``verdict``, ...).
RECALL_FILTERS_PREFIX: Final = "trajectory.recall.filters."
#: Parallel arrays, in the order returned: each memory's kind (``trajectory``/``lesson``), id
#: (decimal text: an unsigned 64-bit id does not fit OTLP's signed integers) and similarity.
RECALL_KINDS: Final = "trajectory.recall.kinds"
RECALL_IDS: Final = "trajectory.recall.ids"
RECALL_SIMILARITIES: Final = "trajectory.recall.similarities"

# --- keys inside metadata attributes --------------------------------------------------------
#: In a nested step's ``StepMetadata.attributes``: the index of the enclosing step.
STEP_PARENT_ATTRIBUTE: Final = "parent_step"
# StepMetadata.attributes keys the exporter fills from trajectory.step.input / .output.
STEP_INPUT_ATTRIBUTE: Final = "input"
STEP_OUTPUT_ATTRIBUTE: Final = "output"
#: In ``TrajectoryMetadata.attributes`` of a trajectory whose root span never arrived.
TRAJECTORY_INCOMPLETE_ATTRIBUTE: Final = "incomplete"
#: In ``TrajectoryMetadata.attributes`` of a trajectory emitted without all of its steps
#: (they never arrived before expiry or shutdown): how many are missing. ``incomplete`` is set too.
TRAJECTORY_MISSING_STEPS_ATTRIBUTE: Final = "missing_steps"
#: In ``TrajectoryMetadata.attributes``: the trajectory's name (``gen_ai.agent.name`` of its root span).
#: ruvllm's model has no name field; the instrumentation and the exporter both put it here.
TRAJECTORY_NAME_ATTRIBUTE: Final = "trajectory.name"
