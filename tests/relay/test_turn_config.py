"""``[turn]`` and the ``--turn*`` flags: typed config, errors that name the key."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from proxy.cli.main import build_parser
from proxy.cli.run import build_config
from proxy.relay.config import ConfigError, from_mapping, validate


def flags(*argv: str):  # type: ignore[no-untyped-def]
    return build_config(build_parser().parse_args(["run", *argv]))


def test_turn_flags_alone_are_a_runnable_config() -> None:
    cfg = flags("--turn", "0.0.0.0:3478", "--relay-ip", "192.0.2.10", "--turn-user",
                "alice:s3cret", "--turn-user", "bob:pw", "--turn-realm", "example.org",
                "--turn-allow-peer", "192.0.2.10", "--relay-ports", "50000-50100")
    assert cfg.calls == () and cfg.turn is not None
    t = cfg.turn
    assert t.listen == (("0.0.0.0", 3478),) and t.relay_ips == ("192.0.2.10",)
    assert t.relay_ports == (50000, 50100) and t.transports == ("udp", "tcp")
    creds = t.settings.credentials
    assert (creds.realm, dict(creds.users)) == ("example.org", {"alice": "s3cret", "bob": "pw"})
    assert t.settings.peers.allowed == (ipaddress.ip_network("192.0.2.10/32"),)
    assert not t.settings.peers.allow_loopback
    assert "s3cret" not in repr(cfg)  # passwords never reach a log line


def test_turn_table(tmp_path: Path) -> None:
    doc = {"turn": {
        "listen": ["127.0.0.1:3478", "[::1]:3478"], "transports": ["udp"],
        "users": ["alice:secret"], "secret": "rest", "relay_ip": ["127.0.0.1", "::1"],
        "allow_loopback_peers": True, "denied_peers": ["10.0.0.0/8"],
        "max_allocations": 5, "max_allocations_per_user": 2, "max_permissions": 3,
        "max_channels": 4, "default_lifetime": 300, "max_lifetime": 900,
    }}
    cfg = validate(from_mapping(doc))
    assert cfg.turn is not None
    s = cfg.turn.settings
    assert (s.max_allocations, s.max_allocations_per_user, s.max_permissions,
            s.max_channels, s.default_lifetime, s.max_lifetime) == (5, 2, 3, 4, 300, 900)
    assert s.credentials.secret == "rest" and s.peers.allow_loopback
    assert cfg.turn.transports == ("udp",) and cfg.turn.relay_ips == ("127.0.0.1", "::1")


def test_flags_replace_the_tables_users() -> None:
    base = from_mapping({"turn": {"listen": "127.0.0.1:3478", "users": ["old:pw"]}})
    from proxy.relay.config import apply_flags

    cfg = apply_flags(base, {"turn_user": ["new:pw"]})
    assert cfg.turn is not None and dict(cfg.turn.settings.credentials.users) == {"new": "pw"}
    assert cfg.turn.listen == (("127.0.0.1", 3478),)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"listen": "127.0.0.1:3478"}, "[turn] users: TURN needs credentials (there is no "
                                       "unauthenticated mode)"),
        ({"users": ["a:b"]}, "[turn] listen: missing"),
        ({"listen": "0.0.0.0:3478", "users": ["a:b"]}, "[turn] relay_ip: missing: the TURN "
                                                        "port listens on 0.0.0.0"),
        ({"listen": "127.0.0.1:3478", "users": ["nopassword"]}, '[turn] users: expected '
                                                                 '"USER:PASSWORD"'),
        ({"listen": "127.0.0.1:3478", "users": ["a:b"], "relay_ports": "10-20"},
         "[turn] relay_ports: expected"),
        ({"listen": "127.0.0.1:3478", "users": ["a:b"], "transports": ["sctp"]},
         "[turn] transports: expected udp and/or tcp"),
        ({"listen": "127.0.0.1:3478", "users": ["a:b"], "allowed_peers": ["10.0.0.1:5"]},
         "[turn] allowed_peers: a network or host, not host:port"),
        ({"listen": "127.0.0.1:3478", "users": ["a:b"], "max_lifetime": 10},
         "[turn] max_lifetime: smaller than default_lifetime"),
        ({"listen": "127.0.0.1:3478", "users": ["a:b"], "realm": 5},
         "[turn] realm: expected a string"),
        ({"listen": "127.0.0.1:3478", "users": ["a:b"], "relay": "x"},
         "[turn] relay: unknown key"),
    ],
)
def test_turn_errors_name_the_key(table: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigError) as info:
        validate(from_mapping({"turn": table}))
    assert message in str(info.value)
    assert "b\"" not in str(info.value)


def test_bad_turn_flag_names_the_flag() -> None:
    with pytest.raises(ConfigError, match="--turn-user: expected"):
        flags("--turn", "127.0.0.1:3478", "--turn-user", "alice")
    with pytest.raises(ConfigError, match="--relay-ip: missing"):
        flags("--turn", "0.0.0.0:3478", "--turn-user", "a:b")
