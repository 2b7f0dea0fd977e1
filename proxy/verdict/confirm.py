"""Was the last flight accepted? The check, and the verdict when it never was.

Reads :attr:`proxy.session.Session.confirm` (:mod:`proxy.session.confirm`): a DTLS
1.0/1.2 handshake is established only once the receiver of the last flight shows it
accepted it. When it keeps retransmitting its own flight instead, the last flight's
Finished is the suspect, and a key log proves it (the record does not authenticate,
or its verify_data is wrong).
"""

from __future__ import annotations

from proxy.events import Check, Verdict
from proxy.session.confirm import CONFIRMED, REJECTED
from proxy.session.session import MessageRecord, Session
from proxy.verdict.checks import CV_CHECK, SKE_CHECK
from proxy.verdict.rules import KEYLOG_HINT, Context, ref

CONFIRM_CHECK = "last flight accepted"


def _final_finished(s: Session) -> MessageRecord | None:
    c = s.confirm
    return next((m for m in s.messages if m.sender == c.final_sender and m.encrypted
                 and m.type == "Finished"), None)


def confirmation_check(s: Session, now: float) -> Check | None:
    """The ``last flight accepted`` check (None before both Finished were seen)."""
    c = s.confirm
    if c.final_sender is None or c.receiver is None or s.neg.version == 0xFEFC:
        return None
    me, peer = s.role(c.final_sender) or "?", s.role(c.receiver) or "?"
    last, prev = c.final_flight, c.prev_flight
    values = {"last flight": f"{me} flight {last}, sent {c.final_copies} time(s)",
              f"{peer} flight {prev} copies after it": str(c.retransmitted_after)}
    if c.state == CONFIRMED:
        at = (c.confirmed_ts or c.final_ts) - c.final_ts
        how = c.how or "?"
        if how.startswith("no retransmission"):
            detail = f"the {peer} accepted {me} flight {last}: {how} after it"
        else:
            detail = f"the {peer} accepted {me} flight {last}: it sent {how} {at:.3f} s after it"
        return Check(CONFIRM_CHECK, True, detail, {**values, "confirmed by": how})
    if c.state == REJECTED:
        return Check(CONFIRM_CHECK, False,
                     f"the {peer} retransmitted flight {prev} {c.retransmitted_after} times "
                     f"after {me} flight {last} and sent no data: it never accepted it", values)
    waited = max(0.0, now - c.final_last_ts)
    alerts = [a for a in s.alerts if a.dir.startswith(peer)]
    detail = (f"not known: the {peer} sent no data after {me} flight {last} and the capture "
              f"shows {waited:.3f} s after it (accepted when the {peer} sends data, or does "
              f"not retransmit flight {prev} for {c.quiet_period():.1f} s)")
    if alerts and alerts[0].description is None:
        detail += (f"; the {peer} then sent an encrypted alert: a close_notify after "
                   "accepting it, or a fatal alert refusing it (a key log reads it)")
    return Check(CONFIRM_CHECK, None, detail, values)


def final_flight_rejected(ctx: Context) -> Verdict | None:
    """The receiver of the last flight kept retransmitting its own flight: the last
    flight's Finished is the suspect (certain when a key log shows it is wrong)."""
    s = ctx.s
    c = s.confirm
    if c.state != REJECTED or c.final_sender is None or c.receiver is None:
        return None
    me, peer = ctx.role(c.final_sender), ctx.role(c.receiver)
    fin = _final_finished(s)
    check = confirmation_check(s, ctx.now)
    fin_check = ctx.checks.get(f"{me} Finished")
    evidence = [x for x in (check, fin_check) if x is not None]
    evidence += ctx.pick("key logs agree", "extended_master_secret", f"{peer} Finished",
                         "cipher suite", CV_CHECK, SKE_CHECK)
    evidence += [x for x in ctx.checks.values() if x not in evidence]
    head = (f"the {peer} never accepted the {me}'s final flight: it retransmitted flight "
            f"{c.prev_flight} {c.retransmitted_after} times after receiving flight "
            f"{c.final_flight}")
    culprit = ref(s, fin) if fin is not None else None
    conflict = ctx.checks.get("key logs agree")
    if conflict is not None and conflict.passed is False:
        return ctx.verdict("keylog_conflict", culprit, f"{head}; {conflict.detail}", evidence,
                           certain=True)
    if fin_check is not None and fin_check.passed is False:
        why = ("fails authentication (altered in transit, or the two sides derived "
               "different keys)" if "fails authentication" in fin_check.detail
               else "has a verify_data that does not match the transcript")
        return ctx.verdict("final_flight_rejected", culprit,
                           f"{head}; the {me} Finished {why}", evidence, certain=True)
    if fin_check is not None and fin_check.passed is True:
        return ctx.verdict(
            "final_flight_rejected", culprit,
            f"{head}; the {me} Finished is the suspect, though it verifies here with the key "
            f"log: it was altered after this point, or the {peer} derived other keys",
            evidence, certain=False,
            to_be_certain=f"a capture on the {peer}'s side, or the {peer}'s own key log")
    return ctx.verdict("final_flight_rejected", culprit,
                       f"{head}; the {me} Finished is the suspect", evidence, certain=False,
                       to_be_certain=KEYLOG_HINT.replace("the Finished", f"the {me} Finished"))
