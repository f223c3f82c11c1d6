#!/usr/bin/env bash
# run.sh: `make run`. Starts (or reuses) a private PostgreSQL 15 in var/pg and nats-server with
# JetStream in var/nats (logs in var/log, generated passwords in var/secrets.env), creates the
# roles, runs `build/reciprocal migrate up` and `build/reciprocal seed`, then runs
# `build/reciprocal serve` in the foreground. Ctrl-C / SIGTERM stops the service, then PostgreSQL
# and nats. Ports: RECIPROCAL_PG_PORT (55432), RECIPROCAL_NATS_PORT (54222),
# RECIPROCAL_HTTP_PORT (8080), RECIPROCAL_SMTP_PORT (2525: a local aiosmtpd whose Maildir handler
# writes every mail the notification service sends into var/mail, unless RECIPROCAL_SMTP_URL is
# set). Other RECIPROCAL_* variables set by the caller pass through.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
# shellcheck disable=SC2034 # read by scripts/pg.sh
RCP_LOG_TAG=run.sh
# shellcheck source=pg.sh
source "$ROOT/scripts/pg.sh"

PG_PORT=${RECIPROCAL_PG_PORT:-55432}
NATS_PORT=${RECIPROCAL_NATS_PORT:-54222}
HTTP_PORT=${RECIPROCAL_HTTP_PORT:-8080}
SMTP_PORT=${RECIPROCAL_SMTP_PORT:-2525}
BIN=${RECIPROCAL_BIN:-$ROOT/build/reciprocal}
RCP_BIN=$BIN # scripts/pg.sh: the NATS users and permissions come from the binary
VAR=$ROOT/var
PG_DATA=$VAR/pg/data
NATS_PIDFILE=$VAR/nats/nats.pid

say() { printf '[run.sh] %s\n' "$*" >&2; }
die() {
    say "error: $*"
    exit 1
}

for v in PG_PORT NATS_PORT HTTP_PORT SMTP_PORT; do
    [[ ${!v} =~ ^[0-9]+$ ]] && ((${!v} > 0 && ${!v} < 65536)) || die "bad port $v=${!v}"
done
[[ -x $BIN ]] || die "$BIN not found: run \`make\` first"

srv=
smtp=
pg_started=0
nats_started=0
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -n $srv ]] && kill -0 "$srv" 2>/dev/null; then
        kill -TERM "$srv" 2>/dev/null || true
        wait "$srv" 2>/dev/null || true
    fi
    if [[ -n $smtp ]] && kill -0 "$smtp" 2>/dev/null; then
        say "stopping the SMTP server"
        kill -TERM "$smtp" 2>/dev/null || true
        wait "$smtp" 2>/dev/null || true
    fi
    if ((pg_started)); then
        say "stopping PostgreSQL"
        rcp_pg_stop "$PG_DATA" || say "warning: PostgreSQL did not stop"
    fi
    if ((nats_started)); then
        say "stopping nats-server"
        rcp_nats_stop "$NATS_PIDFILE"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$VAR/log" "$VAR/nats"
chmod 755 "$VAR"

if rcp_port_open "$PG_PORT" && ! rcp_pg_ctl status "$PG_DATA" "$PG_PORT" "" >/dev/null 2>&1; then
    die "port $PG_PORT is in use: set RECIPROCAL_PG_PORT"
fi
say "starting PostgreSQL on 127.0.0.1:$PG_PORT (data $PG_DATA)"
pg_started=1
rcp_pg_start "$PG_DATA" "$PG_PORT" "$VAR/log/postgresql.log" "$VAR/secrets.env" ||
    die "PostgreSQL did not start (log: $VAR/log/postgresql.log)"
rcp_pg_roles "$PG_PORT" "$VAR/secrets.env" || die "creating roles failed"
# ---- auth service (issue 3; block added by the auth helper): the key-encryption key (signing
# keys, TOTP secrets) and the demo accounts' password, generated once into var/secrets.env
for v in RECIPROCAL_AUTH_KEK RECIPROCAL_SEED_ADMIN_PASSWORD; do
    if ! grep -q "^$v=" "$VAR/secrets.env"; then
        if [[ $v == RECIPROCAL_AUTH_KEK ]]; then val=$(head -c 32 /dev/urandom | base64); else val=$(rcp_gen_password); fi
        (umask 077 && echo "$v=$val" >>"$VAR/secrets.env")
    fi
    [[ -n ${!v:-} ]] || export "$v=$(sed -n "s/^$v=//p" "$VAR/secrets.env")"
done
# ---- end auth block
# ---- member service (issue 6): the key-encryption key of the clubs' card-signing keys,
# generated once into var/secrets.env (docs/member.md)
if ! grep -q "^RECIPROCAL_CARD_KEK=" "$VAR/secrets.env"; then
    (umask 077 && echo "RECIPROCAL_CARD_KEK=$(head -c 32 /dev/urandom | base64)" >>"$VAR/secrets.env")
