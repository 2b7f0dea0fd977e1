"""The verdict engine: the stateful Tracker hook that runs the checks and the rules.

:class:`VerdictEngine` is a :data:`proxy.session.tracker.VerdictHook`. The Tracker
calls it after every datagram's events, on ``tick`` and on ``finish``; it returns
:class:`~proxy.events.Verdict` events (each finding once per handshake) and, when
a handshake completes without failure, one :class:`~proxy.events.CheckReport`.
It never raises: a rule that crashes becomes a ``passed=None`` check naming the
error, and an unexpected failure of the engine itself is swallowed per call.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from proxy.decode.dtls.messages import Certificate
from proxy.events import (
    AlertSeen,
    Check,
    CheckReport,
    DatagramSeen,
    Event,
    MessageSeen,
    Verdict,
)
from proxy.session.session import Session
from proxy.verdict import checks as C
from proxy.verdict import tls13 as T
from proxy.verdict.confirm import confirmation_check, final_flight_rejected
from proxy.verdict.ice import IceWatch
from proxy.verdict.inputs import (
    ExpectedFingerprint,
    SdpText,
    Secrets,
    VerdictOptions,
    expected_from_mapping,
    sdp_expectations,
)
from proxy.verdict.keys import KeyLogDecryptor, MasterSecrets, finished_checks
from proxy.verdict.legs import LEGS_CHECK, altered_in_transit, legs_check
from proxy.verdict.rules import Context, explain_alert, ref, silent_failure

CLOSE_NOTIFY = 0

_ONE_SIDED = ("Certificate validity", "Certificate signature", "Certificate",
              "certificate fingerprint vs SDP", "datagram size vs path MTU")
"""Checks that read one side's own messages only: still judged when only that side's
direction is in the capture."""

ONCE_PER_HANDSHAKE = frozenset({"role_conflict", "keylog_conflict", "datagram_exceeds_mtu"})
"""Codes emitted once per handshake whatever the culprit."""


@dataclass
class _State:
    handshake: int = 1
    emitted: set[tuple[object, ...]] = field(default_factory=set)
    report_done: bool = False
    alert_done: bool = False
    failure_done: bool = False
    sizes: C.SizeLog = field(default_factory=C.SizeLog)
    malformed: list[tuple[str, int | None, str]] = field(default_factory=list)
    last_ts: float = 0.0
    cache_key: tuple[object, ...] | None = None
    ctx: Context | None = None
    crashed: set[str] = field(default_factory=set)
    guard_writes: int = 0
    """Crash checks a rule wrote into the current context (a rebuild would replace them)."""
    n_sizes: int = 0
    """``len(sizes.sizes)`` when the context was last built or found still valid."""
    extra: tuple[object, ...] | None = None
    """:meth:`VerdictEngine._extra` when the context was last built."""
    now_dependent: bool = False
    """A certificate check of the context used ``now`` (no Certificate message to date it)."""
    full: bool = True
    """The context holds every check (else only those the immediate findings read)."""
    built_at: float = 0.0
    crashed_order: tuple[str, ...] = ()
    """``st.crashed`` as it was iterated when the context was built."""
    guard_log: list[tuple[str, Check]] = field(default_factory=list)
    """Crash checks written into the current context since it was built."""


class VerdictEngine:
    """Runs every passive (and key-log) check and turns failures into Verdicts."""

    max_states = 20_000
    """Sessions whose rule state is kept; beyond, the oldest is forgotten (a long-running
    relay's bound; offline analysis keeps every session's)."""

    def __init__(self, options: VerdictOptions | None = None,
                 secrets: Secrets | None = None) -> None:
        """``options`` and ``secrets`` as loaded by the caller (``proxy.cli.inputs``).
        Raises ValueError when an SDP of ``options.sdps`` is not one."""
        self.options = options or VerdictOptions()
        secrets = secrets or Secrets()
        self.keylog = secrets.keylog
        self.rsa = secrets.rsa
        self.master_secrets = MasterSecrets(secrets.keylog, secrets.rsa)
        self.decryptor = KeyLogDecryptor(self.master_secrets) if secrets else None
        self._states: dict[str, _State] = {}
        self._ice: dict[str, IceWatch] = {}
        self._fragments_done: set[str] = set()
        """Sessions whose partial ClientHello was reported (before roles are known)."""
        self.fixed_expected = tuple(expected_from_mapping(self.options.fingerprints))
        """The expectations that are not from SDP files (``fingerprints`` option)."""
        from_sdp, self.setup_conflict = sdp_expectations(self.options.sdps)
        """A sentence when the SDPs disagree on a=setup (both active or both passive)."""
        self.expected: tuple[ExpectedFingerprint, ...] = (*self.fixed_expected, *from_sdp)
        """Fingerprints from the ``fingerprints`` option, then from the SDPs."""
        self._epoch = 0
        """Bumped when the expectations change: every session's checks are rebuilt."""
        self._peer_sdps: dict[str, tuple[tuple[ExpectedFingerprint, ...], str | None, int]] = {}
        """Session id -> (expectations, a=setup conflict, serial) from the SDPs a peer
        applied for that session (:meth:`use_session_sdp`); they replace the global ones."""
        self._peer_serial = 0
        self.errors: list[str] = []
        """Engine failures swallowed (for tests and diagnostics; bounded)."""

    # ------------------------------------------------------------------ hook

    def __call__(self, s: Session, events: list[Event], now: float, final: bool) -> list[Event]:
        try:
            return self._run(s, events, now, final)
        except Exception as e:  # the relay must never see an exception from here
            if len(self.errors) < 100:
                self.errors.append(f"{s.sid}: {type(e).__name__}: {e}")
            return []

    def use_sdp(self, sdps: Sequence[SdpText]) -> None:
        """The SDPs were read again (``run`` follows its ``--sdp`` files): their
        fingerprints (after :attr:`fixed_expected`) and a=setup conflict replace the
        previous ones. Each session's checks are rebuilt the next time it is looked at (a
        datagram, or :meth:`Tracker.recheck`), and a certificate that now differs from
        its SDP gets its finding then. Raises ValueError when a text is not an SDP."""
        from_sdp, self.setup_conflict = sdp_expectations(sdps)
        self.expected = (*self.fixed_expected, *from_sdp)
        self.options = dataclasses.replace(self.options, sdps=tuple(sdps))
        self._epoch += 1

    def use_session_sdp(self, sid: str, sdps: Sequence[SdpText]) -> None:
        """The SDPs a peer applied for one session (Janus's Admin API or events, a
        browser's dump, matched to the session by ``proxy.peerstate``): its certificates
        are checked against these (after :attr:`fixed_expected`), not the global ``--sdp``
        ones; the session's checks are rebuilt the next time it is looked at (a handshake
        already reported clean gets its report again). Raises ValueError when a text is not
        an SDP."""
        from_sdp, conflict = sdp_expectations(sdps)
        if sid not in self._peer_sdps and len(self._peer_sdps) > self.max_states:
            self._peer_sdps.pop(next(iter(self._peer_sdps)))
        self._peer_serial += 1
        self._peer_sdps[sid] = ((*self.fixed_expected, *from_sdp), conflict, self._peer_serial)
        st = self._states.get(sid)
        if st is not None and st.report_done and not st.alert_done and not st.failure_done:
            st.report_done = False  # the clean handshake's report again, with these SDPs

    def _expected_for(self, sid: str) -> tuple[tuple[ExpectedFingerprint, ...], str | None]:
        peer = self._peer_sdps.get(sid)
        if peer is not None:
            return peer[0], peer[1]
        return self.expected, self.setup_conflict

    def settled(self, s: Session) -> bool:
        """Whether time passing alone (a tick, no datagram) can no longer give this
        session a verdict: its handshake was reported, or its failure explained.

        Until a datagram of the session arrives, the Tracker may skip calling the hook on
        ticks: the call would return nothing (the checks are only rebuilt for a new
        datagram; the report and the silence rule run once)."""
        st = self._states.get(s.sid)
        if s.client is None or st is None or st.handshake != s.handshakes:
            return False  # the ICE-without-ClientHello rule waits on time
        done = st.alert_done or s.fatal_alert() is not None
        return done or (st.report_done if s.established() else st.failure_done)

    def forget(self, sid: str) -> None:
        """Drop a session's rule state (the Tracker closed it and will not see it again)."""
        self._states.pop(sid, None)
        self._ice.pop(sid, None)

    def _state(self, s: Session) -> _State:
        st = self._states.get(s.sid)
        if st is None:
            if len(self._states) > self.max_states:
                self._states.pop(next(iter(self._states)))
            st = self._states[s.sid] = _State(handshake=s.handshakes)
            if self.decryptor is not None and s.decrypt is None:
                s.decrypt = self.decryptor
            if self.keylog is not None and s.secrets13 is None:
                s.secrets13 = self.keylog.secret
            s.show_payloads = self.options.show_payloads
        elif st.handshake != s.handshakes:
            st = self._states[s.sid] = _State(handshake=s.handshakes, sizes=st.sizes)
        return st

    def _run(self, s: Session, events: list[Event], now: float, final: bool) -> list[Event]:
        if s.client is None:  # no ClientHello yet: only the ICE-without-DTLS rule applies
            watch = self._ice.setdefault(s.sid, IceWatch())
            watch.absorb(events)
            v = watch.verdict(s.sid, now, final, self.options.hello_after)
            quiet = max(d.last_ts for d in s.dirs)
            if v is None and s.sid not in self._fragments_done and (
                    final or now - quiet >= self.options.silence_after):
                v = T.fragment_lost(s, now)
                if v is not None:
                    if len(self._fragments_done) > self.max_states:
                        self._fragments_done.clear()
                    self._fragments_done.add(s.sid)
            return [v] if v is not None else []
        st = self._state(s)
        established = s.established()  # the rules below only read the session
        finished = s.finished_both()
        rejected = s.rejected()
        pending = finished and not established and not rejected
        one_way = s.one_direction() is not None  # nothing to judge the peer's side by
        fatal = s.fatal_alert()
        failure_alert = False
        any_alert = False
        mtu = self.options.mtu
        for ev in events:
            if isinstance(ev, AlertSeen):
                any_alert = True
                failure_alert = failure_alert or _is_failure(s, ev)
            elif isinstance(ev, DatagramSeen) and ev.kind == "dtls":
                st.last_ts = max(st.last_ts, ev.ts)
                # after the handshake only oversize datagrams matter (data channels must not
                # make every datagram re-run the checks)
                if not established or (mtu is not None and ev.size > mtu):
                    st.sizes.add(ev.frame, ev.dir, ev.size)
            elif isinstance(ev, MessageSeen) and ev.error and ev.copy == 1:
                st.malformed.append((ev.dir, ev.message_seq, ev.error))
        quiet = now - st.last_ts >= self.options.silence_after
        # the receiver of the last flight gave up on it: its alert, silence or the end
        give_up = rejected and not one_way and not st.failure_done and not st.alert_done and (
            final or quiet or any_alert)
        report = not st.report_done and fatal is None and not st.alert_done and (
            established or (final and (pending or one_way)))
        need_full = (
            (failure_alert and not st.alert_done) or give_up or report
            or (not established and not st.failure_done and not st.alert_done
                and fatal is None and (final or quiet)))
        ctx, fresh = self._context(s, st, now, need_full)
        out: list[Event] = []
        if fresh and not one_way:  # the immediate findings depend only on the checks
            out.extend(self._immediate(ctx, st))
        if give_up:
            v = self._failure(ctx, "last flight", lambda: final_flight_rejected(ctx))
            if v is not None:
                out.extend(self._emit(st, [v]))
                st.failure_done = st.alert_done = True
        for ev in events if failure_alert else ():
            if isinstance(ev, AlertSeen) and not st.alert_done and _is_failure(s, ev):
                st.alert_done = True
                v = self._failure(ctx, "alert attribution",
                                  lambda a=ev: T.explain_alert13(ctx, a) or explain_alert(ctx, a))
                if v is not None and one_way:
                    v = dataclasses.replace(v, reason=f"{v.reason} ({s.one_direction_note()})",
                                            certain=False)
                if v is not None:
                    out.extend(self._emit(st, [v]))
                    st.failure_done = True
        if report and not st.alert_done:
            st.report_done = True
            out.extend(self._emit(st, self._established(ctx, last_accepted=established)))
            evidence = tuple(ctx.checks.values())
            passed = all(c.passed is not False for c in evidence)
            out.append(CheckReport(now, s.sid, passed, evidence))
        if (not established and not finished and not st.failure_done and not st.alert_done
                and fatal is None and (final or quiet) and not one_way):
            n = self.options.retransmit_threshold
            v = self._failure(ctx, "silence",
                              lambda: T.silent13(ctx, n) or silent_failure(ctx, n))
            if v is None and final:
                v = self._guard(ctx, "incomplete", lambda: _incomplete(ctx))
            if v is not None:
                st.failure_done = True
                out.extend(self._emit(st, [v]))
        if final and s.legs():  # a leg whose other copy came after its own verdict
            out.extend(self._emit(st, [v for v in [self._guard(
                ctx, "legs", lambda: altered_in_transit(ctx))] if v is not None]))
        return out

    def _failure(self, ctx: Context, name: str, fn: object) -> Verdict | None:
        """The verdict of a failure: ``fn``'s, unless a message differs between this
        session and another leg of the same handshake (then that is the finding)."""
        v = self._guard(ctx, name, fn)
        check = ctx.checks.get(LEGS_CHECK)
        if check is not None and check.passed is False:
            alt = self._guard(ctx, "legs", lambda: altered_in_transit(ctx, v))
            if alt is not None:
                return alt
        return v

    # ------------------------------------------------------------------ checks

    def _extra(self, s: Session, st: _State, now: float) -> tuple[object, ...]:
        """What the checks read besides the messages (copies of the Finished, crashed
        rules, the time when a certificate has no message to date its check)."""
        return (len(s.dirs[0].finished_frames), len(s.dirs[1].finished_frames),
                st.guard_writes, now if st.now_dependent else None)

    def _context(self, s: Session, st: _State, now: float,
                 need_full: bool = True) -> tuple[Context, bool]:
        """The checks of the session as it is now (recomputed only when it changed).

        A new datagram size alone does not rebuild them when nothing the checks read
        changed (no MTU option, no key log that may grow): the rebuild would give the
        same checks, and the silence rule reads the sizes from the context, kept current.
        In that plain case, a new message only recomputes the checks the immediate
        findings read; the others are computed (for the same state) when a rule that
        reads them runs (``need_full``: an alert, the end of the handshake, silence).
        """
        c = s.confirm
        peer = self._peer_sdps.get(s.sid)
        key = (self._epoch, peer[2] if peer is not None else 0, s.handshakes, len(s.messages),
               len(s.auth_failures),
               len(s.clienthello_senders), s.client, len(st.malformed),
               c.state, c.retransmitted_after, c.final_copies, len(s.alerts),
               tuple(len(x.messages) for x in s.legs()),
               tuple([len(m.raw) for m in s.messages if m.encrypted]))
        ctx = st.ctx
        n_sizes = len(st.sizes.sizes)
        plain = self.options.mtu is None and self.keylog is None
        if st.cache_key == key and ctx is not None and (
                n_sizes == st.n_sizes or (plain and self._extra(s, st, now) == st.extra)):
            if need_full and not st.full:  # the same state's remaining checks
                ctx = self._build(s, st, st.built_at, True)
                for name, check in st.guard_log:
                    ctx.checks[name] = check
                st.ctx = ctx
                st.full = True
            elif n_sizes != st.n_sizes:
                ctx.sizes = dict(st.sizes.sizes)
            st.n_sizes = n_sizes
            ctx.now = now
            return ctx, False  # same checks: the immediate findings were emitted
        lazy = plain and self.decryptor is None and st.guard_writes == 0
        st.crashed_order = tuple(st.crashed)
        st.guard_log = []
        ctx = self._build(s, st, now, need_full or not lazy)
        st.full = need_full or not lazy
        st.built_at = now
        st.cache_key = key
        st.ctx = ctx
        st.n_sizes = n_sizes
        st.now_dependent = any(
            isinstance(s.neg.certificates.get(role), Certificate)
            and C.find_message(s, role, "Certificate") is None for role in C.ROLES)
        st.extra = self._extra(s, st, now)
        return ctx, True

    def _build(self, s: Session, st: _State, now: float, full: bool) -> Context:
        """Run the checks (``full=False``: only those :meth:`_immediate` reads)."""
        ctx = Context(s, now, {}, keylog=self.keylog, malformed=list(st.malformed),
                      sizes=dict(st.sizes.sizes), mtu=self.options.mtu)
        checks = ctx.checks

        def put(name: str, fn: object) -> None:
            try:
                res = fn()  # type: ignore[operator]
            except Exception as e:
                checks[f"rule {name}"] = Check(f"rule {name}", None,
                                               f"check crashed: {type(e).__name__}: {e}")
                return
            if isinstance(res, Check):
                checks[res.name] = res
            elif isinstance(res, dict):
                checks.update(res)

        def cv() -> Check | None:
            ctx.cv = C.certificate_verify(s)
            return None if ctx.cv is None else ctx.cv.check

        def ske() -> Check | None:
            ctx.ske = C.server_key_exchange(s)
            return None if ctx.ske is None else ctx.ske.check

        v13 = T.is13(s)
        if full and not v13:
            put("CertificateVerify", cv)
            put("ServerKeyExchange", ske)
            put("client key type", lambda: C.key_vs_scheme("client", ctx.cv))
            put("server key type", lambda: C.key_vs_scheme("server", ctx.ske))
        for role in C.ROLES:
            if full:
                m = C.find_message(s, role, "Certificate")
                at = m.ts if m is not None else now
                put(f"{role} certificate", lambda r=role, t=at: C.certificate_checks(s, r, t))
            put(f"{role} fingerprint", lambda r=role: self._fingerprint(s, r))
        rsa_keys = self.rsa

        def premaster() -> Check | None:
            if rsa_keys is not None:
                res = rsa_keys.check(s)
                if res is not None:
                    return res[0]
            return C.premaster_check(s)

        if full and not v13:
            put("ClientKeyExchange", premaster)
        put("negotiation", lambda: C.negotiation_checks(s))
        if full and not v13:
            put("renegotiation_info", lambda: C.renegotiation_check(s))
        if v13 or T.DTLS13 in s.neg.offered_versions:
            put("DTLS 1.3 hellos", lambda: T.hello_checks(s))
        if v13:
            checks.pop("extended_master_secret", None)  # no DTLS 1.2 master secret in 1.3
            keylog = self.keylog
            put("DTLS 1.3", lambda: T.tls13_checks(ctx, keylog))

        def order() -> Check:
            check, bad = T.order13(s) if v13 else C.order_check(s)
            ctx.order_bad = bad
            return check

        put("order", order)

        def mtu() -> Check:
            check, over = C.mtu_check(st.sizes, self.options.mtu)
            ctx.mtu_over = over
            return check

        put("mtu", mtu)
        if self.decryptor is not None and not v13:
            secrets = self.master_secrets
            put("Finished", lambda: finished_checks(s, secrets))
        if self.keylog is not None and not v13:
            put("key logs", lambda: self._keylog_agreement(s))
        put("last flight", lambda: confirmation_check(s, now))
        put("legs", lambda: legs_check(s))
        if s.one_direction() is not None:
            note = s.one_direction_note() or ""
            for name, c in list(checks.items()):
                if c.passed is False and not name.endswith(_ONE_SIDED):
                    # the side not captured (its offer, its messages) would explain it
                    checks[name] = Check(name, None, f"not judged: {note}", c.values)
            checks["capture"] = Check("capture", None, note)
        if self.decryptor is None and full and not v13:
            for role in C.ROLES:
                if C.find_message(s, role, "Finished") is not None:
                    checks[f"{role} Finished"] = Check(
                        f"{role} Finished", None, "not verified: needs the master secret (give "
                        "a key log, --keylog)")
        for name in st.crashed_order:
            checks.setdefault(name, Check(name, None, "rule crashed earlier"))
        return ctx

    def _fingerprint(self, s: Session, role: str) -> Check | None:
        idx = C.role_index(s, role)
        label = s.labels[idx] if idx is not None else None
        chosen: ExpectedFingerprint | None = None
        expected = self._expected_for(s.sid)[0]
        for e in expected:
            if e.role == role or (e.label is not None and e.label == label):
                chosen = e
                break
        if chosen is None:
            unknown = [e for e in expected if e.role is None and e.label is None]
            seen = s.neg.fingerprints.get(role)
            if unknown and seen is not None:
                match = next((e for e in unknown
                              if C.normalize_fingerprint(e.value) == seen), None)
                if match is not None:
                    return C.fingerprint_check(s, role, match.value, match.source)
                return Check(f"{role} certificate fingerprint vs SDP", None,
                             "the SDP's a=setup does not say whose fingerprint it is, and "
                             f"the {role} certificate matches none of them",
                             {"certificate sha-256": seen,
                              "SDP fingerprints": ", ".join(e.value for e in unknown)})
            return C.fingerprint_check(s, role, None, "")
        return C.fingerprint_check(s, role, chosen.value, chosen.source)

    def _keylog_agreement(self, s: Session) -> Check | None:
        assert self.keylog is not None
        cr = s.neg.client_random
        if cr is None:
            return None
        secrets = self.keylog.master_secrets(cr)
        name = "key logs agree"
        if not secrets:
            return Check(name, None, "no key log line for this client_random",
                         {"client_random": cr.hex()})
        groups: dict[bytes, list[str]] = {}
        for src, sec in secrets.items():
            groups.setdefault(sec, []).append(src)
        values = {f"master secret {i + 1}": ", ".join(g) for i, g in enumerate(groups.values())}
        values["client_random"] = cr.hex()
        if len(groups) == 1:
            return Check(name, True, f"{len(secrets)} key log source(s) give one master secret "
                         "for this client_random", values)
        n = s.neg
        hint = ""
        if n.client_ems and n.server_ems is False:
            hint = (": the client offered extended_master_secret and the server did not "
                    "return it -- one side still computed the extended master secret")
        elif n.client_ems and n.server_ems:
            hint = (": both agreed on extended_master_secret -- one side computed the "
                    "classic master secret (extended_master_secret mismatch)")
        elif n.server_ems is not None:
            hint = ": extended_master_secret was not agreed -- one side used it anyway"
        return Check(name, False, "the key logs disagree on the master secret for this "
                     f"client_random: the two peers derived different keys{hint}", values)

    # ------------------------------------------------------------------ findings

    def _guard(self, ctx: Context, name: str, fn: object) -> Verdict | None:
        try:
            res = fn()  # type: ignore[operator]
        except Exception as e:
            cname = f"rule {name}"
            check = Check(cname, None, f"rule crashed: {type(e).__name__}: {e}")
            ctx.checks[cname] = check
            st = self._states.get(ctx.s.sid)
            if st is not None:
                st.crashed.add(cname)
                st.guard_writes += 1
                st.guard_log.append((cname, check))
            return None
        return res if isinstance(res, Verdict) else None

    def _guard13(self, ctx: Context, name: str, fn: Callable[[], list[Verdict]]
                 ) -> list[Verdict]:
        """:meth:`_guard` for a rule that returns several verdicts."""
        found: list[Verdict] = []

        def one() -> None:
            found.extend(fn())

        self._guard(ctx, name, one)
        return found

    def _emit(self, st: _State, verdicts: Sequence[Verdict]) -> list[Event]:
        out: list[Event] = []
        for v in verdicts:
            c = v.culprit
            key: tuple[object, ...] = (v.code,)
            if c is not None and v.code not in ONCE_PER_HANDSHAKE:
                key = (v.code, c.dir, c.type, c.message_seq)
            if key in st.emitted:
                continue
            st.emitted.add(key)
            out.append(v)
        return out

    def _immediate(self, ctx: Context, st: _State) -> list[Event]:
        """Findings that do not wait for the end: fingerprints, roles, order, MTU, choices."""
        s = ctx.s
        found: list[Verdict] = []

        def add(name: str, fn: object) -> None:
            v = self._guard(ctx, name, fn)
            if v is not None:
                found.append(v)

        add("role conflict", lambda: _role_conflict(ctx))
        for role in C.ROLES:
            add(f"{role} fingerprint", lambda r=role: _fingerprint_mismatch(ctx, r))
        add("order", lambda: _out_of_order(ctx))
        add("mtu", lambda: _too_big(ctx))
        add("srtp", lambda: _srtp(ctx))
        add("choices", lambda: _choices(ctx))
        add("key logs", lambda: _conflict(ctx))
        for v in self._guard13(ctx, "DTLS 1.3 findings", lambda: T.immediate13(ctx)):
            found.append(v)
        conflict = self._expected_for(s.sid)[1]
        if conflict and s.client is not None:
            found.append(ctx.verdict("role_conflict", None, conflict,
                                     [Check("a=setup", False, conflict)],
                                     certain=True))
        return self._emit(st, found)

    def _established(self, ctx: Context, last_accepted: bool = True) -> list[Verdict]:
        """Findings on a handshake the peers accepted (``last_accepted=False``: both
        Finished were sent, but whether the last one was accepted is not known)."""
        s = ctx.s
        out: list[Verdict] = []
        if s.one_direction() is not None:
            return out  # its transcript lacks the other side's messages
        legs = ctx.checks.get(LEGS_CHECK)
        if legs is not None and legs.passed is False:  # recovered (a retransmission)
            v = self._guard(ctx, "legs", lambda: altered_in_transit(ctx))
            return [v] if v is not None else []
        cv = ctx.cv
        if cv is not None and cv.check.passed is False and cv.message is not None:
            out.append(ctx.verdict(
                "internal_transcript_error", ref(s, cv.message),
                "the server accepted the client CertificateVerify, but it does not verify over "
                "the transcript the proxy rebuilt: a bug in the proxy's transcript, not the "
                "peer's fault", [cv.check], certain=True,
                to_be_certain="report it with the capture (dtlsproxy analyze --format jsonl)"))
        for role in C.ROLES:
            fin = ctx.checks.get(f"{role} Finished")
            m = C.find_message(s, role, "Finished")
            if m is not None and not last_accepted and m.sender == s.confirm.final_sender:
                continue  # nobody accepted it yet
            if fin is not None and fin.passed is False and m is not None:
                if "fails authentication" in fin.detail:
                    out.append(ctx.verdict(
                        "record_corrupted_in_transit", ref(s, m),
                        f"{role} Finished failed authentication, yet the peer accepted a "
                        "retransmitted copy: the first copy was corrupted in transit",
                        [fin], certain=True))
                elif "fails authentication" not in fin.detail:
                    out.append(ctx.verdict(
                        "internal_transcript_error", ref(s, m),
                        f"the peer accepted the {role} Finished, but its verify_data does not "
                        "match the transcript the proxy rebuilt: a bug in the proxy's "
                        "transcript (or a key log for another connection)", [fin],
                        certain=False))
        return out


