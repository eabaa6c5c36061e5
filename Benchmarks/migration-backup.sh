#!/usr/bin/env bash
# Migration with a database backup on a blue-green deploy: the overhead `backup:` adds.
# A real PostgreSQL 15 on loopback holds a pgbench database (PG_SCALE × 100,000 accounts);
# every deploy runs a pre_deploy migration (psql adds a column). In ONE run, alternating,
# RUNS deploys without `backup:` and RUNS with `backup: { postgres: … }`, wall time of
# `slipway deploy --wait`; the peer is pg_dump -Fc of the same database by hand (what the
# backup step costs at least). Reports medians, the overhead and its ratio to pg_dump.
source "$(dirname "$0")/lib.sh"

RUNS="${MIGRATION_RUNS:-5}"
SCALE="${PG_SCALE:-5}"
CMD="Benchmarks/run.sh migration-backup"
PGBIN=/usr/lib/postgresql/15/bin

need_pkg "$PGBIN/pg_ctl" postgresql-15; need_pkg pg_dump postgresql-client-15; need_pkg /usr/bin/time time; need_pkg curl curl
build_release
make_tmp

# PostgreSQL refuses to run as root: as root, its tools run as the package's postgres user.
PG_DIR="$(mktemp -d /tmp/slipway-bench-pg-XXXXXX)"
as_pg() { if [ "$(id -u)" = 0 ]; then setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres:postgres "$PG_DIR"
stop_pg() { as_pg "$PGBIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1; rm -rf "$PG_DIR"; }
trap 'stop_pg; cleanup' EXIT INT TERM
SUPER_PW="bench-$RANDOM$RANDOM"; APP_PW="app-$RANDOM$RANDOM"
echo "$SUPER_PW" > "$PG_DIR/pw"; [ "$(id -u)" = 0 ] && chown postgres "$PG_DIR/pw"
as_pg "$PGBIN/initdb" -D "$PG_DIR/data" -U postgres --auth=scram-sha-256 --pwfile="$PG_DIR/pw" -E UTF8 --no-locale >/dev/null || die "initdb failed"
PG_PORT="$(free_port)"
printf "listen_addresses = '127.0.0.1'\nport = %s\nunix_socket_directories = ''\n" "$PG_PORT" >> "$PG_DIR/data/postgresql.conf"
as_pg "$PGBIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 start >/dev/null || die "PostgreSQL did not start: $(tail -5 "$PG_DIR/server.log")"
psql_super() { PGPASSWORD="$SUPER_PW" "$PGBIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -X -q -v ON_ERROR_STOP=1 "$@"; }
psql_super -c "CREATE ROLE app LOGIN PASSWORD '$APP_PW'" -c "CREATE DATABASE shop OWNER app" || die "cannot create the database"
log "filling shop with pgbench -i -s $SCALE"
PGPASSWORD="$APP_PW" "$PGBIN/pgbench" -h 127.0.0.1 -p "$PG_PORT" -U app -i -s "$SCALE" -q shop > "$BENCH_TMP/pgbench.out" 2>&1 || die "pgbench -i failed: $(tail -3 "$BENCH_TMP/pgbench.out")"
DB_SIZE="$(psql_super -d shop -A -t -c "SELECT pg_size_pretty(pg_database_size('shop'))")"
ROWS="$(psql_super -d shop -A -t -c "SELECT COUNT(*) FROM pgbench_accounts")"

cat > "$BENCH_TMP/migrate.sh" <<SCRIPT
#!/bin/sh
set -e
PGPASSWORD="\$DB_PASSWORD" $PGBIN/psql -h 127.0.0.1 -p $PG_PORT -U app -d shop -X -q -v ON_ERROR_STOP=1 \\
  -c "ALTER TABLE pgbench_accounts ADD COLUMN IF NOT EXISTS note_\$(echo \$SLIPWAY_VERSION | tr -c 'a-z0-9\n' '_') text"
SCRIPT
chmod 755 "$BENCH_TMP/migrate.sh"

LISTEN="$(free_port)"
write_config "$BENCH_TMP/base.yml" "$LISTEN" 2 200ms 1
cp "$BENCH_TMP/base.yml" "$BENCH_TMP/plain.yml"
cat >> "$BENCH_TMP/plain.yml" <<EOF2
hooks:
  pre_deploy: { run: ["$BENCH_TMP/migrate.sh"], timeout: 5m }
EOF2
cp "$BENCH_TMP/plain.yml" "$BENCH_TMP/backup.yml"
cat >> "$BENCH_TMP/backup.yml" <<EOF2
backup:
  postgres: "postgres://app:\${DB_PASSWORD}@127.0.0.1:$PG_PORT/shop"
  dir: $BENCH_TMP/db-backups
  keep: 2
  timeout: 10m
EOF2
# v1 first, without hooks (the migration needs the secret set below).
start_server "$BENCH_TMP/base.yml"
wait_version "$LISTEN" v1 60
printf '%s' "$APP_PW" | "$SLIPWAY" secrets set hello DB_PASSWORD > /dev/null || die "secrets set failed"

for i in $(seq 1 "$RUNS"); do
    "$SLIPWAY" apply --yes -f "$BENCH_TMP/plain.yml" > /dev/null || die "apply failed"
    timed plain "$SLIPWAY" deploy hello --version "p$i" --wait
    "$SLIPWAY" apply --yes -f "$BENCH_TMP/backup.yml" > /dev/null || die "apply failed"
    timed backup "$SLIPWAY" deploy hello --version "b$i" --wait
    timed pg_dump env PGPASSWORD="$APP_PW" pg_dump --format=custom --file="$BENCH_TMP/peer-$i.dump" \
        --dbname="postgres://app@127.0.0.1:$PG_PORT/shop"
done
"$SLIPWAY" backups list hello -o json > "$BENCH_TMP/backups.json" || die "backups list failed"
read -r TAKEN BYTES < <(python3 -c "
import json,sys
b=[x for x in json.load(open('$BENCH_TMP/backups.json')) if x['reason']=='pre_deploy']
print(len(b), b[0]['bytes'])")
[ "$TAKEN" = "$RUNS" ] || die "expected $RUNS deploy backups, found $TAKEN"
COLUMNS_ADDED="$(psql_super -d shop -A -t -c "SELECT COUNT(*) FROM information_schema.columns WHERE table_name = 'pgbench_accounts' AND column_name LIKE 'note_%'")"
[ "$COLUMNS_ADDED" = "$((2 * RUNS))" ] || die "expected $((2 * RUNS)) migrations, found $COLUMNS_ADDED"

P="$(median plain)"; B="$(median backup)"; D="$(median pg_dump)"
calc() { python3 -c "print(f'{$1:.2f}')"; }
section="$BENCH_TMP/section.md"
{
    bench_header "Migration with a database backup (blue-green deploy)" "$CMD"
    echo "Database: PostgreSQL 15 on loopback, pgbench scale $SCALE ($ROWS accounts, $DB_SIZE; backup file $(python3 -c "print(f'{$BYTES/1048576:.1f} MB')")). Every deploy runs a pre_deploy migration (psql adds a column) and waits until it succeeded (1 replica, health every 200 ms). Median of $RUNS each, alternating, in one run."
    echo
    echo "| measure | result |"
    echo "| --- | --- |"
    echo "| deploy --wait without \`backup:\` | ${P} s |"
    echo "| deploy --wait with \`backup: { postgres }\` | ${B} s |"
    echo "| overhead of the backup step | $(calc "$B - $P") s (×$(calc "$B / $P") the deploy) |"
    echo "| peer: \`pg_dump -Fc\` of the same database by hand | ${D} s |"
    echo "| overhead / pg_dump alone | $(calc "($B - $P) / $D") |"
} > "$section"
write_section "Migration with a database backup (blue-green deploy)" "$section"
cat "$section"
