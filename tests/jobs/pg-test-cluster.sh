#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests, on 127.0.0.1 and a free port, in a directory the
# caller owns. Works as root (the server runs as the 'postgres' user, or 'nobody') or as any
# other user. fsync is off: the cluster is scratch data.
#
#   pg-test-cluster.sh start DIR     initdb in DIR/data, start, print the URL on stdout
#   pg-test-cluster.sh restart DIR   fast restart on the same port (connections are cut)
#   pg-test-cluster.sh stop DIR      immediate stop, then remove DIR
#   pg-test-cluster.sh down DIR      fast stop, keeping the data (the server is unreachable)
#   pg-test-cluster.sh up DIR        start a stopped cluster again on its port
#   pg-test-cluster.sh url DIR       print the URL again
#
# PG_BINDIR overrides where initdb and pg_ctl are found (default: the newest
# /usr/lib/postgresql/*/bin, then PATH).
set -euo pipefail

cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|restart|down|up|stop|url DIR" >&2; exit 2; }

bindir=${PG_BINDIR:-}
if [ -z "$bindir" ]; then
  bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  [ -n "$bindir" ] || bindir=$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/initdb)")
fi
if [ ! -x "$bindir/initdb" ] || [ ! -x "$bindir/pg_ctl" ]; then
  echo "pg-test-cluster: no PostgreSQL server binaries (initdb, pg_ctl) in '$bindir';" \
       "install Debian 'postgresql' (scripts/setup.sh --dev)" >&2
  exit 3
fi

# As root the server must run as another user.
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u "$owner" -- "$@"; else "$@"; fi
}
owner=$(id -un)
if [ "$(id -u)" = 0 ]; then
  if id postgres >/dev/null 2>&1; then owner=postgres; else owner=nobody; fi
fi

marker="$dir/.itx-pg-test-cluster"
url() { echo "postgres://itx@127.0.0.1:$(cat "$dir/port")/postgres"; }

case "$cmd" in
start)
  mkdir -p "$dir"
  touch "$marker"
  if [ "$(id -u)" = 0 ]; then
    chown "$owner" "$dir"
    runuser -u "$owner" -- test -w "$dir" || {
      echo "pg-test-cluster: user '$owner' cannot reach '$dir'; make its parent directories" \
           "searchable (chmod o+x)" >&2; exit 1; }
  fi
  as_owner "$bindir/initdb" -D "$dir/data" -U itx -A trust -E UTF8 --locale=C --no-sync \
    >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
  for try in 1 2 3 4 5 6 7 8 9 10; do
    port=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
    if as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 start \
        -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories='$dir' \
            -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
            -c max_connections=60" >/dev/null 2>&1; then
      echo "$port" > "$dir/port"
      url
      exit 0
    fi
  done
  echo "pg-test-cluster: could not start a server in '$dir' (see $dir/server.log):" >&2
  tail -n 5 "$dir/server.log" >&2 || true
  exit 1 ;;
restart)
  as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 -m fast restart \
    >/dev/null ;;
down)
  as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null ;;
up)
  as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 start \
    -o "-c listen_addresses=127.0.0.1 -p $(cat "$dir/port") -c unix_socket_directories='$dir' \
        -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
        -c max_connections=60" >/dev/null ;;
stop)
  [ -f "$marker" ] || { echo "pg-test-cluster: '$dir' is not a test cluster" >&2; exit 2; }
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir" ;;
url) url ;;
*) echo "usage: $0 start|restart|down|up|stop|url DIR" >&2; exit 2 ;;
esac
