"""trajectory.id survives OTLP: it fits the signed 64-bit integers of the protobuf encoding."""

from __future__ import annotations

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from trajectories import attributes as A
from trajectories.instrument import step, trajectory


@step
def work() -> None:
    pass


def test_trajectory_id_survives_the_otlp_encoder(tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter) -> None:
    top_bit_seen = False
    for _ in range(64):  # each root span id has its top bit set with probability 1/2
        span_exporter.clear()
        with trajectory("otlp", tracer_provider=tracer_provider) as t:
            work()
        finished = span_exporter.get_finished_spans()
        root = next(s for s in finished if s.name == "invoke_agent otlp")
        top_bit_seen |= root.context.span_id >= 2**63
        request = encode_spans(finished)
        encoded = [span for rs in request.resource_spans for ss in rs.scope_spans for span in ss.spans]
        assert len(encoded) == 2
        for span in encoded:
            values = [kv.value.int_value for kv in span.attributes if kv.key == A.TRAJECTORY_ID]
            assert values == [int(t.id)]
    assert top_bit_seen
