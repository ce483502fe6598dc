#!/usr/bin/env bash
# Peak memory of `eniwatch check` when IMDS answers 64 MiB to every GET
# (once with Content-Length, once streamed without), next to a tiny answer.
# Usage: scripts/bench-big-answer.sh [debug|release]
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${1:-debug}
if [ "$profile" = release ]; then cargo build --release --locked -q -p eniwatch; else cargo build --locked -q -p eniwatch; fi
bin=target/$profile/eniwatch
server=$(mktemp --suffix .py)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -f "$server"' EXIT
cat > "$server" <<'PY'
import http.server, sys
size, mode = int(sys.argv[2]), sys.argv[3]
body = b"0" * size
class H(http.server.BaseHTTPRequestHandler):
    def do_PUT(self):
        self.send_response(200); self.end_headers(); self.wfile.write(b"token")
    def do_GET(self):
        self.send_response(200)
        if mode == "length":
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:
            pass
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
port=18760
for case in "67108864 length" "67108864 stream" "6 length"; do
  port=$((port + 1))
  python3 "$server" "$port" $case &
  sleep 0.5
  /usr/bin/time -f "$case: peak RSS %M KiB, %e s" "$bin" check --no-kube --expect-subnet subnet-0abc \
    --no-ec2 --no-ipamd --imds-endpoint "http://127.0.0.1:$port" --output json 2>&1 >/dev/null | tail -1 || true
done
