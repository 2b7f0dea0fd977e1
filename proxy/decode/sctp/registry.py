"""IANA names of SCTP and DCEP numbers (SCTP parameters registry, RFC 9260, RFC 8832).

Unknown values render as ``unknown (N)``: the decoder never refuses a number it has no
name for.
"""

from __future__ import annotations

from collections.abc import Mapping

CHUNK_TYPES: Mapping[int, str] = {
    0: "DATA", 1: "INIT", 2: "INIT ACK", 3: "SACK", 4: "HEARTBEAT", 5: "HEARTBEAT ACK",
    6: "ABORT", 7: "SHUTDOWN", 8: "SHUTDOWN ACK", 9: "ERROR", 10: "COOKIE ECHO",
    11: "COOKIE ACK", 12: "ECNE", 13: "CWR", 14: "SHUTDOWN COMPLETE", 15: "AUTH",
    64: "I-DATA", 128: "ASCONF-ACK", 130: "RE-CONFIG", 132: "PAD", 192: "FORWARD-TSN",
    193: "ASCONF", 194: "I-FORWARD-TSN",
}  # fmt: skip
"""Chunk types (RFC 9260 §3.2, RFC 8260 I-DATA, RFC 6525 RE-CONFIG, RFC 3758 FORWARD-TSN)."""

PARAMETERS: Mapping[int, str] = {
    1: "Heartbeat Info", 5: "IPv4 Address", 6: "IPv6 Address", 7: "State Cookie",
    8: "Unrecognized Parameter", 9: "Cookie Preservative", 11: "Host Name Address",
    12: "Supported Address Types", 13: "Outgoing SSN Reset Request",
    14: "Incoming SSN Reset Request", 15: "SSN/TSN Reset Request",
    16: "Re-configuration Response", 17: "Add Outgoing Streams Request",
    18: "Add Incoming Streams Request", 0x8000: "ECN Capable",
    0x8001: "Zero Checksum Acceptable", 0x8002: "Random", 0x8003: "Chunk List",
    0x8004: "Requested HMAC Algorithm", 0x8005: "Padding", 0x8008: "Supported Extensions",
    0xC000: "Forward-TSN-Supported", 0xC001: "Add IP Address", 0xC002: "Delete IP Address",
    0xC003: "Error Cause Indication", 0xC004: "Set Primary Address",
    0xC005: "Success Indication", 0xC006: "Adaptation Layer Indication",
}  # fmt: skip
"""INIT, INIT ACK, HEARTBEAT and RE-CONFIG parameter types (RFC 9260 §3.3.2, RFC 6525,
RFC 9653 Zero Checksum Acceptable)."""

CAUSES: Mapping[int, str] = {
    1: "Invalid Stream Identifier", 2: "Missing Mandatory Parameter", 3: "Stale Cookie Error",
    4: "Out of Resource", 5: "Unresolvable Address", 6: "Unrecognized Chunk Type",
    7: "Invalid Mandatory Parameter", 8: "Unrecognized Parameters", 9: "No User Data",
    10: "Cookie Received While Shutting Down",
    11: "Restart of an Association with New Addresses", 12: "User-Initiated Abort",
    13: "Protocol Violation", 0xA0: "Request to Delete Last Remaining IP Address",
    0xA1: "Operation Refused Due to Resource Shortage",
    0xA2: "Request to Delete Source IP Address",
    0xA3: "Association Aborted Due to Illegal ASCONF-ACK",
    0xA4: "Request Refused - No Authorization", 0x105: "Unsupported HMAC Identifier",
}  # fmt: skip
"""Error cause codes of ABORT and ERROR (RFC 9260 §3.3.10)."""

RECONFIG_RESULTS: Mapping[int, str] = {
    0: "Success - Nothing to do", 1: "Success - Performed", 2: "Denied",
    3: "Error - Wrong SSN", 4: "Error - Request already in progress",
    5: "Error - Bad Sequence Number", 6: "In progress",
}  # fmt: skip
"""Re-configuration Response results (RFC 6525 §4.4)."""

PPIDS: Mapping[int, str] = {
    50: "WebRTC DCEP", 51: "WebRTC String", 52: "WebRTC Binary Partial (deprecated)",
    53: "WebRTC Binary", 54: "WebRTC String Partial (deprecated)",
    56: "WebRTC String Empty", 57: "WebRTC Binary Empty",
}  # fmt: skip
"""Payload protocol identifiers of WebRTC data channels (RFC 8831 §8)."""

PPID_DCEP = 50
PPID_STRING = 51
PPID_BINARY = 53
PPID_STRING_EMPTY = 56
PPID_BINARY_EMPTY = 57
EMPTY_PPIDS = frozenset({PPID_STRING_EMPTY, PPID_BINARY_EMPTY})
"""Messages that are empty: their one byte of user data is padding (RFC 8831 §6.6)."""
STRING_PPIDS = frozenset({PPID_STRING, 54, PPID_STRING_EMPTY})

CHANNEL_TYPES: Mapping[int, str] = {
    0x00: "DATA_CHANNEL_RELIABLE", 0x80: "DATA_CHANNEL_RELIABLE_UNORDERED",
    0x01: "DATA_CHANNEL_PARTIAL_RELIABLE_REXMIT",
    0x81: "DATA_CHANNEL_PARTIAL_RELIABLE_REXMIT_UNORDERED",
    0x02: "DATA_CHANNEL_PARTIAL_RELIABLE_TIMED",
    0x82: "DATA_CHANNEL_PARTIAL_RELIABLE_TIMED_UNORDERED",
}  # fmt: skip
"""DATA_CHANNEL_OPEN channel types (RFC 8832 §5.1)."""

DCEP_TYPES: Mapping[int, str] = {0x02: "DATA_CHANNEL_ACK", 0x03: "DATA_CHANNEL_OPEN"}
"""DCEP message types (RFC 8832 §8.2.1)."""

ERROR_DETECTION_METHODS: Mapping[int, str] = {0: "none (CRC32c)", 1: "DTLS (RFC 8261)"}
"""Zero Checksum Acceptable's error detection methods (RFC 9653 §7)."""


def name(table: Mapping[int, str], value: int) -> str:
    """The registered name of ``value``, or ``unknown (value)``."""
    got = table.get(value)
    return got if got is not None else f"unknown ({value})"
