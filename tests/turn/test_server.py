"""The sans-IO TURN server, as transcripts: a client's messages in, the answers out.

Requests are built with aioice's STUN encoder (aiortc's, an independent implementation),
so the server is not only checked against its own codec. The relay ports are a table
(the sans-IO boundary the asyncio glue implements with sockets).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress

import pytest
from aioice import stun as aio

from proxy.events import Notice, TurnAllocation
from proxy.turn import stun
from proxy.turn.auth import Credentials, Nonces
from proxy.turn.policy import PeerPolicy
from proxy.turn.server import ClientKey, Settings, ToPeer, TurnServer

REALM = "dtlsproxy"
CLIENT: ClientKey = ("udp", ("192.0.2.10", 50000), ("198.51.100.1", 3478))
PEER = ("203.0.113.5", 20000)
T0 = 1_700_000_000.0


class Ports:
    """Relay ports handed out from 49152 on the relay IP (IPv6 when configured)."""

    def __init__(self, v6: bool = False) -> None:
        self.open_now: set[tuple[str, int]] = set()
        self.next = 49152
        self.v6 = v6

    def open(self, family: int, key: ClientKey, even: bool = False) -> tuple[str, int] | None:
        host = "2001:db8::1" if family == 2 else "198.51.100.1"
        if even and self.next % 2:
            self.next += 1
        addr = (host, self.next)
        self.next += 1
        self.open_now.add(addr)
        return addr

    def open_at(self, relayed: tuple[str, int]) -> bool:
        if relayed in self.open_now:
            return False
        self.open_now.add(relayed)
        self.next = max(self.next, relayed[1] + 1)
        return True

    def close(self, relayed: tuple[str, int]) -> None:
        self.open_now.discard(relayed)

    def families(self) -> frozenset[int]:
        return frozenset({1, 2} if self.v6 else {1})


def server(**kw: object) -> tuple[TurnServer, Ports]:
    peers = kw.pop("peers", PeerPolicy())
    creds = kw.pop("credentials", Credentials(REALM, {"alice": "secret", "bob": "hunter2"}))
    ports = Ports(bool(kw.pop("v6", False)))
    own = kw.pop("own", ("198.51.100.1",))
    s = TurnServer(Settings(credentials=creds, peers=peers, **kw),  # type: ignore[arg-type]
                   ports, is_own=lambda ip: ip in own, listeners=(CLIENT[2],),
                   nonces=Nonces(600, key=b"k" * 16))
    return s, ports


class Client:
    """A TURN client's side of the transcript, with aioice's encoder."""

    def __init__(self, srv: TurnServer, key: ClientKey = CLIENT, user: str = "alice",
                 password: str = "secret") -> None:
        self.srv, self.key, self.user = srv, key, user
        self.ikey = hashlib.md5(f"{user}:{REALM}:{password}".encode()).digest()
        self.nonce: str | None = None
        self.n = 0

    def txid(self) -> bytes:
        self.n += 1
        return self.n.to_bytes(12, "big")

    def request(self, method: aio.Method, attrs: dict[str, object], *, auth: bool = True,
                now: float = T0, txid: bytes | None = None) -> stun.Message:
        msg = aio.Message(method, aio.Class.REQUEST, transaction_id=txid or self.txid())
        msg.attributes.update(attrs)
        if auth and self.nonce is not None:
            msg.attributes.update({"USERNAME": self.user, "REALM": REALM,
                                   "NONCE": self.nonce.encode()})
            msg.add_message_integrity(self.ikey)
        msg.add_fingerprint()
        out = self.srv.from_client(self.key, bytes(msg), now)
        assert isinstance(out, bytes), out
        reply = stun.parse(out)
        assert reply.txid == msg.transaction_id and stun.check_fingerprint(reply)
        if reply.cls == stun.ERROR and reply.get(stun.NONCE) is not None:
            self.nonce = reply.text(stun.NONCE)
        return reply

    def authed(self, method: aio.Method, attrs: dict[str, object], now: float = T0,
               txid: bytes | None = None) -> stun.Message:
        if self.nonce is None:  # the first request is challenged, as browsers expect
            first = self.request(method, attrs, auth=False, now=now)
            assert code(first) == 401
        return self.request(method, attrs, now=now, txid=txid)

    def allocate(self, now: float = T0, **attrs: object) -> stun.Message:
        return self.authed(aio.Method.ALLOCATE,
                           {"REQUESTED-TRANSPORT": 17 << 24, **attrs}, now)

    def permit(self, *peers: tuple[str, int], now: float = T0) -> stun.Message:
        if len(peers) == 1:
            return self.authed(aio.Method.CREATE_PERMISSION, {"XOR-PEER-ADDRESS": peers[0]}, now)
        # aioice keeps one value per attribute: several XOR-PEER-ADDRESSes with our encoder
        assert self.nonce is not None
        txid = self.txid()
        data = stun.build(stun.CREATE_PERMISSION, stun.REQUEST, txid,
                          [*[(stun.XOR_PEER_ADDRESS, stun.xor_address(p, txid)) for p in peers],
                           (stun.USERNAME, self.user.encode()), (stun.REALM, REALM.encode()),
                           (stun.NONCE, self.nonce.encode())], key=self.ikey)
        out = self.srv.from_client(self.key, data, now)
        assert isinstance(out, bytes)
        return stun.parse(out)

    def ours(self, method: int, attrs: list[tuple[int, bytes]], now: float = T0,
             integrity: str = "sha1") -> stun.Message:
        """A request with attributes aioice does not know, built with our encoder."""
        if self.nonce is None:
            assert code(self.request(aio.Method(method), {}, auth=False, now=now)) == 401
        assert self.nonce is not None
        data = stun.build(method, stun.REQUEST, self.txid(),
                          [*attrs, (stun.USERNAME, self.user.encode()),
                           (stun.REALM, REALM.encode()), (stun.NONCE, self.nonce.encode())],
                          key=self.ikey, integrity=integrity)
        out = self.srv.from_client(self.key, data, now)
        assert isinstance(out, bytes)
        return stun.parse(out)

    def bind(self, number: int, peer: tuple[str, int], now: float = T0) -> stun.Message:
        return self.authed(aio.Method.CHANNEL_BIND,
                           {"CHANNEL-NUMBER": number, "XOR-PEER-ADDRESS": peer}, now)

    def send(self, peer: tuple[str, int], payload: bytes, now: float = T0) -> object:
        msg = aio.Message(aio.Method.SEND, aio.Class.INDICATION, transaction_id=self.txid())
        msg.attributes.update({"XOR-PEER-ADDRESS": peer, "DATA": payload})
        return self.srv.from_client(self.key, bytes(msg), now)


def code(msg: stun.Message) -> int | None:
    value = msg.get(stun.ERROR_CODE)
    return None if value is None else stun.parse_error(value)[0]


def relayed(msg: stun.Message) -> tuple[str, int]:
    value = msg.get(stun.XOR_RELAYED_ADDRESS)
    assert value is not None, msg
    return stun.parse_xor_address(value, msg.txid)


def allocations(srv: TurnServer) -> list[TurnAllocation]:
    return [e for e in srv.take_events() if isinstance(e, TurnAllocation)]


def notices(srv: TurnServer) -> list[tuple[str, str]]:
    return [(e.code, e.message) for e in srv.events if isinstance(e, Notice)]


# --------------------------------------------------------------- binding, auth


def test_plain_binding_request_is_answered_without_credentials() -> None:
    srv, _ = server()
    req = aio.Message(aio.Method.BINDING, aio.Class.REQUEST, transaction_id=b"B" * 12)
    reply = stun.parse(srv.from_client(CLIENT, bytes(req), T0))  # type: ignore[arg-type]
    assert (reply.method, reply.cls) == (stun.BINDING, stun.SUCCESS)
    value = reply.get(stun.XOR_MAPPED_ADDRESS)
    assert value is not None and stun.parse_xor_address(value, reply.txid) == CLIENT[1]


def test_unauthenticated_allocate_gets_401_and_allocates_nothing() -> None:
    srv, ports = server()
    c = Client(srv)
    reply = c.request(aio.Method.ALLOCATE, {"REQUESTED-TRANSPORT": 17 << 24}, auth=False)
    assert code(reply) == 401
    assert reply.text(stun.REALM) == REALM and reply.text(stun.NONCE)
    assert reply.get(stun.MESSAGE_INTEGRITY) is None
    assert srv.allocations == {} and ports.open_now == set() and allocations(srv) == []


def test_allocate_with_long_term_credentials() -> None:
    srv, ports = server()
    c = Client(srv)
    reply = c.allocate()
    assert (reply.method, reply.cls) == (stun.ALLOCATE, stun.SUCCESS)
    assert stun.check_integrity(reply, c.ikey) == ("sha1", True)
    assert relayed(reply) == ("198.51.100.1", 49152)
    assert reply.uint32(stun.LIFETIME) == 600
    mapped = reply.get(stun.XOR_MAPPED_ADDRESS)
    assert mapped is not None and stun.parse_xor_address(mapped, reply.txid) == CLIENT[1]
    [ev] = allocations(srv)
    assert (ev.allocation, ev.state, ev.client, ev.username, ev.relayed, ev.lifetime) == (
        "t1", "active", "192.0.2.10:50000", "alice", "198.51.100.1:49152", 600)
    assert ev.expires == T0 + 600 and ports.open_now == {("198.51.100.1", 49152)}


def test_wrong_password_is_refused_with_401_and_a_notice() -> None:
    srv, ports = server()
    c = Client(srv, password="wrong")
    reply = c.allocate()
    assert code(reply) == 401 and srv.allocations == {} and ports.open_now == set()
    assert [n for n, _ in notices(srv)] == ["turn_auth"]
    assert "wrong password for 'alice'" in notices(srv)[0][1]


def test_unknown_user_is_refused() -> None:
    srv, _ = server()
    reply = Client(srv, user="mallory").allocate()
    assert code(reply) == 401 and "unknown user 'mallory'" in notices(srv)[0][1]


def test_stale_nonce_gets_438_and_a_fresh_nonce() -> None:
    srv, _ = server()
    c = Client(srv)
    c.allocate()
    old = c.nonce
    reply = c.authed(aio.Method.REFRESH, {"LIFETIME": 600}, now=T0 + 601)
    assert code(reply) == 438 and c.nonce != old
    assert reply.text(stun.REALM) == REALM
    again = c.authed(aio.Method.REFRESH, {"LIFETIME": 600}, now=T0 + 601)
    assert again.cls == stun.SUCCESS


def test_message_integrity_sha256_is_answered_in_kind() -> None:
    srv, _ = server()
    c = Client(srv)
    c.request(aio.Method.ALLOCATE, {"REQUESTED-TRANSPORT": 17 << 24}, auth=False)
    assert c.nonce is not None
    data = stun.build(stun.ALLOCATE, stun.REQUEST, b"S" * 12,
                      [(stun.REQUESTED_TRANSPORT, b"\x11\0\0\0"), (stun.USERNAME, b"alice"),
                       (stun.REALM, REALM.encode()), (stun.NONCE, c.nonce.encode())],
                      key=c.ikey, integrity="sha256")
    reply = stun.parse(srv.from_client(CLIENT, data, T0))  # type: ignore[arg-type]
    assert reply.cls == stun.SUCCESS
    assert stun.check_integrity(reply, c.ikey) == ("sha256", True)
    assert reply.get(stun.MESSAGE_INTEGRITY) is None


def test_rest_api_credentials() -> None:
    secret = "s3cret"
    srv, _ = server(credentials=Credentials(REALM, {}, secret))
    username = f"{int(T0) + 3600}:alice"
    password = base64.b64encode(
        hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()).decode()
    assert Client(srv, user=username, password=password).allocate().cls == stun.SUCCESS
    expired = f"{int(T0) - 1}:bob"
    password = base64.b64encode(
        hmac.new(secret.encode(), expired.encode(), hashlib.sha1).digest()).decode()
    other: ClientKey = ("udp", ("192.0.2.11", 50000), CLIENT[2])
    assert code(Client(srv, other, user=expired, password=password).allocate()) == 401
    assert "expired 1 s ago" in notices(srv)[-1][1]


def test_credentials_repr_hides_passwords() -> None:
    text = repr(Credentials(REALM, {"alice": "secret"}, "s3cret"))
    assert "secret'" not in text and "s3cret" not in text and "alice" in text


# ----------------------------------------------------------------- allocate


def test_retransmitted_allocate_gets_the_same_answer_another_gets_437() -> None:
    srv, ports = server()
    c = Client(srv)
    first = c.allocate()
    again = c.request(aio.Method.ALLOCATE, {"REQUESTED-TRANSPORT": 17 << 24}, txid=first.txid)
    assert again.raw == first.raw and len(ports.open_now) == 1
    other = c.allocate()
    assert code(other) == 437 and len(srv.allocations) == 1


def test_allocate_needs_udp_requested_transport() -> None:
    srv, _ = server()
    c = Client(srv)
    assert code(c.authed(aio.Method.ALLOCATE, {})) == 400
    assert code(c.authed(aio.Method.ALLOCATE, {"REQUESTED-TRANSPORT": 6 << 24})) == 442


def test_lifetime_is_clamped_between_default_and_maximum() -> None:
    srv, _ = server()
    assert Client(srv).allocate(LIFETIME=30).uint32(stun.LIFETIME) == 600
    other: ClientKey = ("udp", ("192.0.2.11", 1), CLIENT[2])
    assert Client(srv, other).allocate(LIFETIME=100000).uint32(stun.LIFETIME) == 3600


def test_even_port_with_a_reservation_for_the_next_port() -> None:
    """coturn's turnutils_uclient: an RTP allocation with EVEN-PORT (R=1), then the RTCP
    one with its RESERVATION-TOKEN."""
    srv, ports = server()
    ports.next = 49153
    c = Client(srv)
    rtp = c.ours(stun.ALLOCATE, [(stun.REQUESTED_TRANSPORT, b"\x11\0\0\0"),
                                 (stun.EVEN_PORT, b"\x80\0\0\0")])
    assert relayed(rtp) == ("198.51.100.1", 49154)
    token = rtp.get(stun.RESERVATION_TOKEN)
    assert token is not None and len(token) == 8
    assert ("198.51.100.1", 49155) in ports.open_now  # held
    other: ClientKey = ("udp", ("192.0.2.10", 50001), CLIENT[2])
    rtcp = Client(srv, other).ours(stun.ALLOCATE, [(stun.REQUESTED_TRANSPORT, b"\x11\0\0\0"),
                                                   (stun.RESERVATION_TOKEN, token)])
    assert relayed(rtcp) == ("198.51.100.1", 49155)
    third: ClientKey = ("udp", ("192.0.2.10", 50002), CLIENT[2])
    again = Client(srv, third).ours(stun.ALLOCATE, [(stun.REQUESTED_TRANSPORT, b"\x11\0\0\0"),
                                                    (stun.RESERVATION_TOKEN, token)])
    assert code(again) == 508  # a token is good once


def test_unused_reservation_is_released() -> None:
    srv, ports = server()
    c = Client(srv)
    c.ours(stun.ALLOCATE, [(stun.REQUESTED_TRANSPORT, b"\x11\0\0\0"),
                           (stun.EVEN_PORT, b"\x80\0\0\0")])
    assert len(ports.open_now) == 2
    srv.tick(T0 + 31)
    assert len(ports.open_now) == 1 and srv.reservations == {}


def test_unknown_comprehension_required_attribute_gets_420() -> None:
    srv, _ = server()
    c = Client(srv)
    c.request(aio.Method.ALLOCATE, {"REQUESTED-TRANSPORT": 17 << 24}, auth=False)
    assert c.nonce is not None
    data = stun.build(stun.ALLOCATE, stun.REQUEST, b"E" * 12,
                      [(stun.REQUESTED_TRANSPORT, b"\x11\0\0\0"), (stun.DONT_FRAGMENT, b""),
                       (0x8050, b"ok"),  # comprehension-optional: ignored
                       (stun.USERNAME, b"alice"), (stun.REALM, REALM.encode()),
                       (stun.NONCE, c.nonce.encode())], key=c.ikey)
    reply = stun.parse(srv.from_client(CLIENT, data, T0))  # type: ignore[arg-type]
    assert code(reply) == 420 and reply.get(stun.UNKNOWN_ATTRIBUTES) == b"\x00\x1a"
    assert stun.check_integrity(reply, c.ikey) == ("sha1", True)
    assert srv.allocations == {}


def test_refresh_with_lifetime_zero_deletes_the_allocation() -> None:
    srv, ports = server()
    c = Client(srv)
    c.allocate()
    assert c.authed(aio.Method.REFRESH, {"LIFETIME": 1200}).uint32(stun.LIFETIME) == 1200
    assert srv.allocations[CLIENT].expires == T0 + 1200
    reply = c.authed(aio.Method.REFRESH, {"LIFETIME": 0}, now=T0 + 5)
    assert reply.cls == stun.SUCCESS and reply.uint32(stun.LIFETIME) == 0
    assert srv.allocations == {} and ports.open_now == set()
    last = allocations(srv)[-1]
    assert (last.state, last.reason) == ("closed", "the client sent Refresh with LIFETIME 0")
    assert code(c.authed(aio.Method.REFRESH, {"LIFETIME": 0})) == 437


def test_another_users_request_on_the_allocation_gets_441() -> None:
    srv, _ = server()
    Client(srv).allocate()
    bob = Client(srv, user="bob", password="hunter2")
    assert code(bob.authed(aio.Method.REFRESH, {"LIFETIME": 600})) == 441


def test_allocation_expires_without_refresh() -> None:
    srv, ports = server()
    Client(srv).allocate()
    srv.tick(T0 + 599)
    assert srv.allocations
    srv.tick(T0 + 601)
    assert srv.allocations == {} and ports.open_now == set()
    assert allocations(srv)[-1].reason == "expired: no Refresh within its 600 s"


def test_quota_per_user_and_in_total() -> None:
    srv, _ = server(max_allocations_per_user=2, max_allocations=3)
    keys = [("udp", ("192.0.2.10", 50000 + i), CLIENT[2]) for i in range(4)]
    assert [code(Client(srv, k).allocate()) for k in keys[:3]] == [None, None, 486]  # type: ignore[arg-type]
    assert "quota of 2 allocations per user" in notices(srv)[-1][1]
    assert code(Client(srv, keys[2], "bob", "hunter2").allocate()) is None  # type: ignore[arg-type]
    assert code(Client(srv, keys[3], "bob", "hunter2").allocate()) == 486  # type: ignore[arg-type]
    assert "quota of 3 allocations in total" in notices(srv)[-1][1]
    assert len(srv.allocations) == 3


# --------------------------------------------------------- permissions, data


def test_send_indication_and_data_indication_through_a_permission() -> None:
    srv, _ = server()
    c = Client(srv)
    c.allocate()
    alloc = srv.allocations[CLIENT]
    assert c.send(PEER, b"early") is None  # no permission yet: dropped
    assert srv.from_peer(alloc, PEER, b"ice check", T0) is None
    assert "no permission for that peer (yet)" in notices(srv)[-1][1]
    assert c.permit(PEER).cls == stun.SUCCESS
    out = c.send(PEER, b"\x16hello")
    assert isinstance(out, ToPeer)
    assert (out.peer, out.payload, out.via) == (PEER, b"\x16hello", "send")
    back = srv.from_peer(alloc, (PEER[0], 9999), b"\x16world", T0)  # any port of that IP
    assert back is not None and back[1] == "data"
    ind = stun.parse(back[0])
    assert (ind.method, ind.cls) == (stun.DATA, stun.INDICATION)
    assert ind.get(stun.DATA_ATTR) == b"\x16world"
    peer = ind.get(stun.XOR_PEER_ADDRESS)
    assert peer is not None and stun.parse_xor_address(peer, ind.txid) == (PEER[0], 9999)
    theirs = aio.parse_message(back[0])  # aioice reads it too
    assert theirs.attributes["DATA"] == b"\x16world"
    assert alloc.to_peer == [1, 6] and alloc.from_peer == [1, 6]


def test_permission_expires_after_300_seconds() -> None:
    srv, _ = server()
    c = Client(srv)
    c.allocate()
    c.permit(PEER)
    alloc = srv.allocations[CLIENT]
    assert srv.from_peer(alloc, PEER, b"x", T0 + 299) is not None
    srv.tick(T0 + 301)
    assert alloc.permissions == {} and srv.from_peer(alloc, PEER, b"x", T0 + 301) is None


def test_channel_bind_then_channel_data_both_ways() -> None:
    srv, _ = server()
    c = Client(srv)
    c.allocate()
    assert c.bind(0x4000, PEER).cls == stun.SUCCESS  # also installs the permission
    alloc = srv.allocations[CLIENT]
    out = srv.from_client(CLIENT, b"\x40\x00\x00\x03abc", T0)
    assert isinstance(out, ToPeer) and (out.peer, out.payload, out.via) == (
        PEER, b"abc", "channel 0x4000")
    assert srv.from_peer(alloc, PEER, b"xyz", T0) == (b"\x40\x00\x00\x03xyz", "channel 0x4000")
    # another port of the peer's IP has the permission but no channel: Data indication
    back = srv.from_peer(alloc, (PEER[0], 1), b"xyz", T0)
    assert back is not None and back[1] == "data"
    assert srv.from_client(CLIENT, b"\x40\x01\x00\x03abc", T0) is None  # unbound channel
    [ev] = [e for e in allocations(srv) if e.channels][-1:]
    assert ev.channels == {"0x4000": "203.0.113.5:20000"}
    assert set(ev.permissions) == {"203.0.113.5"}


def test_channel_numbers_of_both_rfcs_and_binding_rules() -> None:
    srv, _ = server()
    c = Client(srv)
    c.allocate(LIFETIME=3600)
    assert c.bind(0x7FFF, PEER).cls == stun.SUCCESS  # RFC 5766's range (turnutils_uclient)
    assert code(c.bind(0x8000, ("203.0.113.6", 1))) == 400
    assert code(c.bind(0x3FFF, ("203.0.113.6", 1))) == 400
    assert code(c.bind(0x7FFF, ("203.0.113.6", 1))) == 400  # bound to another peer
    assert code(c.bind(0x4001, PEER)) == 400  # the peer has a channel already
    assert c.bind(0x7FFF, PEER, now=T0 + 500).cls == stun.SUCCESS  # refresh
    srv.tick(T0 + 1000)
    assert 0x7FFF in srv.allocations[CLIENT].channels
    srv.tick(T0 + 1101)
    assert srv.allocations[CLIENT].channels == {}


def test_tcp_client_gets_padded_channel_data() -> None:
    srv, _ = server()
    key: ClientKey = ("tcp", ("192.0.2.10", 40000), CLIENT[2])
    c = Client(srv, key)
    c.allocate()
    c.bind(0x4000, PEER)
    alloc = srv.allocations[key]
    assert srv.from_peer(alloc, PEER, b"hello", T0) == (
        b"\x40\x00\x00\x05hello\0\0\0", "channel 0x4000/tcp")
    out = srv.from_client(key, b"\x40\x00\x00\x02hi\0\0", T0)
    assert isinstance(out, ToPeer) and out.payload == b"hi" and out.via == "channel 0x4000/tcp"
    srv.connection_closed(key, T0 + 1)
    assert srv.allocations == {}
    assert allocations(srv)[-1].reason == "the client's TCP connection closed"


def test_ipv6_allocation_and_family_mismatch() -> None:
    srv, _ = server(v6=True)
    c = Client(srv)
    v6 = [(stun.REQUESTED_TRANSPORT, b"\x11\0\0\0"), (stun.REQUESTED_ADDRESS_FAMILY, b"\2\0\0\0")]
    reply = c.ours(stun.ALLOCATE, v6)
    assert relayed(reply) == ("2001:db8::1", 49152)
    assert code(c.permit(PEER)) == 443  # an IPv4 peer for an IPv6 relayed address
    assert c.permit(("2001:db8:99::5", 7)).cls == stun.SUCCESS
    srv4, _ = server()
    assert code(Client(srv4).ours(stun.ALLOCATE, v6)) == 440


# --------------------------------------------------------------- never open


@pytest.mark.parametrize(
    ("peer", "why"),
    [
        (("127.0.0.1", 5000), "loopback address"),
        (("::ffff:127.0.0.1", 5000), "loopback address"),
        (("169.254.1.1", 5000), "link-local"),
        (("224.0.0.251", 5353), "multicast"),
        (("0.0.0.0", 5000), "unspecified"),
        (("198.51.100.7", 5000), "one of the proxy's own addresses"),
        (("198.51.100.1", 3478), "this TURN server's own port"),
    ],
)
def test_peers_refused_by_default(peer: tuple[str, int], why: str) -> None:
    srv, _ = server(own=("198.51.100.1", "198.51.100.7"))
    c = Client(srv)
    c.allocate()
    srv.take_events()
    v6 = ":" in peer[0] and ipaddress.ip_address(peer[0]).version == 6
    reply = c.permit(peer) if not v6 else c.bind(0x4000, peer)
    assert code(reply) in (403, 443)
    if code(reply) == 403:
        assert why in notices(srv)[-1][1]
    assert srv.allocations[CLIENT].permissions == {}


def test_loopback_peer_allowed_only_when_asked() -> None:
    srv, _ = server(peers=PeerPolicy(allow_loopback=True))
    c = Client(srv)
    c.allocate()
    assert c.permit(("127.0.0.1", 5000)).cls == stun.SUCCESS


def test_allow_list_admits_a_service_on_the_proxy_host_and_nothing_else() -> None:
    janus = ("198.51.100.1", 20000)
    srv, _ = server(peers=PeerPolicy(allowed=(ipaddress.ip_network("198.51.100.1/32"),)))
    c = Client(srv)
    c.allocate()
    assert c.permit(janus).cls == stun.SUCCESS
    assert isinstance(c.send(janus, b"\x16"), ToPeer)
    assert code(c.permit(PEER)) == 403
    assert "not in allowed_peers" in notices(srv)[-1][1]


def test_deny_list() -> None:
    srv, _ = server(peers=PeerPolicy(denied=(ipaddress.ip_network("203.0.113.0/24"),)))
    c = Client(srv)
    c.allocate()
    assert code(c.permit(PEER)) == 403 and "denied_peers" in notices(srv)[-1][1]


def test_two_clients_of_this_server_reach_each_other_but_not_its_other_ports() -> None:
    srv, _ = server()
    a, b = Client(srv), Client(srv, ("udp", ("192.0.2.20", 50000), CLIENT[2]), "bob", "hunter2")
    ra, rb = relayed(a.allocate()), relayed(b.allocate())
    assert a.permit(rb).cls == stun.SUCCESS  # the relay IP is the proxy's own: allowed
    out = a.send(rb, b"\x16hi")
    assert isinstance(out, ToPeer) and out.peer == rb
    # ... but only towards relayed addresses: not another port on the proxy's address
    assert a.send(("198.51.100.1", 22), b"x") is None
    assert "no allocation's relayed address" in notices(srv)[-2][1]
    assert b.permit(ra).cls == stun.SUCCESS
    assert srv.from_peer(srv.allocations[b.key], ra, b"\x16hi", T0) is not None


def test_permission_and_channel_bounds() -> None:
    srv, _ = server(max_permissions=2, max_channels=1)
    c = Client(srv)
    c.allocate()
    assert c.permit(("203.0.113.1", 1), ("203.0.113.2", 1)).cls == stun.SUCCESS
    assert code(c.permit(("203.0.113.3", 1))) == 508
    assert c.bind(0x4000, ("203.0.113.1", 1)).cls == stun.SUCCESS
    assert code(c.bind(0x4001, ("203.0.113.2", 1))) == 508
    assert [n for n, _ in notices(srv)].count("turn_quota") == 2


def test_garbage_from_a_client_is_dropped_and_reported() -> None:
    srv, _ = server()
    assert srv.from_client(CLIENT, b"\x16\xfe\xfd" + b"\0" * 30, T0) is None
    assert notices(srv)[-1][0] == "turn_malformed"


def test_channel_bind_to_the_relay_address_needs_a_live_allocation_there() -> None:
    srv, _ = server()
    c = Client(srv)
    c.allocate()
    assert code(c.bind(0x4000, ("198.51.100.1", 22))) == 403
    why = notices(srv)[-1][1]
    assert "no allocation's relayed address" in why and "own addresses" in why
