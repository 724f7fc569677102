"""Scanning what a run produced (logs, spans, JetStream payloads) for personal data."""

from __future__ import annotations

import asyncio
import json
import re

import nats
from google.protobuf import json_format, message_factory, symbol_database

# every event message type, so a payload is read by its fields rather than as binary noise
from lattice.benefits.v1 import events_pb2 as _benefits  # noqa: F401
from lattice.common.v1 import app_event_pb2 as _app_event  # noqa: F401
from lattice.common.v1 import core_milestone_pb2 as _core  # noqa: F401
from lattice.content.v1 import events_pb2 as _content  # noqa: F401
from lattice.conversion.v1 import events_pb2 as _conversion  # noqa: F401
from lattice.identity.v1 import events_pb2 as _identity  # noqa: F401
from lattice.reach.v1 import events_pb2 as _reach  # noqa: F401
from nats.js.errors import NotFoundError

from services.runtime.bus import EVENT_TYPE_HEADER
from services.runtime.personal_data import find_personal_numbers

CUSTOMER_ID = re.compile(r"cus_[0-9a-f]{20}")


# Trace and span ids in logs, span files (compact JSON lines) and the console's trace links (the first
# 12 characters of the id as the link's text): random hex that cannot carry a client's data, but an id
# or a prefix made only of decimal digits can pass a phone or card number's checks by chance
TRACE_IDS = re.compile(
    r'"(?:trace_id|span_id|parent_id|parent_span_id)": ?"(?:0x)?[0-9a-f]{16,32}"'
    r"|[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}"
    r'|data-trace-id="[0-9a-f]{32}">[0-9a-f]{12}<'
)


# gRPC's C core writes its own lines to stderr, glog-style: "E1128 23:21:41.135308   20163 file.cc:12]";
# the microseconds and the thread id side by side read as a mobile number
GRPC_CORE_PREFIX = re.compile(r"^[IWEF][0-9]{4} [0-9:]{8}\.[0-9]{6} +[0-9]+ [\w.]+:[0-9]+\]", re.MULTILINE)


def without_trace_ids(text: str) -> str:
    """`text` with its trace and span ids, traceparent values and gRPC core line prefixes set aside."""
    return GRPC_CORE_PREFIX.sub("<grpc core>", TRACE_IDS.sub('"<trace id>"', text))


def findings(text: str, where: str) -> list[str]:
    """Phone, ID-card and card numbers found in `text` (the product's own scanner), trace ids aside."""
    return [f"{where}: {f.label} {f.digits}" for f in find_personal_numbers(without_trace_ids(text))]


async def _stream_payloads(url: str) -> list[tuple[str, bytes]]:
    nc = await nats.connect(url)
    js = nc.jetstream()
    out: list[tuple[str, bytes]] = []
    try:
        for info in await js.streams_info():
            last = info.state.last_seq
            for seq in range(info.state.first_seq, last + 1 if info.state.messages else 0):
                try:
                    msg = await js.get_msg(info.config.name, seq)
                except NotFoundError:
                    continue
                headers = dict(msg.headers or {})
                payload = _readable(headers.get(EVENT_TYPE_HEADER, ""), msg.data or b"")
                out.append((msg.subject or "", payload + json.dumps(headers, ensure_ascii=False).encode()))
    finally:
        await nc.close()
    return out


def _readable(event_type: str, data: bytes) -> bytes:
    """A protobuf payload as the JSON of its fields (every string as written); other bytes as they are.

    Read raw, a binary payload puts length bytes and varints beside its strings, and a length byte
    that is a letter or digit hides a hex id's boundary from the scanner."""
    try:
        descriptor = symbol_database.Default().pool.FindMessageTypeByName(event_type)
        message = message_factory.GetMessageClass(descriptor)()
        message.ParseFromString(data)
    except Exception:  # not an event of ours: scanned as it is
        return data
    fields = json_format.MessageToDict(message, preserving_proto_field_name=True)
    return json.dumps(fields, ensure_ascii=False).encode()


def stream_payloads(url: str) -> list[tuple[str, bytes]]:
    """(subject, payload + headers) of every message kept in every JetStream stream."""
    return asyncio.run(_stream_payloads(url))