fi
[[ -n ${RECIPROCAL_CARD_KEK:-} ]] || export "RECIPROCAL_CARD_KEK=$(sed -n 's/^RECIPROCAL_CARD_KEK=//p' "$VAR/secrets.env")"
# ---- end member block
# ---- ledger (issue 5): the ledger's key-encryption key, generated once into var/secrets.env
if ! grep -q "^RECIPROCAL_LEDGER_KEK=" "$VAR/secrets.env"; then
    (umask 077 && echo "RECIPROCAL_LEDGER_KEK=$(head -c 32 /dev/urandom | base64)" >>"$VAR/secrets.env")
fi
[[ -n ${RECIPROCAL_LEDGER_KEK:-} ]] || export "RECIPROCAL_LEDGER_KEK=$(sed -n "s/^RECIPROCAL_LEDGER_KEK=//p" "$VAR/secrets.env")"
# ---- end ledger block
# ---- reciprocal service (issue 11): the key-encryption key of the home clubs' LOI-signing keys
if ! grep -q "^RECIPROCAL_LOI_KEK=" "$VAR/secrets.env"; then
    (umask 077 && echo "RECIPROCAL_LOI_KEK=$(head -c 32 /dev/urandom | base64)" >>"$VAR/secrets.env")
fi
[[ -n ${RECIPROCAL_LOI_KEK:-} ]] || export "RECIPROCAL_LOI_KEK=$(sed -n "s/^RECIPROCAL_LOI_KEK=//p" "$VAR/secrets.env")"
# ---- end reciprocal block
# rcp_pg_start sources var/secrets.env (shell variables, not exported): export the service's
# secrets whichever way they were set (environment, file, or generated above).
export RECIPROCAL_AUTH_KEK RECIPROCAL_SEED_ADMIN_PASSWORD RECIPROCAL_CARD_KEK RECIPROCAL_LEDGER_KEK
export RECIPROCAL_LOI_KEK
# ---- notification (issue 13): the key-encryption key of the webhook signing secrets, generated
# once into var/secrets.env (docs/notification.md "Sealed webhook secrets")
if ! grep -q "^RECIPROCAL_WEBHOOK_KEK=" "$VAR/secrets.env"; then
    (umask 077 && echo "RECIPROCAL_WEBHOOK_KEK=$(head -c 32 /dev/urandom | base64)" >>"$VAR/secrets.env")
fi
[[ -n ${RECIPROCAL_WEBHOOK_KEK:-} ]] || RECIPROCAL_WEBHOOK_KEK=$(sed -n "s/^RECIPROCAL_WEBHOOK_KEK=//p" "$VAR/secrets.env")
export RECIPROCAL_WEBHOOK_KEK
# ---- end notification block
# ---- NATS bus (issue 9, docs/security.md N1/N2): the key that signs the caller of every NATS
# call, and one NATS user per service set with its subject permissions (passwords generated
# once into var/secrets.env as RECIPROCAL_NATS_PASSWORD_<USER>; this process runs as `all`)
if ! grep -q "^RECIPROCAL_BUS_KEY=" "$VAR/secrets.env"; then
    (umask 077 && echo "RECIPROCAL_BUS_KEY=$(head -c 32 /dev/urandom | base64)" >>"$VAR/secrets.env")
fi
[[ -n ${RECIPROCAL_BUS_KEY:-} ]] || export "RECIPROCAL_BUS_KEY=$(sed -n "s/^RECIPROCAL_BUS_KEY=//p" "$VAR/secrets.env")"
export RECIPROCAL_BUS_KEY
services=$(rcp_nats_services) || die "$BIN services failed"
# shellcheck disable=SC2086 # one user per service
rcp_nats_conf "$VAR/nats/auth.conf" "$VAR/secrets.env" all $services ||
    die "writing the NATS authorization config failed"
export RECIPROCAL_NATS_USER=all
RECIPROCAL_NATS_PASSWORD=$(rcp_nats_password "$VAR/secrets.env" all)
export RECIPROCAL_NATS_PASSWORD
# ---- end NATS block

# A nats-server of ours left running by a hard-killed run (its pid in var/nats/nats.pid, checked
# to be a nats-server): stop it, so it does not hold the port; it is started afresh below, the
# way rcp_pg_start restarts a PostgreSQL found running on var/pg.
if [[ -s $NATS_PIDFILE ]]; then
    say "stopping the nats-server left running by a previous run (pid $(<"$NATS_PIDFILE"))"
    rcp_nats_stop "$NATS_PIDFILE"
fi
rcp_port_open "$NATS_PORT" && die "port $NATS_PORT is in use: set RECIPROCAL_NATS_PORT"
say "starting nats-server on 127.0.0.1:$NATS_PORT (JetStream store $VAR/nats)"
nats_started=1
rcp_nats_start "$VAR/nats" "$NATS_PORT" "$VAR/log/nats.log" "$NATS_PIDFILE" "$VAR/nats/auth.conf" ||
    die "nats-server did not start (log: $VAR/log/nats.log)"

rcp_port_open "$HTTP_PORT" && die "port $HTTP_PORT is in use: set RECIPROCAL_HTTP_PORT"

