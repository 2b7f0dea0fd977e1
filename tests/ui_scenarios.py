"""Hand-built event sequences for the TUI tests, shaped like the Tracker's output
for a WebRTC handshake (OpenSSL-like: HelloVerifyRequest, mutual ECDSA certs,
use_srtp). Times are fixed so snapshots are deterministic.

Certificate and CertificateVerify carry real bodies (``parse_body``), so the
detail pane goes through the real field tree; other bodies are left None.
"""

from __future__ import annotations

from proxy.decode.dtls.messages import parse_body
from proxy.events import (
    AlertSeen,
    Check,
    CulpritRef,
    DatagramSeen,
    Event,
    FaultApplied,
    FlightComplete,
    FlightRetransmitted,
    MediaStats,
    MessageSeen,
    SessionOpened,
    SessionSummary,
    StunSeen,
    Verdict,
)

T0 = 1_714_581_126.0  # 2024-05-01T16:32:06Z
CLIENT_EP = "127.0.0.1:50000"
SERVER_EP = "127.0.0.1:8088"
C2S = "client->server"
S2C = "server->client"
SUITE = "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
SRTP = "SRTP_AES128_CM_HMAC_SHA1_80"

CERT_DER = bytes.fromhex(
    "308201103081b6a00302010202021234300a06082a8648ce3d0403023011310f300d06035504030c"
    "06576562525443301e170d3234303433303030303030305a170d3234303533303030303030305a30"
    "11310f300d06035504030c065765625254433059301306072a8648ce3d020106082a8648ce3d0301"
    "07034200043d065b058382142417cf4c22f16f6f9b79a58046f1b67d30d06b048edea4a75e48a3c9"
    "f77c92b10f70d6ebdd76bffbe19a3e68f4c6f076055a0761a42808d01c300a06082a8648ce3d0403"
    "020349003046022100b992b665bb85daf6c91d6ae833d1ebe0dc7dd453a4f0f7250fe4c65b6e38f5"
    "51022100bc9914a7d3d48ca00498ac3b4d09390ad59b8c677021c2bf0beca8ec60245341"
)
CERT_FP = (
    "52:DC:CD:1A:DC:11:88:E3:50:B6:60:08:89:E4:CE:D4:"
    "85:FC:5A:05:D4:97:6A:25:55:04:66:61:12:00:C7:7C"
)

HS_TYPES = {
    "ClientHello": 1,
    "ServerHello": 2,
    "HelloVerifyRequest": 3,
    "Certificate": 11,
    "ServerKeyExchange": 12,
    "CertificateRequest": 13,
    "ServerHelloDone": 14,
    "CertificateVerify": 15,
    "ClientKeyExchange": 16,
    "Finished": 20,
}


def cert_body() -> tuple[bytes, object]:
    """(body bytes, parsed body) of a Certificate carrying CERT_DER."""
    n = len(CERT_DER)
    body = (n + 3).to_bytes(3, "big") + n.to_bytes(3, "big") + CERT_DER
    return body, parse_body(11, body)


def cv_body() -> tuple[bytes, object]:
    """(body bytes, parsed body) of an ECDSA CertificateVerify."""
    sig = bytes(range(0x30, 0x30 + 70))
    body = b"\x04\x03" + len(sig).to_bytes(2, "big") + sig
    return body, parse_body(15, body)


