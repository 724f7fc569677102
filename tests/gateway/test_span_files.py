"""The gateway follows span files: appended lines read once, torn lines wait, a new file starts over."""

from __future__ import annotations

import json
from pathlib import Path

from gateway.routes.traces import spans
from gateway.routes.traces.spans import SpanFiles


def _line(trace: str, span: str, *, parent: str = "", service: str = "gateway", second: int = 1) -> bytes:
    raw = {
        "name": "GET /v1/ops/audit",
        "context": {"trace_id": f"0x{trace}", "span_id": f"0x{span}"},
        "kind": "SpanKind.SERVER",
        "parent_id": f"0x{parent}" if parent else None,
        "start_time": f"2026-11-28T12:00:0{second}.000000Z",
        "end_time": f"2026-11-28T12:00:0{second}.250000Z",
        "status": {"status_code": "UNSET"},
        "attributes": {"http.route": "/v1/ops/audit", "http.target": "/v1/ops/audit?by_operator=x"},
        "resource": {"attributes": {"service.name": service}},
    }
    return (json.dumps(raw) + "\n").encode()


def test_appended_spans_join_their_trace_and_torn_lines_wait(tmp_path: Path) -> None:
    files = SpanFiles(tmp_path)
    gateway = tmp_path / "gateway.spans.jsonl"
    gateway.write_bytes(_line("a" * 32, "1" * 16))
    assert [len(t.spans) for t in files.traces().values()] == [1]

    child = _line("a" * 32, "2" * 16, parent="1" * 16, service="content", second=2)
    with (tmp_path / "content.spans.jsonl").open("ab") as out:
        out.write(child[:40])  # the exporter is mid-line
    assert len(files.traces()["a" * 32].spans) == 1
    with (tmp_path / "content.spans.jsonl").open("ab") as out:
        out.write(child[40:] + b"not json\n")
    trace = files.traces()["a" * 32]
    assert trace.services == ["content", "gateway"]
    assert [(s.service, depth) for s, depth in trace.waterfall()] == [("gateway", 0), ("content", 1)]
    assert "http.target" not in trace.spans[0].attributes  # only the allowed attributes are kept


def test_a_replaced_file_is_read_from_its_start_and_a_big_one_from_its_tail(
    tmp_path: Path, monkeypatch
) -> None:
    files = SpanFiles(tmp_path)
    path = tmp_path / "gateway.spans.jsonl"
    path.write_bytes(_line("a" * 32, "1" * 16) + _line("b" * 32, "2" * 16))
    assert set(files.traces()) == {"a" * 32, "b" * 32}
    path.unlink()
    path.write_bytes(_line("c" * 32, "3" * 16))
    assert set(files.traces()) == {"c" * 32}

    line = _line("d" * 32, "4" * 16)
    monkeypatch.setattr(spans, "TAIL_BYTES", len(line) + 10)
    big = tmp_path / "reach.spans.jsonl"
    big.write_bytes(_line("e" * 32, "5" * 16) * 5 + line)
    fresh = SpanFiles(tmp_path)
    assert "d" * 32 in fresh.traces() and "e" * 32 not in fresh.traces()  # the cut first line is skipped
