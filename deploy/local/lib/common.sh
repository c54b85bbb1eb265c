# shellcheck shell=bash
# Helpers shared by infra.sh and the component files: logging, installing
# packages, and the lifecycle of one detached server process ("instance").
# Sourced only; the caller has set -euo pipefail and sourced env.sh.

log() { printf '[infra] %s\n' "$*" >&2; }
warn() { printf '[infra] WARNING: %s\n' "$*" >&2; }
die() {
  printf '[infra] ERROR: %s\n' "$*" >&2
  exit 1
}

LAUNCH_MARK='==== launched by infra.sh'

# Prints the last lines of each log file written since the latest launch (see
# mark_logs), so a failure explains itself without older runs' noise.
tail_logs() {
  local f
  for f in "$@"; do
    [[ -s $f ]] || continue
    printf '[infra] ---- last lines of %s ----\n' "$f" >&2
    awk -v mark="$LAUNCH_MARK" '
      index($0, mark) == 1 { n = 0 }
      { line[n++] = $0 }
      END { for (i = (n > 40 ? n - 40 : 0); i < n; i++) print line[i] }' "$f" >&2
  done
}

# mark_logs NAME FILE...: appends a launch line to each log file; the servers
# append to them, so tail_logs can start at this run.
mark_logs() {
  local name=$1 f
  shift
  for f in "$@"; do
    printf '%s: %s at %s\n' "$LAUNCH_MARK" "$name" "$(date -u +%FT%TZ)" >>"$f"
  done
}

# Data, logs and keys are the platform's alone (DESIGN §18): what the servers and services write
# is created owner-only (umask, set in env.sh), and the data dir closes whatever an older run
# left readable to others.
ensure_dirs() {
  mkdir -p "$AISPM_DATA_DIR" "$AISPM_LOG_DIR" "$AISPM_RUN_DIR" "$AISPM_CACHE_DIR"
  chmod 700 "$AISPM_DATA_DIR"
}

# --- Installing ------------------------------------------------------------

# System packages install with the usual umask, not the owner-only one the platform's files get.
as_root() {
  if [[ $EUID -eq 0 ]]; then
    (umask 022 && "$@")
  elif command -v sudo >/dev/null 2>&1; then
    (umask 022 && sudo "$@")
  else
    die "root is needed to run: $*"
  fi
}

_APT_UPDATED=0
# Installs Debian packages. The package lists are refreshed once per run first:
# on a fresh machine they may be missing or stale.
apt_install() {
  local out="$AISPM_LOG_DIR/install-apt.log"
  if ((!_APT_UPDATED)); then
    log "apt-get update"
    as_root apt-get update >>"$out" 2>&1 || { tail_logs "$out"; die "apt-get update failed"; }
    _APT_UPDATED=1
  fi
  log "apt-get install $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" \
    >>"$out" 2>&1 || { tail_logs "$out"; die "apt-get install $* failed"; }
}

# Like apt_install, for packages whose postinst starts a system service
# through invoke-rc.d (clickhouse-server does): that service would take the
# ports our own server needs. A policy-rc.d answering 101 forbids the start;
# containers ship one, elsewhere a temporary one is used and removed.
apt_install_no_service_start() {
  local policy=/usr/sbin/policy-rc.d rc=0
  if [[ -e $policy ]]; then
    apt_install "$@"
    return
  fi
  printf '#!/bin/sh\n# Temporary, from deploy/local/infra.sh: no service starts during its install.\nexit 101\n' |
    as_root tee "$policy" >/dev/null
  as_root chmod 755 "$policy"
  (apt_install "$@") || rc=$?
  as_root rm -f "$policy"
  ((rc == 0)) || exit "$rc"
}

# require_cmd COMMAND PACKAGE: installs PACKAGE when COMMAND is missing.
require_cmd() {
  command -v "$1" >/dev/null 2>&1 && return 0
  apt_install "$2"
  command -v "$1" >/dev/null 2>&1 || die "$1 is still missing after installing $2"
}

# Maven's default dependency plugin here is 2.8; pin one that knows
# copy-dependencies -DincludeScope and runs on Maven 3.8.
MVN_DEPENDENCY_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.8.1"

# mvn_run LOGFILE ARGS...: runs Maven in batch mode, output kept in LOGFILE.
mvn_run() {
  local out=$1
  shift
  require_cmd mvn maven
  mvn -B -q "$@" >>"$out" 2>&1
}

# mvn_dependency LOGFILE GOAL ARGS...: a goal of the pinned dependency plugin.
mvn_dependency() {
  local out=$1 goal=$2
  shift 2
  mvn_run "$out" "$MVN_DEPENDENCY_PLUGIN:$goal" "$@"
}

