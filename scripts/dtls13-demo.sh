#!/usr/bin/env bash
# DTLS 1.3 through dtlsproxy between two real NSS peers (tstclnt on Firefox ESR's NSS,
# RFC 9147), decrypted live with the key logs they write. The embedded demo's pyOpenSSL
# cannot speak DTLS 1.3, so this one uses tstclnt (apt: libnss3-tools firefox-esr).
#
#   bash scripts/dtls13-demo.sh              # the TUI; q quits
#   bash scripts/dtls13-demo.sh --headless   # one line per flight, alert, verdict (8 s)
#   FAULT=none bash scripts/dtls13-demo.sh   # a clean handshake instead
#
# By default the proxy flips the last byte of the server's CertificateVerify signature
# inside its encrypted record and encrypts the record again (a fault rule with the key
# log): the client answers with an encrypted decrypt_error, which the proxy decrypts, and
# the verdict names the CertificateVerify.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || bash scripts/setup.sh --no-system
PY=${PY:-.venv/bin/python}
NSS=/usr/lib/firefox-esr
command -v tstclnt >/dev/null && command -v certutil >/dev/null && [ -e "$NSS/libssl3.so" ] || {
  echo "needs tstclnt and certutil (libnss3-tools) and Firefox ESR's NSS (firefox-esr)" >&2
  exit 1
}
FAULT=${FAULT-who=server,msg=CertificateVerify,action=corrupt,offset=-1}
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do pkill -P "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# one self-signed ECDSA P-256 certificate for the server
certutil -N -d "$work" --empty-password
head -c 64 /dev/urandom > "$work/noise"
certutil -S -d "$work" -n server -s CN=server -x -t CT,C,C -k ec -q nistp256 -v 12 \
  -z "$work/noise" >/dev/null 2>&1
ports=$("$PY" -c 'import socket
for _ in range(2):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1], end=" "); s.close()')
read -r server_port proxy_port <<< "$ports"

# the server and the client, each with its SSLKEYLOGFILE and its stdin a FIFO this
# script holds open (tstclnt spins at EOF); the client starts once the proxy listens
: > "$work/server.keys"; : > "$work/client.keys"; chmod 600 "$work"/*.keys
mkfifo "$work/server.in" "$work/client.in"
exec 3<>"$work/server.in" 4<>"$work/client.in"
LD_LIBRARY_PATH=$NSS SSLKEYLOGFILE="$work/server.keys" \
  tstclnt -P server -h 127.0.0.1 -p "$server_port" -d "$work" -n server -V tls1.3:tls1.3 \
  <&3 > "$work/server.out" 2>&1 &
pids+=($!)
start_client() {
  for _ in $(seq 100); do ss -Huln "sport = :$proxy_port" | grep -q . && break; sleep 0.1; done
  sleep 0.3
  echo "hello through dtlsproxy" >&4
  LD_LIBRARY_PATH=$NSS SSLKEYLOGFILE="$work/client.keys" tstclnt -P client -h 127.0.0.1 \
    -p "$proxy_port" -d "$work" -V tls1.3:tls1.3 -o <&4 > "$work/client.out" 2>&1
}
start_client > /dev/null 2>&1 &
pids+=($!)

args=(run --listen "127.0.0.1:$proxy_port" --upstream "127.0.0.1:$server_port"
      --keylog "$work/client.keys" --keylog "$work/server.keys" --silence-after 3)
[ "$FAULT" = none ] || args+=(--fault "$FAULT")
if [ "${1:-}" = --headless ]; then
  "$PY" -m proxy "${args[@]}" --headless --duration 8
else
  .venv/bin/dtlsproxy "${args[@]}"
fi