def _is_failure(s: Session, a: AlertSeen) -> bool:
    """A fatal alert, or an unreadable one before the handshake completed on the wire
    (after both Finished it may be a close_notify: the last flight's check says so)."""
    if a.level == 2:
        return a.description != CLOSE_NOTIFY  # an orderly shutdown at any level
    return (a.encrypted and a.level is None and not s.finished_both()
            and s.one_direction() is None)


def _role_conflict(ctx: Context) -> Verdict | None:
    s = ctx.s
    if len(s.clienthello_senders) < 2 or s.client is None:
        return None
    second = next((m for m in s.messages if m.type == "ClientHello" and m.sender != s.client),
                  None)
    if second is None:
        return None
    return ctx.verdict(
        "role_conflict", ref(s, second),
        f"both sides sent ClientHello: {s.labels[s.client]} and {s.labels[1 - s.client]} "
        "both act as DTLS client (a=setup role conflict: both active, or actpass answered "
        "with actpass)",
        [Check("roles", False, "two ClientHello senders",
               {"first": s.labels[s.client], "second": s.labels[1 - s.client]})],
        certain=True)


def _fingerprint_mismatch(ctx: Context, role: str) -> Verdict | None:
    c = ctx.checks.get(f"{role} certificate fingerprint vs SDP")
    m = C.find_message(ctx.s, role, "Certificate")
    if c is None or c.passed is not False or m is None or "differs" not in c.detail:
        return None
    return ctx.verdict(
        "fingerprint_mismatch", ref(ctx.s, m),
        f"{role} certificate does not match the SDP a=fingerprint: a WebRTC peer must reject "
        "it (wrong SDP, a certificate regenerated, or a middlebox)", [c], certain=True)


