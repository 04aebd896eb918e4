#!/bin/sh
# Make sure a Docker engine answers, for CI and `make`: idempotent, safe to run again.
#   - installs docker.io and debootstrap with apt-get when they are missing (needs root);
#   - starts dockerd in the background when no engine answers (log and pid file below);
#   - waits until `docker info` answers, or fails with the tail of the log.
# Environment: DOCKERD_LOG (default /var/log/dockerd.log), DOCKERD_PIDFILE
# (default /var/run/dockerd-harness.pid), DOCKER_WAIT seconds (default 60).
set -eu

DOCKERD_LOG=${DOCKERD_LOG:-/var/log/dockerd.log}
DOCKERD_PIDFILE=${DOCKERD_PIDFILE:-/var/run/dockerd-harness.pid}
DOCKER_WAIT=${DOCKER_WAIT:-60}

say() { echo "ensure-docker: $*" >&2; }
die() { say "error: $*"; exit 1; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo "$@"
    else die "need root to run: $* (run this script as root, or install sudo)"
    fi
}

engine_answers() { docker info >/dev/null 2>&1; }

missing=""
command -v dockerd >/dev/null 2>&1 || missing="$missing docker.io"
command -v debootstrap >/dev/null 2>&1 || missing="$missing debootstrap"
if [ -n "$missing" ]; then
    command -v apt-get >/dev/null 2>&1 || die "missing:$missing, and there is no apt-get here: install them with this system's package manager"
    say "installing$missing"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
fi

if engine_answers; then
    say "the Docker engine answers"
    exit 0
fi

if [ -f "$DOCKERD_PIDFILE" ] && kill -0 "$(cat "$DOCKERD_PIDFILE")" 2>/dev/null; then
    say "dockerd (pid $(cat "$DOCKERD_PIDFILE")) is already starting"
else
    say "starting dockerd in the background (log: $DOCKERD_LOG, pid file: $DOCKERD_PIDFILE)"
    as_root sh -c "nohup dockerd --pidfile '$DOCKERD_PIDFILE' >>'$DOCKERD_LOG' 2>&1 &"
fi

waited=0
until engine_answers; do
    if [ "$waited" -ge "$DOCKER_WAIT" ]; then
        say "last lines of $DOCKERD_LOG:"
        as_root tail -n 20 "$DOCKERD_LOG" >&2 || true
        die "no Docker engine answered within ${DOCKER_WAIT}s; read $DOCKERD_LOG (a container without privileges cannot run dockerd)"
    fi
    sleep 1
    waited=$((waited + 1))
done
say "the Docker engine answers (after ${waited}s)"
