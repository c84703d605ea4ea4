# lib.sh -- what the benchmark scripts share: stopping what they started by pid, free ports, polling with a deadline.
# Sourced (`. "$ROOT/bench/lib.sh"`), not run. A script appends each server it starts to PIDS and
# sets WORK to its scratch directory; stop_all (trapped on EXIT) stops the one and removes the
# other.

PIDS=()
WORK=${WORK:-}

stop_pid() { # stop_pid PID: SIGTERM, wait up to 10 s, then SIGKILL
    local i
    kill -TERM "$1" 2>/dev/null
    for ((i = 0; i < 100; i++)); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL "$1" 2>/dev/null
}

# Every server in PIDS stopped (SIGTERM to all first, so they stop side by side), WORK removed.
stop_all() {
    local pid i
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for pid in "${PIDS[@]}"; do
        for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null
    done
    [ -n "$WORK" ] && rm -rf "$WORK"
}

free_port() { # a port nothing listens on now (redis-server and memcached cannot take port 0)
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_for() { # wait_for SECONDS COMMAND...: poll until the command succeeds
    local deadline=$((SECONDS + $1)); shift
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.05
    done
}