class Script:
    """Builds a session's events in order with rising times and frame numbers."""

    def __init__(self, sid: str, t0: float = T0, labels: tuple[str, str] = ("browser", "janus")):
        self.sid = sid
        self.t = t0
        self.frame = 0
        self.seq = {C2S: 0, S2C: 0}
        self.first_seq: dict[tuple[str, str, int], int] = {}
        self.labels = labels
        self.events: list[Event] = [
            SessionOpened(t0, sid, (CLIENT_EP, SERVER_EP), labels),
        ]

    def step(self, dt: float = 0.002) -> float:
        self.t = round(self.t + dt, 6)
        return self.t

    def datagram(self, direction: str, kind: str, data: bytes) -> int:
        self.frame += 1
        self.events.append(
            DatagramSeen(self.t, self.sid, self.frame, direction, kind, len(data), data)
        )
        return self.frame

    def stun(self, n: int = 2) -> None:
        for i in range(n):
            for d, cls in ((C2S, "request"), (S2C, "success")):
                self.step(0.001)
                frame = self.datagram(d, "stun", b"\x00\x01\x00\x00" + bytes(16))
                self.events.append(
                    StunSeen(self.t, self.sid, frame, d, "binding", cls, f"{i:024x}",
                             {"USERNAME": "abcd:efgh"})
                )

    def flight(self, direction: str, flight: int, names: list[str], copy: int = 1,
               bodies: dict[str, tuple[bytes, object]] | None = None,
               dt: float = 0.004) -> list[MessageSeen]:
        """One flight in one datagram; copies reuse message_seq."""
        self.step(dt)
        frame = self.datagram(direction, "dtls", b"\x16\xfe\xfd" + bytes(40))
        out = []
        encrypted_next = False
        for name in names:
            if name == "ChangeCipherSpec":
                m = MessageSeen(self.t, self.sid, direction, flight, name, None, None, 0,
                                False, copy, (frame,), 1)
                encrypted_next = True
            elif encrypted_next:
                m = MessageSeen(self.t, self.sid, direction, flight, "Finished", None, None, 1,
                                True, copy, (frame,), 40)
            else:
                key = (direction, name, flight)
                if copy == 1 or key not in self.first_seq:
                    self.first_seq[key] = self.seq[direction]
                    self.seq[direction] += 1
                mseq = self.first_seq[key]
                body_bytes, body = (bodies or {}).get(name, (bytes([HS_TYPES[name]]) * 24, None))
                n = len(body_bytes)
                hdr = (bytes([HS_TYPES[name]]) + n.to_bytes(3, "big") + mseq.to_bytes(2, "big")
                       + bytes(3) + n.to_bytes(3, "big"))
                m = MessageSeen(self.t, self.sid, direction, flight, name, HS_TYPES[name],
                                mseq, 0, False, copy, (frame,), n, hdr + body_bytes, body)
            out.append(m)
        self.events.extend(out)
        if copy == 1:
            self.events.append(FlightComplete(self.t, self.sid, direction, flight,
                                              tuple(names), (frame,), self.t))
        else:
            self.events.append(FlightRetransmitted(self.t, self.sid, direction, flight, copy,
                                                   (frame,)))
        return out

    def summary(self, state: str, **kw: object) -> None:
        counters: dict[str, int] = {}
        for ev in self.events:
            if isinstance(ev, DatagramSeen):
                key = f"{ev.kind} {ev.dir}"
                counters[key] = counters.get(key, 0) + 1
            elif isinstance(ev, MediaStats):
                key = f"rtp {ev.dir}"
                counters[key] = counters.get(key, 0) + ev.rtp_packets
        args: dict[str, object] = {
            "client": CLIENT_EP, "server": SERVER_EP,
            "client_label": self.labels[0], "server_label": self.labels[1],
            "version": "DTLS 1.2", "cipher_suite": SUITE, "srtp_profile": SRTP,
            "cookie": True, "counters": counters,
        }
        args.update(kw)
        self.events.append(SessionSummary(self.t, self.sid, state, **args))  # type: ignore[arg-type]


FLIGHT4 = ["ServerHello", "Certificate", "ServerKeyExchange", "CertificateRequest",
           "ServerHelloDone"]
FLIGHT5 = ["Certificate", "ClientKeyExchange", "CertificateVerify", "ChangeCipherSpec",
           "Finished"]


def _handshake_to_flight5(s: Script) -> list[MessageSeen]:
    s.stun(2)
    s.summary("handshaking", version=None, cipher_suite=None, srtp_profile=None)
    s.flight(C2S, 1, ["ClientHello"])
    s.flight(S2C, 2, ["HelloVerifyRequest"])
    s.flight(C2S, 3, ["ClientHello"])
    s.flight(S2C, 4, FLIGHT4, bodies={"Certificate": cert_body()}, dt=0.011)
    return s.flight(C2S, 5, FLIGHT5, bodies={"Certificate": cert_body(),
                                             "CertificateVerify": cv_body()}, dt=0.023)


