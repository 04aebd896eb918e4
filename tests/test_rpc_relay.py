"""The supervisor's half of the RPC bridge (`_RpcRelay`), unit by unit: framing of the job's
request lines however they are chunked, routing of the host's messages, replies to a job that
does not read them."""

from __future__ import annotations

import json
import os
import selectors

from harness_sandbox import supervisor
from harness_sandbox.supervisor import RPC_LINE_LIMIT, _RpcRelay, encode
from hypothesis import given, settings
from hypothesis import strategies as st

requests = st.lists(
    st.fixed_dictionaries({"id": st.integers(0, 10**6), "method": st.text(max_size=10), "params": st.text(max_size=200)}),
    min_size=1, max_size=8,
)


def relay_with_log():
    sent = []
    relay = _RpcRelay(7, sent.append)
    relay.started()
    return relay, sent


@settings(max_examples=100, deadline=None)
@given(requests, st.lists(st.integers(1, 64), min_size=1, max_size=50))
def test_request_lines_are_relayed_whole_however_they_arrive(items, cuts):
    relay, sent = relay_with_log()
    sel = selectors.DefaultSelector()
    data = b"".join(json.dumps(item).encode() + b"\n" for item in items)
    position, index = 0, 0
    while position < len(data):
        size = cuts[index % len(cuts)]
        relay._requests(data[position : position + size], sel)
        position, index = position + size, index + 1
    assert sent == [{"type": "rpc", "id": 7, "request": item} for item in items]
    relay.close()


def read_replies(relay) -> list[dict]:
    """What the job's end of the reply pipe (still open in these tests) holds, as replies."""
    return [json.loads(line) for line in read_replies_raw(relay).splitlines()]


def test_host_messages_are_routed_and_others_kept():
    sent = []
    relay = _RpcRelay(7, sent.append)
    os.set_blocking(relay.replies, False)
    sel = selectors.DefaultSelector()
    inbuf = bytearray(
        encode({"type": "rpc_reply", "id": 7, "reply": {"id": 1, "result": "a"}})
        + encode({"type": "rpc_reply", "id": 6, "reply": {"id": 1, "result": "stale"}})
        + encode({"type": "job", "id": 8})
        + encode({"type": "cancel", "id": 7, "reason": "budget"})
        + b'{"type": "rpc_reply", "id": 7, "reply": {"id": 2'
    )
    relay.take(inbuf, sel)
    assert read_replies(relay) == [{"id": 1, "result": "a"}]
    assert relay.cancelled == "budget"
    assert bytes(inbuf).startswith(encode({"type": "job", "id": 8})), "other messages wait for after the job"
    assert bytes(inbuf).endswith(b'{"id": 2'), "a partial line waits for its end"
    inbuf += b', "result": "b"}}\n'
    relay.take(inbuf, sel)
    assert read_replies(relay) == [{"id": 2, "result": "b"}]
    relay.close()


def test_bad_and_overlong_lines_get_an_error_reply():
    sent = []
    relay = _RpcRelay(7, sent.append)
    os.set_blocking(relay.replies, False)
    sel = selectors.DefaultSelector()
    relay._requests(b"[1, 2]\nnot json\n", sel)
    relay._requests(b"x" * (RPC_LINE_LIMIT + 1), sel)
    relay._requests(b"still the long line\n" + json.dumps({"id": 3, "method": "m"}).encode() + b"\n", sel)
    assert [r["error"]["type"] for r in read_replies(relay)] == ["bad_request", "bad_request", "too_large"]
    assert sent == [{"type": "rpc", "id": 7, "request": {"id": 3, "method": "m"}}]
    relay.close()


def test_replies_to_a_job_that_does_not_read_wait_without_blocking():
    relay = _RpcRelay(7, [].append)
    os.set_blocking(relay.replies, False)
    sel = selectors.DefaultSelector()
    big = {"id": 1, "result": "x" * (1 << 20)}
    relay._reply(big, sel)  # larger than the pipe: the rest waits for EVENT_WRITE
    assert relay.outgoing and relay.replies in sel.get_map()
    assert len(read_replies_raw(relay)) > 0
    relay.on_ready(relay.replies, sel)  # the job read some: more goes out
    os.close(relay.child_fds[1])
    relay.open.remove(relay.child_fds[1])
    relay.on_ready(relay.replies, sel)  # the job closed its end: the rest is dropped
    assert not relay.outgoing and relay.replies not in sel.get_map()
    relay.close()


def read_replies_raw(relay) -> bytes:
    fd = relay.child_fds[1]
    os.set_blocking(fd, False)
    data = b""
    try:
        while chunk := os.read(fd, 1 << 16):
            data += chunk
    except BlockingIOError:
        pass
    return data


def test_a_job_that_never_reads_its_replies_is_ended(monkeypatch):
    monkeypatch.setattr(supervisor, "RPC_UNREAD_LIMIT", 1 << 20)
    relay = _RpcRelay(7, [].append)
    os.set_blocking(relay.replies, False)
    sel = selectors.DefaultSelector()
    for _ in range(40):
        relay._requests(b"not json\n" * 1000, sel)
    assert relay.cancelled is not None and "unread" in relay.cancelled
    assert len(relay.outgoing) <= 1 << 20
    relay.close()