export RECIPROCAL_DATABASE_URL=$RCP_PG_APP_URL
export RECIPROCAL_NATS_URL="nats://127.0.0.1:$NATS_PORT"
export RECIPROCAL_LISTEN="127.0.0.1:$HTTP_PORT"
export RECIPROCAL_LOG_FORMAT=${RECIPROCAL_LOG_FORMAT:-text}

# A real local SMTP server for the notification service's mail: aiosmtpd (python3-aiosmtpd)
# writing a Maildir (scripts/smtp_sink.py), so every mail sent lands in var/mail/new (read it with
# `mutt -f var/mail` or any text viewer). Skipped when RECIPROCAL_SMTP_URL points elsewhere.
if [[ -z ${RECIPROCAL_SMTP_URL:-} ]]; then
    rcp_port_open "$SMTP_PORT" && die "port $SMTP_PORT is in use: set RECIPROCAL_SMTP_PORT"
    mkdir -p "$VAR/mail"
    say "starting aiosmtpd on 127.0.0.1:$SMTP_PORT (mail into $VAR/mail)"
    /usr/bin/python3 "$ROOT/scripts/smtp_sink.py" "$SMTP_PORT" "$VAR/mail" \
        >"$VAR/log/smtp.log" 2>&1 &
    smtp=$!
    export RECIPROCAL_SMTP_URL="smtp://127.0.0.1:$SMTP_PORT"
fi

# The URLs for psql and friends (passwords included), private to the user.
(
    umask 077
    {
        echo "# written by scripts/run.sh; source it to reach the local services"
        printf 'export RECIPROCAL_DATABASE_URL=%q\n' "$RCP_PG_APP_URL"
        printf 'export RECIPROCAL_MIGRATE_DATABASE_URL=%q\n' "$RCP_PG_OWNER_URL"
        printf 'export RECIPROCAL_SUPER_DATABASE_URL=%q\n' "$RCP_PG_SUPER_URL"
        printf 'export RECIPROCAL_NATS_URL=%q\n' "$RECIPROCAL_NATS_URL"
        printf 'export RECIPROCAL_NATS_USER=%q\n' "$RECIPROCAL_NATS_USER"
        printf 'export RECIPROCAL_NATS_PASSWORD=%q\n' "$RECIPROCAL_NATS_PASSWORD"
        printf 'export RECIPROCAL_LISTEN=%q\n' "$RECIPROCAL_LISTEN"
    } >"$VAR/run.env"
)

say "migrate up"
RECIPROCAL_MIGRATE_DATABASE_URL=$RCP_PG_OWNER_URL "$BIN" migrate up || die "migrate up failed"
say "seed"
RECIPROCAL_MIGRATE_DATABASE_URL=$RCP_PG_OWNER_URL "$BIN" seed || die "seed failed"
say "demo sign-in: admin@reciprocal.example (network admin), admin@<club-slug>.example (club admins), password $RECIPROCAL_SEED_ADMIN_PASSWORD (in var/secrets.env)"

cat >&2 <<EOF
[run.sh] ------------------------------------------------------------------
[run.sh] HTTP        http://127.0.0.1:$HTTP_PORT/  (health: /health/ready)
[run.sh] PostgreSQL  postgresql://reciprocal_app:***@127.0.0.1:$PG_PORT/reciprocal
[run.sh] NATS        nats://127.0.0.1:$NATS_PORT  (user all; users and permissions in var/nats/auth.conf)
[run.sh] SMTP        $RECIPROCAL_SMTP_URL  (make run's own: the mail sent is in var/mail/new)
[run.sh] env         source var/run.env   (URLs with passwords; logs in var/log)
[run.sh] Ctrl-C stops the service, PostgreSQL and nats-server.
[run.sh] ------------------------------------------------------------------
EOF

# Foreground service, but as our child so the traps can stop everything in order.
# First Ctrl-C/TERM: SIGTERM to the service (graceful); a second one: SIGKILL.
signals=0
first_signal=0
on_signal() {
    signals=$((signals + 1))
    if ((signals == 1)); then
        first_signal=$SECONDS
        say "stopping the service"
        kill -TERM "$srv" 2>/dev/null || true
    elif ((SECONDS - first_signal >= 2)); then
        # a second Ctrl-C a moment later: the user wants out now. (One Ctrl-C or a SIGTERM to
        # the process group can reach this script twice at once, via make: that is not it.)
        say "killing the service"
        kill -KILL "$srv" 2>/dev/null || true
    fi
}
trap on_signal INT TERM
"$BIN" serve &
srv=$!
# ---- reciprocal demo (issue 11): the ledger bootstrapped with the demo clubs as organisations
# and the demo agreement's activation recorded (scripts/demo_ledger.sh, needs the running ledger)
"$ROOT/scripts/demo_ledger.sh" "http://127.0.0.1:$HTTP_PORT" ||
    say "warning: the demo ledger bootstrap failed (the service runs without it)"
# ---- end reciprocal demo block
rc=0
while :; do
    rc=0
    wait "$srv" || rc=$?
    kill -0 "$srv" 2>/dev/null || break
done
srv=
((signals)) && rc=0
((rc == 0)) || say "the service exited with status $rc"
exit "$rc"