def _out_of_order(ctx: Context) -> Verdict | None:
    if not ctx.order_bad:
        return None
    m = ctx.order_bad[0]
    c = ctx.checks["message order"]
    return ctx.verdict("message_out_of_order", ref(ctx.s, m), c.detail, [c], certain=True)


def _too_big(ctx: Context) -> Verdict | None:
    if not ctx.mtu_over:
        return None
    frame = ctx.mtu_over[0]
    m = next((x for x in ctx.s.messages if frame in x.frames), None)
    c = ctx.checks["datagram size vs path MTU"]
    size = ctx.sizes.get(frame, ("", 0))[1]
    if m is None:
        return None
    return ctx.verdict(
        "datagram_exceeds_mtu", ref(ctx.s, m, (frame,)),
        f"{ctx.role(m.sender)} sends a {size}-byte datagram (frame {frame}, {m.type}) larger "
        f"than the {ctx.mtu}-byte path MTU: it may be dropped on the way",
        [c], certain=False,
        to_be_certain="a capture on the receiving side shows whether it arrives")


def _srtp(ctx: Context) -> Verdict | None:
    c = ctx.checks.get("SRTP profile")
    s = ctx.s
    if c is None or c.passed is not False or s.neg.srtp_profile is not None:
        return None
    hello = C.find_message(s, "client", "ClientHello")
    if hello is None:
        return None
    return ctx.verdict(
        "no_common_srtp_profile", ref(s, hello),
        "server accepted none of the client's SRTP profiles ("
        + c.values.get("client offers", "?") + "): the ServerHello has no use_srtp, so "
        "there are no SRTP keys and media cannot flow", [c], certain=True)


