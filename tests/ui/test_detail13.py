"""The detail pane on decrypted DTLS 1.3 messages (real NSS capture + its key log), and the
JSONL log of them read back for ``dtlsproxy view``: same bodies, same field trees."""

from __future__ import annotations

from pathlib import Path

from proxy.analyze.pipeline import analyze_capture
from proxy.capture.eventlog import events_from_lines
from proxy.capture.jsonl import event_to_json
from proxy.cli.inputs import load_secrets
from proxy.events import Event, MessageSeen
from proxy.session import Tracker
from proxy.verdict import VerdictEngine
from ui.detail import Node, message_tree
from ui.ladder import message_name

DATA = Path(__file__).resolve().parent.parent / "data" / "dtls13"


def decrypted_events() -> list[Event]:
    t = Tracker(verdict_hook=VerdictEngine(secrets=load_secrets([str(DATA / "nss-hrr.keys")])))
    return list(analyze_capture(DATA / "nss-hrr.pcap", tracker=t))


def labels(n: Node) -> list[str]:
    return [n.label, *[x for c in n.children for x in labels(c)]]


def test_decrypted_messages_show_their_fields_not_encrypted() -> None:
    msgs = {m.type: m for m in decrypted_events() if isinstance(m, MessageSeen) and m.copy == 1}
    cert = message_tree(msgs["Certificate"])
    assert cert.label == "Certificate" and message_name(msgs["Certificate"]) == "Certificate"
    flat = labels(cert)
    assert "decrypted" in flat and "encrypted" not in flat
    assert "certificate_request_context" in " ".join(flat)
    ack = message_tree(msgs["ACK"])
    assert ack.label == "ACK" and "record_numbers" in " ".join(labels(ack))
    assert "msg_type" not in " ".join(labels(ack))  # no handshake header on an ACK


def test_jsonl_log_reopens_with_the_same_bodies() -> None:
    evs = decrypted_events()
    back = events_from_lines([event_to_json(e) for e in evs])
    a = [(m.type, type(m.body).__name__) for m in evs if isinstance(m, MessageSeen)]
    b = [(m.type, type(m.body).__name__) for m in back if isinstance(m, MessageSeen)]
    assert a == b and ("Certificate", "Certificate") in b and ("ACK", "Ack") in b