# Major version of a java executable, from its release file (no JVM start).
java_major() {
  local java=$1 home release version
  java=$(command -v "$java") || return 1
  home=$(dirname "$(dirname "$(readlink -f "$java")")")
  release="$home/release"
  [[ -f $release ]] || return 1
  version=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$release")
  [[ -n $version ]] && printf '%s\n' "$version"
}

# --- Processes ---------------------------------------------------------------

pid_file() { printf '%s/%s.pid\n' "$AISPM_RUN_DIR" "$1"; }

# True when PID is a live process (a zombie left by our own restart is dead).
pid_alive() {
  local pid=$1 stat
  kill -0 "$pid" 2>/dev/null || return 1
  stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != Z ]]
}

# True when the command line of PID contains MARKER: a pid in a stale pid file
# may have been reused by an unrelated process, which we must never signal.
cmdline_has() {
  local pid=$1 marker=$2 cmd
  cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
  [[ $cmd == *"$marker"* ]]
}

# managed_pid NAME MARKER: prints the pid of our running instance NAME, or
# fails (and removes a stale pid file).
managed_pid() {
  local name=$1 marker=$2 file pid
  file=$(pid_file "$name")
  [[ -f $file ]] || return 1
  pid=$(<"$file")
  if [[ $pid =~ ^[0-9]+$ ]] && pid_alive "$pid" && cmdline_has "$pid" "$marker"; then
    printf '%s\n' "$pid"
    return 0
  fi
  rm -f "$file"
  return 1
}

# True when something accepts TCP connections on HOST:PORT.
port_open() {
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

# Describes the listener on PORT (process name and pid when ss can tell).
port_holder() {
  local line
  line=$(ss -Hltnp "sport = :$1" 2>/dev/null | awk 'NR == 1 { print $4, $NF }') || true
  printf '%s\n' "${line:-unknown process}"
}

# require_port_free COMPONENT PORT VARIABLE: fails when a port we are about to
# bind is held by something that is not ours.
require_port_free() {
  local component=$1 port=$2 variable=$3
  if port_open "$AISPM_HOST" "$port"; then
    die "$component: port $port ($variable) is already in use by a process that is not ours: $(port_holder "$port"). Stop it, or set $variable to a free port."
  fi
}

# launch_detached NAME WORKDIR OUTFILE COMMAND...: starts COMMAND in its own
# session, so a Ctrl-C or the end of the calling `npm run up` does not reach
# it. The child records its own pid before exec, so the pid file names the
# server itself. Standard streams go to OUTFILE and fd 9 (our lock) is closed,
# so the server holds neither the caller's pipes nor the lock.
launch_detached() {
  local name=$1 dir=$2 out=$3 file i
  shift 3
  file=$(pid_file "$name")
  rm -f "$file"
  # shellcheck disable=SC2016 # expanded by the child shell
  setsid bash -c 'echo "$$" >"$1" && cd "$2" && shift 2 && exec "$@"' aispm-launch "$file" "$dir" "$@" \
    </dev/null >>"$out" 2>&1 9>&- &
  for ((i = 0; i < 50; i++)); do
    [[ -s $file ]] && return 0
    sleep 0.1
  done
  die "$name: the launcher did not record a pid in $file"
}

# await_healthy NAME MARKER TIMEOUT CHECK LOGFILE...: waits until `CHECK NAME`
# succeeds, failing early when the process dies.
await_healthy() {
  local name=$1 marker=$2 timeout=$3 check=$4
  shift 4
  local deadline=$((SECONDS + timeout))
  while ((SECONDS < deadline)); do
    if ! managed_pid "$name" "$marker" >/dev/null; then
      printf '[infra] ERROR: %s exited during startup\n' "$name" >&2
      tail_logs "$@"
      return 1
    fi
    "$check" "$name" && return 0
    sleep 1
  done
  printf '[infra] ERROR: %s is not healthy after %ss; pid %s is left running (infra.sh stop ends it)\n' \
    "$name" "$timeout" "$(cat "$(pid_file "$name")" 2>/dev/null)" >&2
  tail_logs "$@"
  return 1
}

# stop_instance NAME MARKER: SIGTERM, wait, then SIGKILL. Idempotent.
stop_instance() {
  local name=$1 marker=$2 pid deadline
  if ! pid=$(managed_pid "$name" "$marker"); then
    log "$name: not running"
    return 0
  fi
  log "$name: stopping pid $pid"
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$((SECONDS + AISPM_STOP_TIMEOUT))
  while pid_alive "$pid" && ((SECONDS < deadline)); do
    sleep 0.5
  done
  if pid_alive "$pid"; then
    warn "$name: still alive after ${AISPM_STOP_TIMEOUT}s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      pid_alive "$pid" || break
      sleep 0.5
    done
  fi
  pid_alive "$pid" && die "$name: pid $pid survived SIGKILL"
  rm -f "$(pid_file "$name")"
  log "$name: stopped"
}
