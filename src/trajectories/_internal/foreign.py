"""Spans the SDK did not make, read as steps and usage: one implementation for every path.

A framework's model, tool and retrieval spans become steps; spans inside a step fold into it;
tokens are counted once per model call (docs/frameworks.md). Three callers share this module:

- the framework assembly (``export/frameworks.py``): trajectories made of such spans only;
- the span assembly of an SDK trajectory (``export/build.py``): framework spans under
  ``trajectory()`` but not under a ``@step`` become steps, those under a ``@step`` fold into it;
- the live trajectory handle, which sees the same spans end in-process (through the span
  processor ``configure()`` installs), so that ``t.result`` agrees with what is stored.

"Inside" follows parent ids, never time: a framework may keep a model span open while the tool
it asked for runs beside it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .conventions import NOT_GENAI, STEP_ROLES, Role, SpanFacts, span_facts
from .model.constants import U64_MAX, elapsed_ms, ns_to_datetime
from .model.outcome import StepOutcome
from .model.trajectory import StepMetadata, TrajectoryStep
from .records import STATUS_ERROR, SpanLike

__all__ = [
    "AGENT_ATTRIBUTE",
    "BuiltStep",
    "Forest",
    "ForeignSpan",
    "Merged",
    "SdkStep",
    "Usage",
    "action_of",
    "build_step",
    "facts_of",
    "forest",
    "merge_foreign",
    "step_spans",
    "top_down",
]

_SUCCESS = StepOutcome.success()

#: ``StepMetadata.attributes`` key: the nested agent a framework step ran in (when it is not the trajectory's own).
AGENT_ATTRIBUTE = "agent"


#: What is read of a span: the fields of ``SpanRecord`` (any span view has them).
ForeignSpan = SpanLike


def facts_of(span: ForeignSpan) -> SpanFacts:
    """:func:`~.conventions.span_facts` of a span object; never raises."""
    try:
        events = lambda: getattr(span, "events", ())  # noqa: E731  # read only when the span failed
        code = span.status_code
        message = getattr(span, "status_message", None) if code == STATUS_ERROR else None  # only an ERROR's is read
        return span_facts(span.name, span.attributes, code, events, message)
    except Exception:  # a span object that misbehaves: it says nothing
        return NOT_GENAI


def _start(span: ForeignSpan) -> int:
    start = span.start_ns
    return start if isinstance(start, int) else 0


def _end(span: ForeignSpan) -> int:
    end = span.end_ns
    return end if isinstance(end, int) else 0


def _sum(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(U64_MAX, a + b)


def top_down(ids: Iterable[int], parents: Mapping[int, int]) -> dict[int, None]:
    """The ids, parents before children, from the parentless ones down (ids in a cycle are left out)."""
    children: dict[int, list[int]] = {}
    stack: list[int] = []
    for sid in ids:
        parent = parents.get(sid)
        if parent is None:
            stack.append(sid)
        else:
            children.setdefault(parent, []).append(sid)
    order: dict[int, None] = {}
    while stack:
        sid = stack.pop()
        order[sid] = None
        stack.extend(children.get(sid, ()))
    return order


class Usage(NamedTuple):
    """What a span and everything inside it used: tokens (each model call once), models, tools."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    models: tuple[str, ...] = ()
    tools: tuple[str, ...] = ()


@dataclass(slots=True)
class Forest:
    """Per-span facts of a set of spans that depend on ancestors or descendants, each found in one pass.

    - ``agent``: the name of the nearest named agent above the span;
    - ``inside_step``: a model, tool or retrieval span is above it;
    - ``usage``: what the span and everything inside it used, each model call counted once: a
      model span with token counts is taken as it is (a model span inside it repeats part of the
      same call); any other span (agent, chain, tool: their totals repeat their children's)
      adds only what its children add;
    - ``model``: its own model on a model span, else the first model inside it.
    """

    spans: dict[int, ForeignSpan]
    facts: dict[int, SpanFacts]
    parents: dict[int, int]
    order: dict[int, None]
    children: dict[int, list[int]] = field(default_factory=dict)
    agent: dict[int, str | None] = field(default_factory=dict)
    inside_step: dict[int, bool] = field(default_factory=dict)
    usage: dict[int, Usage] = field(default_factory=dict)
    model: dict[int, str | None] = field(default_factory=dict)

    def tool_of(self, sid: int) -> str | None:
        f = self.facts[sid]
        if f.role is not Role.TOOL:
            return None
        name = self.spans[sid].name
        return f.tool_name if f.tool_name is not None else (name if isinstance(name, str) else None)


