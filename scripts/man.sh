#!/usr/bin/env bash
# Man pages for slipway, generated from its command definitions (swift-argument-parser's
# generate-manual plugin: one page per command, `slipway.1`, `slipway.deploy.1`, …).
#
#   scripts/man.sh [MANDIR]     build (release), generate, install into MANDIR/man1
#                               (default /usr/local/share/man); then `man slipway`,
#                               `man slipway.deploy`, …
#   scripts/man.sh --check      generate from the debug build into a temporary directory
#                               and check that every command has a page that man renders
#                               (run by scripts/test.sh)
#
# MAN_BUILD=debug|release chooses the build the pages are generated from.
set -euo pipefail
cd "$(dirname "$0")/.."

CHECK=0
if [ "${1:-}" = "--check" ]; then CHECK=1; shift; fi
MANDIR="${1:-/usr/local/share/man}"
BUILD="${MAN_BUILD:-$([ "$CHECK" = 1 ] && echo debug || echo release)}"

log() { printf '[man] %s\n' "$*" >&2; }

OUT=".build/plugins/GenerateManual/outputs/slipway"
rm -rf "$OUT"
log "generating the pages from the $BUILD build (swift package plugin generate-manual)"
swift package --disable-sandbox plugin generate-manual --configuration "$BUILD" --multi-page \
    --authors "Slipway contributors" > /tmp/slipway-man.$$.log 2>&1 || { cat /tmp/slipway-man.$$.log >&2; rm -f /tmp/slipway-man.$$.log; exit 1; }
rm -f /tmp/slipway-man.$$.log
[ -f "$OUT/slipway.1" ] || { log "the plugin wrote no $OUT/slipway.1"; exit 1; }

if [ "$CHECK" = 1 ]; then
    if ! command -v man > /dev/null || ! command -v col > /dev/null; then
        log "installing man-db"; apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq man-db bsdextrautils > /dev/null
    fi
    BIN=".build/$BUILD/slipway"
    # Every command and subcommand the binary knows, from its own help.
    commands() {
        local prefix="$1"
        "$BIN" ${prefix:+$prefix} --help 2>/dev/null | awk '/^SUBCOMMANDS:/{s=1; next} s && /^[^ ]/{s=0} s && /^  [a-z]/{print $1}' | grep -v '^help$' || true
    }
    missing=0; count=0
    check_page() {
        local page="$OUT/$1.1"
        if [ ! -s "$page" ]; then log "no page $1.1"; missing=$((missing + 1)); return; fi
        local text; text="$(MANWIDTH=100 man -l "$page" 2>/dev/null | col -b)"
        grep -qF "$2" <<< "$text" || { log "$1.1 does not render its name line: $2"; missing=$((missing + 1)); }
        count=$((count + 1))
    }
    check_page slipway "slipway — Zero-downtime deploys"
    for cmd in $(commands ""); do
        # NAME reads "slipway CMD — Abstract…": the command and the abstract's first word.
        first="$("$BIN" "$cmd" --help 2>/dev/null | sed -n 's/^OVERVIEW: //p' | head -1 | sed 's/[^A-Za-z].*//')"
        check_page "slipway.$cmd" "slipway $cmd — ${first}"
        for sub in $(commands "$cmd"); do
            first="$("$BIN" "$cmd" "$sub" --help 2>/dev/null | sed -n 's/^OVERVIEW: //p' | head -1 | sed 's/[^A-Za-z].*//')"
            check_page "slipway.$cmd.$sub" "slipway $cmd $sub — ${first}"
        done
    done
    [ "$missing" = 0 ] || { log "$missing page(s) missing or unreadable"; exit 1; }
    log "ok: $count pages, one per command, each renders"
    exit 0
fi

install -d "$MANDIR/man1"
install -m 0644 "$OUT"/*.1 "$MANDIR/man1/"
command -v mandb > /dev/null && mandb -q "$MANDIR" 2>/dev/null || true
log "installed $(ls "$OUT"/*.1 | wc -l) pages into $MANDIR/man1: man slipway, man slipway.deploy, …"
