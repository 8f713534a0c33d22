"""The strict incremental SSE parser (WHATWG HTML §9.2.5-9.2.6)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance._sse import SSEParser, SSEParserClosed, parse_sse


def test_basic_events_and_done() -> None:
    events, framing = parse_sse(b'data: {"a": 1}\n\ndata: [DONE]\n\n')
    assert [e.data for e in events] == ['{"a": 1}', "[DONE]"]
    assert [e.index for e in events] == [0, 1]
    assert [e.offset for e in events] == [0, 16]
    assert framing.line_endings == {"LF"}
    assert framing.unterminated_tail is None


@pytest.mark.parametrize(("sep", "kind"), [(b"\r\n", "CRLF"), (b"\r", "CR"), (b"\n", "LF")])
def test_every_line_ending(sep: bytes, kind: str) -> None:
    events, framing = parse_sse(b"data: a" + sep + b"data: b" + sep + sep + b"data: c" + sep * 2)
    assert [e.data for e in events] == ["a\nb", "c"]
    assert framing.line_endings == {kind}


def test_comments_bom_fields_and_unknown_fields() -> None:
    stream = b"\xef\xbb\xbf: keep-alive\n\nevent: ping\nid: 7\nretry: 1500\nfoo: bar\ndata\n\n"
    events, framing = parse_sse(stream)
    assert framing.bom
    assert framing.comment_count == 1
    assert framing.comments == [(3, " keep-alive")]
    assert framing.discarded_empty_events == 1  # the comment-only block
    assert framing.unknown_fields == {"foo"}
    (event,) = events
    assert (event.data, event.event, event.id, event.retry) == ("", "ping", "7", 1500)


def test_id_is_sticky_and_nul_ids_are_ignored() -> None:
    events, _ = parse_sse(b"id: 1\ndata: a\n\ndata: b\n\nid: x\x00y\ndata: c\n\n")
    assert [e.id for e in events] == ["1", "1", "1"]


def test_value_loses_exactly_one_leading_space() -> None:
    events, _ = parse_sse(b"data:  two\ndata:none\n\n")
    assert events[0].data == " two\nnone"


def test_unterminated_final_event_is_discarded_and_reported() -> None:
    events, framing = parse_sse(b"data: a\n\ndata: [DONE]")
    assert [e.data for e in events] == ["a"]
    assert framing.unterminated_tail == "data: [DONE]"


def test_u2028_is_not_a_line_ending() -> None:
    events, _ = parse_sse("data: a\u2028b\n\n".encode())
    assert events[0].data == "a\u2028b"


def test_invalid_utf8_is_replaced_and_reported() -> None:
    events, framing = parse_sse(b"data: \xff\xfe\n\n")
    assert events[0].data == "\ufffd\ufffd"
    assert framing.invalid_utf8_offsets == [0]


def test_feeding_a_closed_parser_is_the_documented_error() -> None:
    parser = SSEParser()
    parser.close()
    with pytest.raises(SSEParserClosed):
        parser.feed(b"data: x\n\n")


SAMPLE = (
    b"\xef\xbb\xbf: hi\r\ndata: caf\xc3\xa9\r\n\r\nid: 3\rdata: a\rdata: b\r\r"
    b'event: e\ndata: {"x": "\xe2\x80\xa8"}\n\ndata: [DONE]\n\ndata: tail'
)


def _chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces, start = [], 0
    for p in [*points, len(data)]:
        pieces.append(data[start:p])
        start = p
    return pieces


@given(st.lists(st.integers(min_value=0, max_value=10_000), max_size=40))
@settings(max_examples=300)
def test_any_rechunking_yields_the_same_events(cuts: list[int]) -> None:
    expected, expected_framing = parse_sse(SAMPLE)
    parser = SSEParser()
    events = []
    for piece in _chunked(SAMPLE, cuts):
        events += parser.feed(piece)
    events += parser.close()
    assert events == expected
    assert parser.framing == expected_framing


def test_one_byte_at_a_time() -> None:
    expected, _ = parse_sse(SAMPLE)
    parser = SSEParser()
    events = []
    for i in range(len(SAMPLE)):
        events += parser.feed(SAMPLE[i : i + 1])
    events += parser.close()
    assert events == expected


@given(st.binary(max_size=2000), st.lists(st.integers(min_value=0, max_value=2000), max_size=10))
@settings(max_examples=300)
def test_random_bytes_never_raise(data: bytes, cuts: list[int]) -> None:
    parser = SSEParser()
    for piece in _chunked(data, cuts):
        parser.feed(piece)
    parser.close()