def forest(spans: Iterable[ForeignSpan], parents: Mapping[int, int], facts: Mapping[int, SpanFacts] | None = None) -> Forest:
    """The :class:`Forest` of *spans*, whose parent links (within *spans*) are *parents*."""
    index = {s.span_id: s for s in spans}
    all_facts: dict[int, SpanFacts]
    if facts is None:
        all_facts = {sid: facts_of(s) for sid, s in index.items()}
    elif type(facts) is dict:  # read, never changed: used as it is
        all_facts = facts
    else:
        all_facts = dict(facts)
    links = {sid: p for sid, p in parents.items() if sid in index and p in index}
    f = Forest(index, all_facts, links, top_down(index, links))
    children = f.children
    # Children lists in start order: (start, id) pairs sort as tuples, without a key function.
    for _, sid in sorted([(_start(index[sid]), sid) for sid in links]):
        children.setdefault(links[sid], []).append(sid)
    agent, inside = f.agent, f.inside_step
    for sid in f.order:
        parent = links.get(sid)
        if parent is None:
            agent[sid], inside[sid] = None, False
            continue
        pf = all_facts[parent]
        agent[sid] = pf.agent_name if pf.role is Role.AGENT and pf.agent_name is not None else agent[parent]
        inside[sid] = inside[parent] or pf.role in STEP_ROLES
    usage, model_of = f.usage, f.model
    for sid in reversed(list(f.order)):  # children before parents
        facts_ = all_facts[sid]
        role = facts_.role
        own_model = facts_.model if role is Role.MODEL else None
        own_tool = f.tool_of(sid) if role is Role.TOOL else None
        counted = role is Role.MODEL and (facts_.input_tokens is not None or facts_.output_tokens is not None)
        kids = children.get(sid)
        if kids is None:  # a leaf (most spans): what it used is its own
            usage[sid] = Usage(
                facts_.input_tokens if counted else None,
                facts_.output_tokens if counted else None,
                () if own_model is None else (own_model,),
                () if own_tool is None else (own_tool,),
            )
            model_of[sid] = own_model
            continue
        models: dict[str, None] = {} if own_model is None else {own_model: None}
        tools: dict[str, None] = {} if own_tool is None else {own_tool: None}
        inp, out = (facts_.input_tokens, facts_.output_tokens) if counted else (None, None)
        for child in kids:
            u = usage[child]
            if not counted:
                inp, out = _sum(inp, u.input_tokens), _sum(out, u.output_tokens)
            models.update(dict.fromkeys(u.models))
            tools.update(dict.fromkeys(u.tools))
        usage[sid] = Usage(inp, out, tuple(models), tuple(tools))
        model_of[sid] = own_model if own_model is not None else next((model_of[c] for c in kids if model_of[c] is not None), None)
    return f


def action_of(facts: SpanFacts, span: ForeignSpan, model: str | None) -> str:
    """A model call is ``"{operation} {model}"`` (``chat gpt-4o``); a tool call its tool's name
    from its attributes (span names are not always the tool's name); anything else its span name."""
    if facts.role is Role.MODEL:
        op = facts.operation or "llm"
        return f"{op} {model}" if model is not None else op
    if facts.tool_name is not None:
        return facts.tool_name
    name = span.name
    return name if isinstance(name, str) else str(name)


class BuiltStep(NamedTuple):
    step: TrajectoryStep
    tool: str | None  # the tool, for a tool call
    error: str | None  # "ExcType: message" when it failed


