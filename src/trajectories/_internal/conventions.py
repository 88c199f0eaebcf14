"""The GenAI conventions that agent frameworks emit, read into one set of normalised facts.

Three conventions are read (docs/frameworks.md, docs/attributes.md list every attribute):

- the OpenTelemetry GenAI semantic conventions (``gen_ai.operation.name``; pydantic-ai emits
  them natively, so do the ``opentelemetry-instrumentation-*-v2`` packages);
- OpenInference (``openinference.span.kind``; the OpenAI Agents SDK, LangChain/LangGraph,
  LlamaIndex, ... through the ``openinference-instrumentation-*`` packages);
- OpenLLMetry / Traceloop (``traceloop.span.kind`` on workflow/task/agent/tool spans, and
  ``llm.request.type`` on its model spans).

:func:`span_facts` is called by the exporter for every span, so a span with none of the
convention keys costs a handful of dict lookups and returns the shared :data:`NOT_GENAI`.
It never raises: values of the wrong type, negative or oversized token counts and kinds that
are not strings are ignored (a kind that is not a string makes the span ``OTHER``).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple, TypeAlias

from .. import attributes as A
from .records import STATUS_ERROR

__all__ = [
    "NOT_GENAI",
    "STEP_ROLES",
    "Convention",
    "Events",
    "Role",
    "SpanFacts",
    "error_text",
    "span_facts",
]

_U64_MAX = (1 << 64) - 1

#: A span's events: ``(name, attributes)`` pairs or objects with ``.name``/``.attributes``, or a
#: zero-argument callable returning them (read only when the span failed: events cost to convert).
Events: TypeAlias = Iterable[Any] | Callable[[], Iterable[Any]]

Convention = str  # "gen_ai" | "openinference" | "openllmetry"


class Role(enum.Enum):
    """What a span is to a trajectory.

    ``AGENT`` and ``CHAIN`` are containers (transparent: their model and tool calls are the
    steps); ``MODEL``, ``TOOL`` and ``RETRIEVAL`` are steps; ``OTHER`` is anything else.
    """

    AGENT = "agent"
    CHAIN = "chain"
    MODEL = "model"
    TOOL = "tool"
    RETRIEVAL = "retrieval"
    OTHER = "other"


#: The roles that are steps (model, tool and retrieval calls).
STEP_ROLES = frozenset({Role.MODEL, Role.TOOL, Role.RETRIEVAL})


class SpanFacts(NamedTuple):
    """What one span says, whichever convention it said it in (None: not said, or unreadable).

    A NamedTuple, not a frozen dataclass: immutable all the same, and built several times
    faster (the exporter makes one per GenAI span). Token counts are read on model spans only:
    agent, chain and tool spans that carry totals repeat their children's.
    """

    role: Role = Role.OTHER
    convention: Convention | None = None
    operation: str | None = None
    agent_name: str | None = None
    tool_name: str | None = None
    tool_call_id: str | None = None
    model: str | None = None
    provider: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    session_id: str | None = None
    user_id: str | None = None
    #: ``"ExcType: message"`` when the span failed (status ERROR or ``error.type`` set), else None.
    error: str | None = None


#: The facts of a span that carries none of the conventions' keys (shared: the common case).
NOT_GENAI = SpanFacts()

# --------------------------------------------------------------------------- the keys

_GEN_AI_OPERATION = "gen_ai.operation.name"
_OI_KIND = "openinference.span.kind"
_TL_KIND = "traceloop.span.kind"
_TL_REQUEST_TYPE = "llm.request.type"  # OpenLLMetry's model spans carry no traceloop.span.kind

#: gen_ai.operation.name -> role. The memory writes and create_agent are not steps.
_GEN_AI_ROLES: dict[str, Role] = {
    "invoke_agent": Role.AGENT,
    "invoke_workflow": Role.AGENT,
    "plan": Role.CHAIN,
    "chat": Role.MODEL,
    "text_completion": Role.MODEL,
    "generate_content": Role.MODEL,
    "embeddings": Role.MODEL,
    "execute_tool": Role.TOOL,
    "retrieval": Role.RETRIEVAL,
    "search_memory": Role.RETRIEVAL,
    "create_agent": Role.OTHER,
    "create_memory": Role.OTHER,
    "update_memory": Role.OTHER,
    "upsert_memory": Role.OTHER,
    "delete_memory": Role.OTHER,
    "create_memory_store": Role.OTHER,
    "delete_memory_store": Role.OTHER,
}
_OI_ROLES: dict[str, Role] = {
    "AGENT": Role.AGENT,
    "CHAIN": Role.CHAIN,
    "LLM": Role.MODEL,
    "EMBEDDING": Role.MODEL,
    "TOOL": Role.TOOL,
    "RETRIEVER": Role.RETRIEVAL,
    "RERANKER": Role.RETRIEVAL,
    "GUARDRAIL": Role.OTHER,
    "EVALUATOR": Role.OTHER,
    "PROMPT": Role.OTHER,
    "UNKNOWN": Role.OTHER,
}
_TL_ROLES: dict[str, Role] = {
    "workflow": Role.AGENT,
    "agent": Role.AGENT,
    "task": Role.CHAIN,
    "tool": Role.TOOL,
}
_TL_REQUEST_ROLES: dict[str, Role] = {
    "chat": Role.MODEL,
    "completion": Role.MODEL,
    "embedding": Role.MODEL,
    "rerank": Role.RETRIEVAL,
}


class _Keys(NamedTuple):
    """One convention's attribute names for each fact, in order of preference.

    Token counts: the first readable key wins, so a span with both the current and the older
    names counts once.
    """

    agent: tuple[str, ...]
    tool: tuple[str, ...]
    call_id: tuple[str, ...]
    model: tuple[str, ...]
    provider: tuple[str, ...]
    input_tokens: tuple[str, ...]
    output_tokens: tuple[str, ...]
    session: tuple[str, ...]
    user: tuple[str, ...]


_KEYS: dict[str, _Keys] = {
    "gen_ai": _Keys(
        agent=("gen_ai.agent.name",),
        tool=("gen_ai.tool.name",),
        call_id=("gen_ai.tool.call.id",),
        model=("gen_ai.request.model", "gen_ai.response.model"),
        provider=("gen_ai.provider.name", "gen_ai.system"),
        input_tokens=("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"),
        output_tokens=("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens"),
        session=("gen_ai.conversation.id", "session.id"),
        user=("user.id",),
    ),
    "openinference": _Keys(
        agent=("agent.name",),
        tool=("tool.name",),
        call_id=("tool_call.id",),
        model=("llm.model_name",),
        provider=("llm.provider", "llm.system"),
        input_tokens=("llm.token_count.prompt",),
        output_tokens=("llm.token_count.completion",),
        session=("session.id",),
        user=("user.id",),
    ),
    # OpenLLMetry's model spans use the GenAI names (older versions their llm.* forerunners);
    # its workflow, agent and tool spans are named by traceloop.entity.name.
    "openllmetry": _Keys(
        agent=(),
        tool=(),
        call_id=("gen_ai.tool.call.id",),
        model=("gen_ai.request.model", "gen_ai.response.model", "llm.request.model", "llm.response.model"),
        provider=("gen_ai.provider.name", "gen_ai.system", "llm.vendor"),
        input_tokens=("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.usage.prompt_tokens"),
        output_tokens=("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens", "llm.usage.completion_tokens"),
        session=("traceloop.association.properties.session_id", "session.id"),
        user=("traceloop.association.properties.user_id", "user.id"),
    ),
}
_TL_ENTITY = "traceloop.entity.name"
_ERROR_TYPE = "error.type"


def _str(attributes: Mapping[str, Any], keys: Iterable[str]) -> str | None:
    get = attributes.get
    for key in keys:
        value = get(key)
        if (value.__class__ is str and value) or (isinstance(value, str) and value):
            return value
    return None


def _tokens(attributes: Mapping[str, Any], keys: Iterable[str]) -> int | None:
    for key in keys:
        value = attributes.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _U64_MAX:
            return value
    return None


def error_text(
    name: object, attributes: Mapping[str, Any], status_code: object, events: Events = (), status_message: object = None
) -> str | None:
    """``"ExcType: message"`` of a failed span: its last ``exception`` event, else ``error.type``,
    else the status description (*status_message*, where the span record keeps it).

    None when the span did not fail: neither status ERROR nor ``error.type``. An exception
    recorded on a span that then ended OK was handled, so it is not the span's error.
    """
    try:
        error_type = attributes.get(_ERROR_TYPE)
        if status_code != STATUS_ERROR and not (isinstance(error_type, str) and error_type):
            return None
        found: str | None = None
        for event in events() if callable(events) else events:
            text = _exception_event(event)
            if text is not None:
                found = text
        if found is not None:
            return found
        if isinstance(error_type, str) and error_type:
            return error_type
        if isinstance(status_message, str) and status_message:
            return status_message
        return f"span {name!r} ended with status ERROR" if isinstance(name, str) else "span ended with status ERROR"
    except Exception:  # malformed input of any shape: never raise out of the exporter
        return "span ended with status ERROR"


def _exception_event(event: Any) -> str | None:
    if isinstance(event, tuple) and len(event) == 2:
        ev_name, ev_attrs = event
    else:
        ev_name, ev_attrs = getattr(event, "name", None), getattr(event, "attributes", None)
    if ev_name != "exception" or not isinstance(ev_attrs, Mapping):
        return None
    exc_type = ev_attrs.get("exception.type")
    message = ev_attrs.get("exception.message")
    exc_type = exc_type if isinstance(exc_type, str) and exc_type else None
    message = message if isinstance(message, str) and message else None
    if exc_type and message:
        return f"{exc_type}: {message}"
    return exc_type or message


def span_facts(
    name: object, attributes: Mapping[str, Any], status_code: object = 0, events: Events = (), status_message: object = None
) -> SpanFacts:
    """The normalised facts of one span. Never raises; cheap for spans of no convention.

    *events* (or a callable returning them) and *status_message* are read only when the span failed.
    """
    try:
        return _facts(name, attributes, status_code, events, status_message)
    except Exception:  # a mapping that misbehaves (untrusted input): the span says nothing readable
        return NOT_GENAI


def _facts(name: object, attributes: Mapping[str, Any], status_code: object, events: Events, status_message: object) -> SpanFacts:
    get = attributes.get
    operation_value = get(_GEN_AI_OPERATION)
    oi_kind = get(_OI_KIND)
    tl_kind = get(_TL_KIND)
    tl_request = get(_TL_REQUEST_TYPE)
    if operation_value is None and oi_kind is None and tl_kind is None and tl_request is None:
        if get("gen_ai.usage.input_tokens") is None and get("gen_ai.usage.prompt_tokens") is None:
            if status_code != STATUS_ERROR and get(_ERROR_TYPE) is None:
                return NOT_GENAI
            return SpanFacts(error=error_text(name, attributes, status_code, events, status_message))
        # Usage without an operation name (an instrumentation older than the operation names): a model call.
        return _build(attributes, Role.MODEL, "gen_ai", None, None, name, status_code, events, status_message)
    role = Role.OTHER
    convention: Convention | None = None
    operation: str | None = None
    if isinstance(operation_value, str):
        role, convention, operation = _GEN_AI_ROLES.get(operation_value, Role.OTHER), "gen_ai", operation_value
        if role is Role.RETRIEVAL and get(A.RECALL_QUERY_SOURCE) is not None:
            role = Role.OTHER  # the SDK's own recall span (lessons_for): never a step, nothing to fold
    elif isinstance(oi_kind, str):
        kind = oi_kind.upper()
        role, convention, operation = _OI_ROLES.get(kind, Role.OTHER), "openinference", kind.lower()
    elif isinstance(tl_kind, str):
        role, convention, operation = _TL_ROLES.get(tl_kind, Role.OTHER), "openllmetry", tl_kind
    elif isinstance(tl_request, str):
        role, convention, operation = _TL_REQUEST_ROLES.get(tl_request, Role.OTHER), "openllmetry", tl_request
    else:  # the keys are there but none is a string: say nothing but the error
        return SpanFacts(error=error_text(name, attributes, status_code, events, status_message))
    entity = _str(attributes, (_TL_ENTITY,)) if convention == "openllmetry" else None
    return _build(attributes, role, convention, operation, entity, name, status_code, events, status_message)


def _build(
    attributes: Mapping[str, Any],
    role: Role,
    convention: Convention | None,
    operation: str | None,
    entity: str | None,
    name: object,
    status_code: object,
    events: Events,
    status_message: object,
) -> SpanFacts:
    keys = _KEYS[convention or "gen_ai"]
    agent_name = _str(attributes, keys.agent)
    tool_name = _str(attributes, keys.tool)
    if entity is not None:  # OpenLLMetry names its agents, workflows and tools by entity name
        if role is Role.AGENT:
            agent_name = entity
        elif role is Role.TOOL:
            tool_name = entity
    model_span = role is Role.MODEL
    # error_text's own first test, made here: most spans did not fail, and the call costs more.
    failed = status_code == STATUS_ERROR or attributes.get(_ERROR_TYPE) is not None
    return SpanFacts(
        role,
        convention,
        operation,
        agent_name,
        tool_name,
        _str(attributes, keys.call_id),
        _str(attributes, keys.model),
        _str(attributes, keys.provider),
        _tokens(attributes, keys.input_tokens) if model_span else None,
        _tokens(attributes, keys.output_tokens) if model_span else None,
        _str(attributes, keys.session),
        _str(attributes, keys.user),
        error_text(name, attributes, status_code, events, status_message) if failed else None,
    )
