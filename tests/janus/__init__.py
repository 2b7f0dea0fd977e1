"""Test bed for a real Janus and a real WebRTC peer (aiortc), optionally through a relay.

Everything runs inside a private network namespace made with ``unshare --net``:
Janus, libnice and aiortc skip loopback when they gather ICE candidates, so the
namespace gets one test-host address (``10.99.0.1``) on a virtual interface and no
route out. The pytest side (:mod:`tests.janus.harness`) starts one *bed driver*
(:mod:`tests.janus.bed`) per scenario inside such a namespace and reads back a JSON
result; the driver starts Janus (:mod:`tests.janus.janus`), the aiortc peer
(:mod:`tests.janus.peer`) and the relay in between (:mod:`tests.janus.relay`).
"""
