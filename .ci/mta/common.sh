# shellcheck shell=bash
# Shared by postfix-start and postfix-stop (sourced, not executed).
# Sets STATE_DIR (absolute) and the paths of the instance living inside it.

# Postfix and its tools live in sbin; root's PATH may lack it under some runners.
export PATH="/usr/sbin:/sbin:${PATH}"
# A MAIL_CONFIG from the caller would silently redirect every postfix command.
unset MAIL_CONFIG

log() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# resolve_state_dir ARG: validate the state directory argument and derive every path from it.
# shellcheck disable=SC2034  # the paths are used by the scripts that source this file
resolve_state_dir() {
    [[ -n "${1:-}" ]] || die "usage: ${0##*/} STATE_DIR"
    STATE_DIR="$(realpath -m -- "$1")"
    # Postfix splits list-valued settings on spaces and commas, so keep the path plain.
    [[ "$STATE_DIR" =~ ^/[A-Za-z0-9_./+-]+$ ]] \
        || die "STATE_DIR must be a path of [A-Za-z0-9_./+-] characters, got: $1"
    [[ "$STATE_DIR" != "/" ]] || die "refusing to use / as STATE_DIR"

    CONF_DIR="$STATE_DIR/postfix-conf"   # main.cf, master.cf, maps
    QUEUE_DIR="$STATE_DIR/postfix-queue" # queue_directory (pid/, private/, public/, ...)
    DATA_DIR="$STATE_DIR/postfix-data"   # data_directory (TLS session cache, ...)
    MAIL_DIR="$STATE_DIR/mail"           # virtual_mailbox_base: DOMAIN/LOCALPART/{new,cur,tmp}
    # smtpd.conf + sasldb2. Debian's Postfix looks for Cyrus' smtpd.conf only in
    # $config_directory/sasl (then /usr/lib/sasl) and ignores cyrus_sasl_config_path, so it
    # has to live inside CONF_DIR; cyrus_sasl_config_path is still set for other builds.
    SASL_DIR="$CONF_DIR/sasl"
    TLS_DIR="$STATE_DIR/tls"             # ca.pem, server.pem, server.key
    MAILLOG="$STATE_DIR/maillog"         # maillog_file (written by postlogd)
    ENV_FILE="$STATE_DIR/postfix.env"
}

# instance_running: true when the master of this instance is alive.
instance_running() {
    [[ -f "$CONF_DIR/main.cf" ]] && command -v postfix >/dev/null \
        && postfix -c "$CONF_DIR" status >/dev/null 2>&1
}

# stop_instance: stop this instance if it runs (idempotent); abort it if stop fails.
stop_instance() {
    if instance_running; then
        log "stopping postfix instance in $CONF_DIR"
        postfix -c "$CONF_DIR" stop || postfix -c "$CONF_DIR" abort || true
    fi
    # "postfix stop" waits for the master; make sure nothing of it is left behind.
    if instance_running; then
        die "postfix instance in $CONF_DIR is still running after stop"
    fi
}
