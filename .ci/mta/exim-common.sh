# shellcheck shell=bash
# Shared by exim-start and exim-stop (sourced, not executed).
# Sets STATE_DIR (absolute) and the paths of the Exim instance living inside it, and knows how
# to find, check and stop that instance's daemon.

# log, die, PATH with sbin, and resolve_state_dir's validation of the STATE_DIR argument.
# shellcheck source=common.sh
source "$HERE/common.sh"

# Exim is not installed with apt (Debian's MTAs conflict, and Postfix is): exim-start unpacks
# Debian's exim4-daemon-light (and any library it needs that is not installed) here, once.
EXIM_CACHE_DIR="${EXIM_CACHE_DIR:-/var/cache/smtpshell-ci/exim4}"
EXIM_ROOT="$EXIM_CACHE_DIR/root"         # dpkg-deb -x of every .deb in $EXIM_CACHE_DIR/debs
EXIM_BIN="$EXIM_ROOT/usr/sbin/exim4"
# Debian's binary is built with EXIM_USER=ref:Debian-exim: it looks that user up by name before
# it reads any configuration, so the user must exist (exim-start creates it as the package would).
# shellcheck disable=SC2034  # used by exim-start
EXIM_USER="Debian-exim"

# resolve_exim_state_dir ARG: validate the state directory argument and derive every path from it.
# shellcheck disable=SC2034  # the paths are used by the scripts that source this file
resolve_exim_state_dir() {
    resolve_state_dir "$1"               # also derives Postfix's paths; unused here
    EXIM_CONF="$STATE_DIR/exim.conf"     # the whole configuration (exim -C)
    SPOOL_DIR="$STATE_DIR/exim-spool"    # spool_directory: input/, msglog/, db/
    LOG_DIR="$STATE_DIR/exim-log"        # log_file_path: mainlog, rejectlog, paniclog
    MAINLOG="$LOG_DIR/mainlog"
    PID_FILE="$STATE_DIR/exim.pid"       # pid_file_path (the daemon)
    MAIL_DIR="$STATE_DIR/mail"           # DOMAIN/LOCALPART/{new,cur,tmp}
    TLS_DIR="$STATE_DIR/tls"             # ca.pem, server.pem, server.key
    ENV_FILE="$STATE_DIR/exim.env"
}

# exim_library_path: the directories of the unpacked shared libraries, for LD_LIBRARY_PATH.
exim_library_path() {
    find "$EXIM_ROOT" -name '*.so*' -printf '%h\n' 2>/dev/null | sort -u | paste -sd: -
}

# run_exim ARGS...: the unpacked exim, finding the libraries that were unpacked with it.
run_exim() {
    LD_LIBRARY_PATH="$(exim_library_path)" "$EXIM_BIN" "$@"
}

# daemon_pid: print the pid of this instance's daemon, if it runs. A pid from the file counts
# only if that process is an exim started with this STATE_DIR's configuration (pids get reused).
daemon_pid() {
    local pid
    [[ -s "$PID_FILE" ]] || return 1
    pid="$(tr -d '[:space:]' <"$PID_FILE")"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    tr '\0' '\n' 2>/dev/null <"/proc/$pid/cmdline" | grep -qxF -- "$EXIM_CONF" || return 1
    printf '%s\n' "$pid"
}

# process_alive PID: true while PID is a live process (a zombie, dead but not yet reaped, is not).
process_alive() {
    local stat
    stat="$(ps -o stat= -p "$1" 2>/dev/null)" && [[ -n "$stat" && "$stat" != Z* ]]
}

# group_alive PGID: true while a live process is left in process group PGID.
group_alive() {
    ps -e -o pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/ { found = 1 } END { exit !found }'
}

# stop_instance: stop this instance's daemon and everything it started (idempotent).
stop_instance() {
    local pid target deadline
    if ! pid="$(daemon_pid)"; then
        rm -f "$PID_FILE"
        return 0
    fi
    log "stopping exim daemon $pid ($EXIM_CONF)"
    # The daemon calls setsid(), so it leads a process group that also holds the processes it
    # forked (one per SMTP connection, and their deliveries): signal the whole group.
    target="$pid"
    if [[ "$(ps -o pgid= -p "$pid" | tr -d ' ')" == "$pid" ]]; then
        target="-$pid"
    fi
    kill -TERM -- "$target" 2>/dev/null || true
    deadline=$((SECONDS + 10))
    while process_alive "$pid" || { [[ "$target" == -* ]] && group_alive "$pid"; }; do
        if ((SECONDS >= deadline)); then
            log "exim daemon $pid did not stop within 10s of SIGTERM; killing it"
            kill -KILL -- "$target" 2>/dev/null || true
            break
        fi
        sleep 0.05
    done
    rm -f "$PID_FILE"
}