def clean_handshake(sid: str = "s1", t0: float = T0) -> list[Event]:
    """STUN, flights 1-6, established, media flowing."""
    s = Script(sid, t0)
    _handshake_to_flight5(s)
    s.flight(S2C, 6, ["ChangeCipherSpec", "Finished"])
    s.summary("established")
    for _ in range(3):
        s.step(1.0)
        for d in (C2S, S2C):
            s.events.append(MediaStats(s.t, sid, d, 1.0, 50, 60_000, 2, {"0x1234abcd": 50}))
    s.summary("established")
    return s.events


def decrypt_error(sid: str = "s2", t0: float = T0 + 5, verdict: bool = True) -> list[Event]:
    """The seed's case: server answers client flight 5 with fatal decrypt_error;
    the verdict blames the client's CertificateVerify (a fault rule corrupted it)."""
    s = Script(sid, t0)
    s.stun(1)
    s.summary("handshaking", version=None, cipher_suite=None, srtp_profile=None)
    s.flight(C2S, 1, ["ClientHello"])
    s.flight(S2C, 2, ["HelloVerifyRequest"])
    s.flight(C2S, 3, ["ClientHello"])
    s.flight(S2C, 4, FLIGHT4, bodies={"Certificate": cert_body()}, dt=0.011)
    s.step(0.02)
    s.events.append(FaultApplied(s.t, sid, "bad-certificate-verify", "corrupt", s.frame + 1, C2S,
                                 "flipped byte 9 of CertificateVerify signature"))
    f5 = s.flight(C2S, 5, FLIGHT5, bodies={"Certificate": cert_body(),
                                           "CertificateVerify": cv_body()}, dt=0.003)
    cv = next(m for m in f5 if m.type == "CertificateVerify")
    s.step(0.003)
    frame = s.datagram(S2C, "dtls", b"\x15\xfe\xfd" + bytes(13))
    s.events.append(AlertSeen(s.t, sid, S2C, (frame,), 0, False, 2, "fatal", 51, "decrypt_error",
                              5, None))
    if verdict:
        s.events.append(
            Verdict(
                s.t, sid, "certificate_verify_bad_signature",
                CulpritRef(C2S, 5, "CertificateVerify", cv.message_seq, cv.frames),
                "the client's CertificateVerify signature does not verify with its "
                "certificate's key",
                (
                    Check("client Certificate fingerprint", True, "matches a=fingerprint",
                          {"sha-256": CERT_FP}),
                    Check("client CertificateVerify signature", False,
                          "ECDSA P-256 SHA-256 over 1234 bytes of transcript: invalid",
                          {"algorithm": "ecdsa_secp256r1_sha256"}),
                    Check("server ServerKeyExchange signature", True, "valid"),
                    Check("Finished verify_data", None, "needs a key log"),
                ),
                True,
            )
        )
    s.summary("failed", note="server rejected the client's CertificateVerify")
    return s.events


def retransmission_storm(sid: str = "s3", t0: float = T0 + 9, copies: int = 6) -> list[Event]:
    """Flight 4 never reaches the client (dropped by a fault): both sides resend."""
    s = Script(sid, t0)
    s.stun(1)
    s.flight(C2S, 1, ["ClientHello"])
    s.flight(S2C, 2, ["HelloVerifyRequest"])
    s.flight(C2S, 3, ["ClientHello"])
    s.flight(S2C, 4, FLIGHT4, bodies={"Certificate": cert_body()}, dt=0.011)
    s.events.append(FaultApplied(s.t, sid, "drop-flight-4", "drop", s.frame, S2C,
                                 "dropped server flight 4"))
    wait = 1.0
    for n in range(2, copies + 1):
        s.flight(C2S, 3, ["ClientHello"], copy=n, dt=wait)
        s.flight(S2C, 4, FLIGHT4, copy=n, bodies={"Certificate": cert_body()}, dt=0.01)
        s.events.append(FaultApplied(s.t, sid, "drop-flight-4", "drop", s.frame, S2C,
                                     f"dropped server flight 4 (copy {n})"))
        wait *= 2
    s.summary("stalled", version="DTLS 1.2", cipher_suite=SUITE, srtp_profile=SRTP,
              note="client keeps resending flight 3: server flight 4 never arrives")
    return s.events


def all_scenarios() -> list[Event]:
    """Three sessions: clean (s1), decrypt_error (s2), retransmission storm (s3)."""
    return clean_handshake() + decrypt_error() + retransmission_storm()
