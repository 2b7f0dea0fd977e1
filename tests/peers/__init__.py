"""Real system DTLS peers (openssl, gnutls-cli), a recording UDP forwarder and their fixtures."""

CLIENT_LINE = b"hello from the dtls client\n"
"""Application data the client side of every recorded exchange sends."""
SERVER_LINE = b"hello from the dtls server\n"
"""Application data the server side sends back."""