def _choices(ctx: Context) -> Verdict | None:
    s = ctx.s
    sh = C.find_message(s, "server", "ServerHello")
    if sh is None:
        return None
    for name in ("cipher suite", "protocol version", "SRTP profile", "extended_master_secret"):
        c = ctx.checks.get(name)
        if c is None or c.passed is not False:
            continue
        if name == "SRTP profile" and s.neg.srtp_profile is None:
            continue  # the client's offer was refused: _srtp names the ClientHello
        return ctx.verdict("server_choice_not_offered", ref(s, sh),
                           f"{name}: {c.detail}", [c], certain=True)
    return None


def _conflict(ctx: Context) -> Verdict | None:
    c = ctx.checks.get("key logs agree")
    s = ctx.s
    if c is None or c.passed is not False:
        return None
    m = C.find_message(s, "client", "Finished")
    if m is None:
        return None  # wait for the flight whose keys the secrets protect
    return ctx.verdict("keylog_conflict", ref(s, m), c.detail,
                       ctx.pick("key logs agree", "extended_master_secret", "client Finished",
                                "server Finished"), certain=True)


def _incomplete(ctx: Context) -> Verdict | None:
    s = ctx.s
    if s.client is None or not s.flights or s.neg.version == 0xFEFC:
        return None
    f = s.flights[-1]
    who, other = ctx.role(f.dir_key), ctx.role(1 - f.dir_key)
    msgs = [m for m in s.messages if m.sender == f.dir_key and m.flight == f.number]
    return ctx.verdict(
        "handshake_incomplete", ref(s, msgs[0], f.frames) if msgs else None,
        f"handshake did not complete: the {who} sent flight {f.number} last and the {other} "
        "never answered (no retransmission, no alert: the capture may have ended early)",
        list(ctx.checks.values()), certain=False,
        to_be_certain="a longer capture shows whether the peer answers")
