#!/usr/bin/env bash
# Make sure a Redis server answers on $REDIS_URL (default redis://127.0.0.1:6379/0).
# If none answers and the URL points at this machine, start a throwaway redis-server
# (no persistence) on that port, installing Debian's redis-server first when we are root.
set -euo pipefail
REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
PY="${PY:-.venv/bin/python}"

ping() {
  "$PY" - "$REDIS_URL" <<'PYEOF'
import sys, redis
try:
    sys.exit(0 if redis.Redis.from_url(sys.argv[1], socket_connect_timeout=1).ping() else 1)
except Exception:
    sys.exit(1)
PYEOF
}

if ping; then echo "redis: answering on $REDIS_URL"; exit 0; fi

hostport="${REDIS_URL#redis://}"; hostport="${hostport#*@}"; hostport="${hostport%%/*}"
host="${hostport%%:*}"; port="${hostport##*:}"; [ "$port" = "$hostport" ] && port=6379
case "$host" in 127.0.0.1|localhost|::1|"") ;; *) echo "redis: $REDIS_URL does not answer and is not local; start it yourself" >&2; exit 1;; esac

if ! command -v redis-server >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "redis: installing Debian's redis-server"
    (apt-get install -y -q redis-server >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q redis-server >/dev/null; })
  else
    echo "redis: nothing answers on $REDIS_URL and redis-server is not installed (apt-get install redis-server)" >&2
    exit 1
  fi
fi
mkdir -p .redis
echo "redis: starting redis-server on 127.0.0.1:$port (no persistence, log in .redis/redis.log)"
redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
  --dir "$PWD/.redis" --logfile "$PWD/.redis/redis.log" --pidfile "$PWD/.redis/redis.pid"
for _ in $(seq 1 50); do ping && exit 0; sleep 0.1; done
echo "redis: started but does not answer; see .redis/redis.log" >&2
exit 1
