"""Sans-IO wire decoding: RFC 7983 demux, STUN, RTP/RTCP, NSS key logs, and DTLS
(:mod:`proxy.decode.dtls`, with its key schedule and checks in ``dtls.crypto``)."""
