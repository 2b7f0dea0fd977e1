"""Config: TOML + flags -> RelayConfig; every mistake is one line naming the key."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.cli.main import build_parser
from proxy.cli.run import build_config
from proxy.relay.config import (
    _CALL_KEYS,
    _LOG_KEYS,
    _RELAY_KEYS,
    _TURN_KEYS,
    ConfigError,
    from_mapping,
    load_toml,
    validate,
)
from proxy.relay.faults import ACTION_KEYS, MATCH_KEYS

ROOT = Path(__file__).resolve().parents[2]


def flags(*argv: str):
    return build_config(build_parser().parse_args(["run", *argv]))


def error_of(doc: dict) -> str:
    with pytest.raises(ConfigError) as info:
        validate(from_mapping(doc))
    return str(info.value)


def test_shipped_configs_load() -> None:
    example = load_toml(ROOT / "configs" / "example.toml")
    assert example.mode == "two-sided"
    (call,) = example.calls
    assert (call.a.bind, call.b.bind) == (("127.0.0.1", 5000), ("127.0.0.1", 6000))
    assert (call.a.label, call.b.label, call.a.policy) == ("browser", "janus", "latch-first")
    assert example.log_file == Path("dtlsproxy.jsonl")
    janus = load_toml(ROOT / "configs" / "janus.toml")
    assert janus.calls[0].b.label == "janus"
    assert janus.headless is True


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"relay": {"side_a": 5000}},
         'config error: [relay] side_a: expected "HOST:PORT", got 5000'),
        ({"relay": {"sidea": "127.0.0.1:5000"}},
         "config error: [relay] sidea: unknown key (known: allow_a, allow_b,"),
        ({"relay": {"side_a": "127.0.0.1:5000", "side_b": "127.0.0.1:6000",
                    "rcvbuf": "big"}},
         'config error: [relay] rcvbuf: expected an integer >= 0, got "big"'),
        ({"log": {"headless": "yes"}},
         'config error: [log] headless: expected true or false, got "yes"'),
        ({"relays": {}}, "config error: relays: unknown table or key"),
        ({"relay": {"side_a": "127.0.0.1:5000"}},
         "config error: [relay] side_b: missing (side_a and side_b go together)"),
        ({"relay": {"side_a": "127.0.0.1:5000-5001", "side_b": "127.0.0.1:6000"}},
         "config error: [relay] side_b: port range has 1 ports but side_a has 2"),
        ({"relay": {"side_a": "127.0.0.1:5000", "side_b": "127.0.0.1:6000",
                    "policy_b": "fixed"}},
         'config error: [relay] policy_b: "fixed" needs peer_b'),
        ({"relay": {"side_a": "host.example:5000", "side_b": "127.0.0.1:6000"}},
         "config error: [relay] side_a: expected \"HOST:PORT\", got \"host.example:5000\" "
         "('host.example' is not an IP address)"),
        ({"relay": {"mode": "sideways"}},
         'config error: [relay] mode: expected one of two-sided, reverse, got "sideways"'),
        ({"fault": [{"who": "client", "action": "corrupt", "ofset": -1}]},
         "config error: [[fault]] #1 ofset: unknown key"),
        ({}, "config error: [relay] side_a: two-sided mode needs --side-a and --side-b"),
        ({"relay": {"listen": "127.0.0.1:4433"}},
         "config error: [relay] upstream: reverse mode needs --upstream HOST:PORT"),
    ],
)
def test_errors_name_the_key(doc: dict, message: str) -> None:
    assert error_of(doc).startswith(message)


def test_port_ranges_make_several_calls_and_ipv6_parses() -> None:
    cfg = validate(from_mapping({"relay": {"side_a": "[::1]:5000-5002",
                                           "side_b": "127.0.0.1:6000-6002"}}))
    assert [c.name for c in cfg.calls] == ["call1", "call2", "call3"]
    assert [c.a.bind for c in cfg.calls] == [("::1", 5000), ("::1", 5001), ("::1", 5002)]
    assert cfg.calls[2].b.bind == ("127.0.0.1", 6002)


def test_call_tables_and_allow_lists() -> None:
    cfg = validate(from_mapping({
        "call": [
            {"name": "alice", "side_a": "127.0.0.1:0", "side_b": "127.0.0.1:0",
             "allow_a": ["10.0.0.0/8", "::1", "192.0.2.7:5000"]},
            {"name": "bob", "side_a": "127.0.0.1:0", "side_b": "127.0.0.1:0",
             "peer_b": "127.0.0.1:7000"},
        ],
    }))
    alice, bob = cfg.calls
    assert alice.a.policy == "allow"
    assert alice.a.allow == (ipaddress.ip_network("10.0.0.0/8"),
                             ipaddress.ip_network("::1/128"), ("192.0.2.7", 5000))
    assert (bob.b.policy, bob.b.peer) == ("fixed", ("127.0.0.1", 7000))


def test_flags_override_the_file(tmp_path: Path) -> None:
    conf = tmp_path / "c.toml"
    conf.write_text('[relay]\nside_a = "127.0.0.1:5000"\nside_b = "127.0.0.1:6000"\n'
                    'label_b = "janus"\n[log]\nfile = "a.jsonl"\n')
    cfg = flags("--config", str(conf), "--peer-b", "127.0.0.1:7000", "--log-file", "b.jsonl",
                "--fault", "who=server,flight=4,action=drop", "--headless")
    (call,) = cfg.calls
    assert call.a.bind == ("127.0.0.1", 5000)
    assert (call.b.peer, call.b.policy, call.b.label) == (("127.0.0.1", 7000), "fixed", "janus")
    assert cfg.log_file == Path("b.jsonl")
    assert cfg.headless is True
    assert [r.flight for r in cfg.faults] == [4]
    rev = flags("--listen", "127.0.0.1:4433", "--upstream", "[::1]:4444", "--max-sessions", "5")
    assert (rev.mode, rev.upstream, rev.max_sessions) == ("reverse", ("::1", 4444), 5)


def test_bad_flag_names_the_flag() -> None:
    with pytest.raises(ConfigError) as info:
        flags("--side-a", "5000", "--side-b", "127.0.0.1:6000")
    assert str(info.value).startswith('config error: --side-a: expected "HOST:PORT", got "5000"')
    with pytest.raises(ConfigError) as info:
        flags("--side-a", "127.0.0.1:0", "--side-b", "127.0.0.1:0", "--fault", "action=zap")
    assert "--fault 'action=zap' action: expected one of drop" in str(info.value)


@pytest.mark.parametrize(
    ("toml", "line"),
    [
        ("[relay]\nside_a = 5000\n",
         'config error: [relay] side_a: expected "HOST:PORT", got 5000'),
        ("[relay]\ncolour = 1\n", "config error: [relay] colour: unknown key"),
        ("[relay\n", "not valid TOML"),
        (b'[relay]\nlabel_a = "caf\xe9"\n',  # Latin-1, not UTF-8
         "bad.toml: not UTF-8 text (byte 0xe9 at line 2, column 15); TOML files are UTF-8"),
        ("[relay]\nidle_timeout = nan\n",
         "config error: [relay] idle_timeout: expected a finite number >= 0, got nan"),
        ("[relay]\nsilence_after = inf\n", "silence_after: expected a finite number >= 0"),
        ("[relay]\nrcvbuf = 9223372036854775807\n",
         "config error: [relay] rcvbuf: expected at most 2147483647, got 9223372036854775807"),
    ],
)
def test_cli_prints_one_line_and_exits_2(tmp_path: Path, toml: str | bytes, line: str) -> None:
    conf = tmp_path / "bad.toml"
    if isinstance(toml, bytes):
        conf.write_bytes(toml)
    else:
        conf.write_text(toml)
    proc = subprocess.run(
        [sys.executable, "-m", "proxy", "run", "--config", str(conf)],
        capture_output=True, text=True, cwd=ROOT, timeout=30,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert line in proc.stderr
    assert "Traceback" not in proc.stderr


def test_rcvbuf_flag_beyond_a_c_int_names_the_flag() -> None:
    with pytest.raises(ConfigError) as info:
        flags("--side-a", "127.0.0.1:0", "--side-b", "127.0.0.1:0", "--rcvbuf", str(2**40))
    assert str(info.value) == f"config error: --rcvbuf: expected at most {2**31 - 1}, got {2**40}"


_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats()
    | st.text(max_size=30) | st.sampled_from(["127.0.0.1:5000", "[::1]:0", "0.0.0.0:5000-5002",
                                             "10.0.0.0/8", "fixed", "allow", "reverse"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=3),
    max_leaves=6,
)


def _table(keys: tuple[str, ...]) -> st.SearchStrategy[dict[str, object]]:
    return st.dictionaries(st.sampled_from(keys) | st.text(max_size=6), _VALUES, max_size=6)


@settings(max_examples=int(os.environ.get("CONFIG_FUZZ_EXAMPLES", "300")), deadline=None)
@given(st.fixed_dictionaries({}, optional={
    "relay": _table(tuple(_RELAY_KEYS)) | _VALUES,
    "call": st.lists(_table(_CALL_KEYS), max_size=2) | _VALUES,
    "log": _table(_LOG_KEYS) | _VALUES,
    "fault": st.lists(_table(MATCH_KEYS + ACTION_KEYS), max_size=2) | _VALUES,
    "sdp": _table(("files",)) | _VALUES,
    "fingerprints": _table(("files",)) | _VALUES,
    "turn": _table(_TURN_KEYS) | _VALUES,
}))
def test_any_document_is_a_config_or_one_config_error(doc: dict[str, object]) -> None:
    try:
        cfg = validate(from_mapping(doc))
    except ConfigError as exc:
        assert str(exc).startswith("config error: ") and "\n" not in str(exc)
        return
    assert 0 <= cfg.rcvbuf < 2**31
    for value in (cfg.idle_timeout, cfg.silence_after):
        assert 0 <= value < float("inf")


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_as_a_config_file_are_one_config_error_at_most(data: bytes) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.toml"
        path.write_bytes(data)
        with contextlib.suppress(ConfigError):
            load_toml(path)


def test_show_payloads_off_unless_asked() -> None:
    base = ["--side-a", "127.0.0.1:0", "--side-b", "127.0.0.1:0",
            "--peer-a", "127.0.0.1:1", "--peer-b", "127.0.0.1:2"]
    assert not flags(*base).show_payloads
    assert flags(*base, "--show-payloads").show_payloads
    cfg = from_mapping({"log": {"show_payloads": True}})
    assert cfg.show_payloads
