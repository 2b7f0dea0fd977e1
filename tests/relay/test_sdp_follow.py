"""SDPs read again during a call: the verdict rules take the new fingerprints at once.

``dtlsproxy run`` follows its ``--sdp`` files (proxy/relay/sdpwatch.py); the engine gets
the texts (``reread_sdp``) and the Tracker looks at every session again (``recheck``).
Datagrams of a real Firefox handshake in, events out.
"""

from __future__ import annotations

import os
from pathlib import Path

from proxy.capture.pcap import read_capture
from proxy.events import SessionSummary, Verdict
from proxy.relay.sdpwatch import SdpWatch
from proxy.session import Tracker
from proxy.verdict import VerdictEngine, reread_sdp
from tests.sdp_text import minimal_sdp


def test_new_sdp_fingerprints_are_checked_on_every_open_session_at_once(
        captures_dir: Path) -> None:
    engine = VerdictEngine()
    tr = Tracker(verdict_hook=engine)
    events = [ev for d in read_capture(captures_dir / "capture-firefox-Mozilla_Firefox_125.0.pcap")
              for ev in tr.receive(d)]
    summary = [ev for ev in events if isinstance(ev, SessionSummary)][-1]
    # the capture ends with the server's flight 6: not confirmed until time passes
    assert summary.state == "unconfirmed" and not [e for e in events if isinstance(e, Verdict)]
    t = summary.ts + 5
    # the answer, saved now: the server's fingerprint is right, nothing to say
    reread_sdp(engine, [("answer.sdp", minimal_sdp("passive", summary.fingerprints["server"]))])
    assert [e for e in tr.recheck(t) if isinstance(e, Verdict)] == []
    # saved again with another fingerprint: the finding comes with the re-check
    wrong = "AB:" * 31 + "CD"
    reread_sdp(engine, [("answer.sdp", minimal_sdp("passive", wrong))])
    (v,) = [e for e in tr.recheck(t + 1) if isinstance(e, Verdict)]
    assert (v.code, v.ts, v.culprit and v.culprit.type) == (
        "fingerprint_mismatch", t + 1, "Certificate")
    assert "SDP a=fingerprint (answer.sdp)" in v.evidence[0].values
    assert [e for e in tr.recheck(t + 2) if isinstance(e, Verdict)] == []  # said once


def test_the_watch_sees_a_file_rewritten_or_appearing(tmp_path: Path) -> None:
    offer, answer = tmp_path / "offer.sdp", tmp_path / "answer.sdp"
    offer.write_text(minimal_sdp("actpass", "AA:" * 31 + "AA"))
    watch = SdpWatch([offer, answer])
    assert watch.changed() == []
    answer.write_text(minimal_sdp("active", "BB:" * 31 + "BB"))
    assert watch.changed() == [answer]
    assert [p for p, _ in watch.texts()] == [str(offer), str(answer)]
    offer.write_text(minimal_sdp("actpass", "CC:" * 31 + "CC") + "a=ice-lite\r\n")
    os.utime(offer, ns=(1, 1))  # even within one mtime tick: the size differs
    assert watch.changed() == [offer]
    assert watch.changed() == []
    answer.write_text("a=fingerprint:sha-256 ")  # not an SDP: left out until it changes
    assert watch.changed() == [answer]
    assert [p for p, _ in watch.texts()] == [str(offer)]
