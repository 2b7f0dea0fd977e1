"""The Janus event receiver and Admin API poller on loopback (ephemeral ports): real HTTP
POSTs of the events a real Janus 1.1.2 sent (tests/data/peerstate), credentials, a bad
body, an Admin API where nothing listens. With Janus itself: tests/integration/
test_janus_peers.py."""

from __future__ import annotations

import asyncio
import base64
import gzip
import socket
from pathlib import Path

from proxy.bus import Bus
from proxy.events import Notice
from proxy.peerstate.janus import JanusHandles, parse_events
from proxy.relay.http import post_json
from proxy.relay.janus import JanusAdminPoller, JanusEventReceiver
from proxy.relay.peers import PeerHub
from proxy.relay.recorder import NullTracker, Recorder

DATA = Path(__file__).resolve().parents[1] / "data" / "peerstate"


async def _post(port: int, body: bytes, auth: str | None, gz: bool = False) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    if gz:
        body = gzip.compress(body)
    head = ["POST /janus-events HTTP/1.1", f"Host: 127.0.0.1:{port}",
            "Content-Type: application/json", f"Content-Length: {len(body)}"]
    if gz:
        head.append("Content-Encoding: gzip")
    if auth is not None:
        head.append("Authorization: Basic " + base64.b64encode(auth.encode()).decode())
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
    await writer.drain()
    status = int((await reader.readline()).split()[1])
    writer.close()
    return status


def _setup() -> tuple[Bus, Recorder, PeerHub, list[Notice]]:
    bus = Bus()
    recorder = Recorder(bus, NullTracker())
    hub = PeerHub(bus, recorder)
    sub = bus.subscribe()
    seen: list[Notice] = []

    def grab() -> None:
        seen.extend(e for e in sub.drain() if isinstance(e, Notice))

    sub.notify = grab
    return bus, recorder, hub, seen


def test_receiver_takes_batched_and_gzipped_posts_with_the_credentials() -> None:
    async def main() -> None:
        _, recorder, hub, seen = _setup()
        rx = JanusEventReceiver(("127.0.0.1", 0), hub, recorder, JanusHandles(),
                                ("bed", "pw"))
        await rx.start()
        port = rx.address[1]
        lines = (DATA / "janus-1.1.2-events-clean.txt").read_bytes().splitlines()
        statuses = [await _post(port, line, "bed:pw", gz=i % 2 == 1)
                    for i, line in enumerate(lines)]
        assert set(statuses) == {200}
        assert await _post(port, lines[0], "bed:wrong") == 401
        assert await _post(port, lines[0], None) == 401
        assert await _post(port, b"{not json", "bed:pw") == 200  # said, not fatal
        rx.close()
        (entry,) = hub.desk.entries.values()  # one handle, unmatched (no proxy session here)
        assert entry.view.hangup == "Janus API" and entry.view.remote_sdp is not None
        sent = sum(len(parse_events(line)) for line in lines)
        assert (rx.posts, rx.events, rx.refused) == (len(lines) + 1, sent, 2)
        texts = [n.message for n in seen]
        assert any("listening on http://127.0.0.1:" in t for t in texts)
        refused = [t for t in texts if "refused a POST" in t]
        assert len(refused) == 1 and "wrong credentials" in refused[0]  # said once per 10 s
        assert any("is not Janus events: not JSON" in t for t in texts)
        assert not any("pw" in t.split("backend_pwd")[0][-20:] for t in texts)

    asyncio.run(main())


def test_poller_says_once_that_the_admin_api_is_unreachable_and_keeps_trying() -> None:
    with socket.socket() as s:  # a port where nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    async def main() -> None:
        _, recorder, hub, seen = _setup()
        poller = JanusAdminPoller(f"http://127.0.0.1:{port}/admin", "s3cret", hub, recorder,
                                  JanusHandles(), every=0.05, max_backoff=0.2)
        task = asyncio.create_task(poller.run())
        await asyncio.sleep(2.0)
        task.cancel()
        assert poller.requests >= 3  # backing off, not giving up
        assert poller.state == "down"
        texts = [n.message for n in seen if n.code == "janus_admin"]
        assert len(texts) == 1, texts
        assert texts[0].startswith(f"Janus Admin API at http://127.0.0.1:{port}/admin "
                                   "unreachable (")
        assert "s3cret" not in repr(poller) and "s3cret" not in texts[0]

    asyncio.run(main())


def test_post_json_names_what_went_wrong() -> None:
    async def main() -> None:
        try:
            await post_json("https://127.0.0.1:1/admin", {})
        except Exception as exc:
            assert "only http://" in str(exc)

    asyncio.run(main())
