#!/usr/bin/env bash
# Make sure a Redis server answers on $REDIS_URL (default redis://127.0.0.1:6379/0).
# If none answers and the URL points at this machine, start a throwaway redis-server
# (no persistence, pid in .redis/redis.pid; `make clean` stops it) on that port. When redis-server
# is missing and we are root on Debian/Ubuntu, it says so and installs the redis-server package
# with apt-get first; REDIS_NO_INSTALL=1 refuses that (exit 1 with what to do instead).
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
  missing="redis: nothing answers on $REDIS_URL and redis-server is not installed"
  if [ "${REDIS_NO_INSTALL:-0}" != 1 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "$missing."
    echo "redis: installing the Debian package redis-server now (apt-get install -y redis-server, apt-get update"
    echo "redis: first if needed). To avoid that, set REDIS_URL to a Redis that answers, or REDIS_NO_INSTALL=1."
    if ! { apt-get install -y -q redis-server >/dev/null 2>&1 \
           || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q redis-server >/dev/null 2>&1; }; }; then
      echo "redis: apt-get install redis-server failed; install Redis yourself or set REDIS_URL to one that answers" >&2
      exit 1
    fi
    echo "redis: installed $(redis-server --version | head -1)"
  else
    echo "$missing: install it (apt-get install redis-server) or set REDIS_URL to a Redis that answers" >&2
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
