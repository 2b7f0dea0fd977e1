"""``dtlsproxy sdp``: inspect an SDP, or rewrite its candidates to point at the proxy.

``dtlsproxy sdp inspect [--json] [FILE|-]`` prints fingerprints, setup roles, ICE
ufrag (never the password) and candidates per m-section.
``dtlsproxy sdp rewrite --to HOST:PORT [--keep-tcp] [FILE|-]`` prints the SDP with every
UDP candidate, ``c=`` and m-line port set to HOST:PORT, every other byte unchanged.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from proxy.events import format_address, jsonable
from proxy.sdp import SdpError, SdpInfo, inspect_sdp, parse_hostport, rewrite_sdp

EXIT_OK = 0
EXIT_USAGE = 2


def add_parser(sub: Any) -> None:
    """Register ``sdp`` with its ``inspect`` and ``rewrite`` actions."""
    p = sub.add_parser(
        "sdp",
        help="inspect an SDP or rewrite its candidates to the proxy",
        description="Inspect an SDP (fingerprints, setup, ICE, candidates) or rewrite its "
        "addresses so the peer sends to the proxy.",
    )
    actions = p.add_subparsers(dest="sdp_action", metavar="ACTION", required=True)
    ins = actions.add_parser("inspect", help="show fingerprints, setup, ufrag, candidates")
    ins.add_argument("file", nargs="?", default="-", help="SDP file, or - for stdin (default)")
    ins.add_argument("--json", action="store_true", help="machine-readable output")
    rw = actions.add_parser("rewrite", help="point candidates, c= and m= ports at HOST:PORT")
    rw.add_argument("file", nargs="?", default="-", help="SDP file, or - for stdin (default)")
    rw.add_argument(
        "--to",
        required=True,
        metavar="HOST:PORT",
        help="the proxy address for this side, e.g. 127.0.0.1:5000 or [::1]:5000",
    )
    rw.add_argument(
        "--keep-tcp",
        action="store_true",
        help="keep TCP candidates (untouched) instead of dropping them",
    )


def _read(name: str) -> str:
    try:
        raw = sys.stdin.buffer.read() if name == "-" else open(name, "rb").read()  # noqa: SIM115
    except OSError as exc:
        raise SdpError(f"cannot read {name}: {exc.strerror or exc}") from None
    return raw.decode("utf-8", errors="surrogateescape")


def _write(text: str) -> None:
    sys.stdout.buffer.write(text.encode("utf-8", errors="surrogateescape"))
    sys.stdout.flush()


def render(info: SdpInfo) -> str:
    """The human-readable ``inspect`` report."""
    out: list[str] = []
    head = f"session: o={info.origin}"
    if info.connection:
        head += f"  c={info.connection}"
    out.append(head)
    for g in info.groups:
        out.append(f"  group {g}")
    if info.ice_lite:
        out.append("  ice-lite")
    for m in info.media:
        line = f"m[{m.index}] {m.media} port {m.port} {m.proto}"
        if m.mid is not None:
            line += f"  mid={m.mid}"
        if m.connection:
            line += f"  c={m.connection}"
        if m.port == 0:
            line += "  (bundle-only)" if m.bundle_only else "  (rejected)"
        out.append(line)
        setup = info.setup_of(m)
        ufrag = info.ufrag_of(m)
        pwd = m.ice_pwd or info.ice_pwd
        out.append(
            f"  setup {setup or '(none)'}  ice-ufrag {ufrag or '(none)'}  "
            f"ice-pwd {'present' if pwd else 'absent'}" + ("  rtcp-mux" if m.rtcp_mux else "")
        )
        for fp in info.fingerprints_of(m):
            out.append(f"  fingerprint {fp.algorithm} {fp.value}")
        for c in m.candidates:
            out.append(f"  candidate {c.describe()}")
        if m.end_of_candidates:
            out.append("  end-of-candidates")
    for p in info.problems:
        out.append(f"problem: {p}")
    return "\n".join(out) + "\n"


def main(args: argparse.Namespace) -> int:
    """Run ``sdp inspect`` or ``sdp rewrite``; exit code 2 with one line on bad input."""
    try:
        if args.sdp_action == "rewrite":
            to = parse_hostport(args.to)
            _write(rewrite_sdp(_read(args.file), to, drop_tcp=not args.keep_tcp))
            print(f"dtlsproxy sdp: rewritten to {format_address(to)}", file=sys.stderr)
            return EXIT_OK
        info = inspect_sdp(_read(args.file))
        if args.json:
            _write(json.dumps(jsonable(info), indent=2) + "\n")
        else:
            _write(render(info))
        return EXIT_OK
    except SdpError as exc:
        print(f"dtlsproxy sdp: error: {exc.reason}", file=sys.stderr)
        return EXIT_USAGE