def build_step(index: int, sid: int, f: Forest, trajectory_name: str | None) -> BuiltStep:
    """The :class:`TrajectoryStep` of the step span *sid* and everything inside it."""
    span, facts = f.spans[sid], f.facts[sid]
    usage = f.usage[sid]
    model = facts.model if facts.model is not None else f.model[sid]
    tool = facts.tool_name if facts.role is not Role.MODEL else None
    if facts.role is Role.TOOL and tool is None:
        tool = span.name if isinstance(span.name, str) else None
    attributes: dict[str, str] = {}
    agent = f.agent[sid]
    if agent is not None and agent != trajectory_name:
        attributes[AGENT_ATTRIBUTE] = agent
    if facts.tool_call_id is not None:
        attributes["tool_call_id"] = facts.tool_call_id
    if facts.provider is not None and facts.role is Role.MODEL:
        attributes["provider"] = facts.provider
    # Every value is read through the conventions' sanitising readers (strings, ints in a u64's
    # range, sums that saturate): the model's constructor checks would only repeat them.
    metadata = StepMetadata._trusted(
        tool_used=tool,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        model=model,
        tags=(),
        attributes=attributes,
    )
    outcome = StepOutcome.failure(facts.error) if facts.error is not None else _SUCCESS
    start, end = _start(span), _end(span)
    step = TrajectoryStep._trusted(
        index, action_of(facts, span, model), "", outcome, 1.0, elapsed_ms(start, end), ns_to_datetime(start), None, metadata
    )
    return BuiltStep(step, tool if facts.role is Role.TOOL else None, facts.error)


def step_spans(f: Forest, candidates: Iterable[int] | None = None) -> list[int]:
    """Model, tool and retrieval spans not inside another such span, in start order."""
    ids = f.order if candidates is None else candidates
    facts, inside, spans = f.facts, f.inside_step, f.spans
    found = [
        (_start(spans[sid]), _end(spans[sid]), sid)
        for sid in ids
        if sid in facts and facts[sid].role in STEP_ROLES and not inside.get(sid, True)
    ]
    found.sort()  # (start, end, id): tuples sort without a key function
    return [sid for _, _, sid in found]


# --------------------------------------------------------------------------- under an SDK trajectory


class SdkStep(NamedTuple):
    """A step the SDK recorded, with its span's id and start (to place framework spans around it)."""

    span_id: int
    start_ns: int
    step: TrajectoryStep


class Merged(NamedTuple):
    """The steps of an SDK trajectory with what framework spans add, and the models and tools they used."""

    steps: tuple[TrajectoryStep, ...]
    #: The models and tools of the steps and of everything inside them, in order of first use.
    models: tuple[str, ...]
    tools: tuple[str, ...]
    #: How many of the steps are framework spans.
    foreign_steps: int = 0


def _with(step: TrajectoryStep, index: int, metadata: StepMetadata | None) -> TrajectoryStep:
    """*step* at *index* with *metadata* (every other field as it is: already checked)."""
    return TrajectoryStep._trusted(
        index,
        step.action,
        step.rationale,
        step.outcome,
        step.confidence,
        step.latency_ms,
        step.timestamp,
        step.context_embedding,
        metadata,
    )


def _meta(meta: StepMetadata | None, **changes: Any) -> StepMetadata:
    base: dict[str, Any] = {
        "tool_used": None,
        "input_tokens": None,
        "output_tokens": None,
        "model": None,
        "tags": (),
        "attributes": {},
    }
    if meta is not None:
        base = {k: getattr(meta, k) for k in base}
        base["attributes"] = dict(meta.attributes)
    base.update(changes)
    return StepMetadata(**base)


def _folded(step: TrajectoryStep, usage: Usage) -> TrajectoryStep:
    """*step* with the usage of the framework spans inside it: tokens add, model and tool fill in."""
    meta = step.metadata
    if usage.input_tokens is None and usage.output_tokens is None and not usage.models and not usage.tools:
        return step
    own = meta if meta is not None else StepMetadata()
    metadata = _meta(
        meta,
        tool_used=own.tool_used if own.tool_used is not None else (usage.tools[0] if usage.tools else None),
        input_tokens=_sum(own.input_tokens, usage.input_tokens),
        output_tokens=_sum(own.output_tokens, usage.output_tokens),
        model=own.model if own.model is not None else (usage.models[0] if usage.models else None),
    )
    return _with(step, step.index, metadata)


def _renumbered(step: TrajectoryStep, index: int, new_index_of: Mapping[int, int]) -> TrajectoryStep:
    meta = step.metadata
    if meta is not None and "parent_step" in meta.attributes:
        old = meta.attributes["parent_step"]
        new = new_index_of.get(int(old)) if old.isdigit() else None
        if new is not None:
            meta = _meta(meta, attributes={**meta.attributes, "parent_step": str(new)})
    return _with(step, index, meta)


