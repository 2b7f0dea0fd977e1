"""``dtlsproxy demo``: the embedded scenarios and the real DTLS peers they run."""
