"""Data channels of a session: the SCTP association carried by its DTLS application data
(RFC 8261), its channels (RFC 8832), and the findings on them. Sans-IO: decrypted
records and time in, events out.

:mod:`.association` (:class:`~.association.Association`: state, channels, counters),
:mod:`.rules` (the verdicts: INIT unanswered, ABORT, DATA_CHANNEL_OPEN never
acknowledged, SDP a=sctp-port / a=max-message-size against what is sent).
"""