def merge_foreign(
    sdk_steps: Sequence[SdkStep], members: Iterable[int], foreign: Iterable[ForeignSpan], trajectory_name: str | None
) -> Merged:
    """The steps of an SDK trajectory with its framework spans: those under a ``@step`` fold into it,
    the model, tool and retrieval calls under the trajectory but no step become steps, and all of
    them are numbered in start order (``parent_step`` follows). *members* are the ids of every span
    the SDK made (the root, steps, others); *foreign* the trajectory's spans it did not make.
    """
    foreign = foreign if isinstance(foreign, (list, tuple)) else list(foreign)
    sdk = {s.span_id: s for s in sdk_steps} if foreign else {}  # the usual SDK trajectory has none
    member_ids = set(members) | set(sdk) if foreign else set()
    spans = {s.span_id: s for s in foreign if s.span_id not in member_ids}
    if not spans:  # its steps as they are
        steps = tuple([s.step for s in sdk_steps])
        return Merged(steps, *_used(steps))
    parents: dict[int, int] = {}
    anchor_of_top: dict[int, int] = {}
    for sid, span in spans.items():
        parent = span.parent_span_id
        if parent is None or getattr(span, "parent_is_remote", False):
            continue
        if parent in spans:
            parents[sid] = parent
        elif parent in member_ids:
            anchor_of_top[sid] = parent
    f = forest(spans.values(), parents)
    anchor: dict[int, int | None] = {}
    for sid in f.order:  # parents first: a span's anchor is its top's member
        parent = parents.get(sid)
        anchor[sid] = anchor_of_top.get(sid) if parent is None else anchor.get(parent)
    folds: dict[int, Usage] = {}
    tops = sorted((sid for sid in f.order if parents.get(sid) is None), key=lambda sid: (_start(f.spans[sid]), sid))
    for sid in tops:  # in start order, whatever order the spans arrived in
        if anchor.get(sid) not in sdk:
            continue
        step_id = anchor[sid]
        assert step_id is not None
        u, prev = f.usage[sid], folds.get(step_id, Usage())
        folds[step_id] = Usage(
            _sum(prev.input_tokens, u.input_tokens),
            _sum(prev.output_tokens, u.output_tokens),
            tuple(dict.fromkeys((*prev.models, *u.models))),
            tuple(dict.fromkeys((*prev.tools, *u.tools))),
        )
    candidates = [sid for sid in f.order if anchor.get(sid) is not None and anchor[sid] not in sdk]
    own_steps = step_spans(f, candidates)
    # (start, kind, tie, step, what it used): SDK steps first at a tie
    placed: list[tuple[int, int, int, TrajectoryStep, Usage]] = []
    for s in sdk_steps:
        u = folds.get(s.span_id, Usage())
        placed.append((s.start_ns, 0, s.step.index, _folded(s.step, u), u))
    for sid in own_steps:
        placed.append((_start(f.spans[sid]), 1, sid, build_step(0, sid, f, trajectory_name).step, f.usage[sid]))
    if own_steps:
        placed.sort(key=lambda p: (p[0], p[1], p[2]))
        new_index_of = {p[2]: i for i, p in enumerate(placed) if p[1] == 0}
        steps = tuple(_renumbered(p[3], i, new_index_of) for i, p in enumerate(placed))
    else:
        steps = tuple(p[3] for p in placed)
    return Merged(steps, *_used(steps, [p[4] for p in placed]), len(own_steps))


def _used(steps: Sequence[TrajectoryStep], usages: Sequence[Usage] | None = None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The models and tools of *steps* and of what was inside each (*usages*; None: nothing
    inside them), in order of first use."""
    models: dict[str, None] = {}
    tools: dict[str, None] = {}
    for i, step in enumerate(steps):
        meta = step.metadata
        if meta is not None:
            if meta.model is not None:
                models[meta.model] = None
            if meta.tool_used is not None:
                tools[meta.tool_used] = None
        if usages is not None:
            u = usages[i]
            models.update(dict.fromkeys(u.models))
            tools.update(dict.fromkeys(u.tools))
    return tuple(models), tuple(tools)
