#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Local infrastructure without Docker (DESIGN §3): Kafka, ClickHouse and the
# Apicurio schema registry as real servers, installed on demand.
#
#   deploy/local/infra.sh install|start|stop|restart|status [kafka|clickhouse|registry ...]
#
# No component means all three. `start` installs what is missing, starts what
# is not running and waits until each server answers; it does nothing for a
# server that already runs. `stop` is idempotent. `status` prints one line per
# server and exits non-zero if any is down. Defaults live in env.sh.
set -euo pipefail
# Data, logs and keys this script's servers and services write are readable by their owner only.
umask 077

LOCAL_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh
source "$LOCAL_DIR/env.sh"
# shellcheck source=lib/common.sh
source "$LOCAL_DIR/lib/common.sh"
# shellcheck source=lib/lifecycle.sh
source "$LOCAL_DIR/lib/lifecycle.sh"
# shellcheck source=lib/kafka.sh
source "$LOCAL_DIR/lib/kafka.sh"
# shellcheck source=lib/clickhouse.sh
source "$LOCAL_DIR/lib/clickhouse.sh"
# shellcheck source=lib/registry.sh
source "$LOCAL_DIR/lib/registry.sh"

ALL_COMPONENTS=(kafka clickhouse registry)

usage() {
  cat >&2 <<EOF
usage: ${0##*/} install|start|stop|restart|status [${ALL_COMPONENTS[*]// /|} ...]
       ${0##*/} kafka-tool MAIN_CLASS [ARGS...]
  no component means all of them; settings: $LOCAL_DIR/env.sh
EOF
  exit 2
}

# One start or stop at a time: two concurrent `start`s would both see a free
# port and launch twice. fd 9 is closed in every launched server.
take_lock() {
  exec 9>"$AISPM_RUN_DIR/infra.lock"
  flock -w 600 9 || die "another infra.sh is still running (lock $AISPM_RUN_DIR/infra.lock)"
}

# Runs one of Kafka's own command-line tools (a main class) from the installed
# jars, e.g. kafka.admin.BrokerApiVersionsCommand, for tests and operators.
kafka_tool() {
  [[ $# -ge 1 ]] || usage
  kafka_install
  exec "$KAFKA_JAVA" -Xmx256m -Dlog4j2.configurationFile="$KAFKA_CONF_DIR/kafka-log4j2.xml" \
    -Dkafka.logs.dir="$AISPM_LOG_DIR" -Daispm.log.name=kafka-tool -cp "$(kafka_home)/libs/*" "$@"
}

main() {
  [[ $# -ge 1 ]] || usage
  local command=$1 c
  shift
  if [[ $command == kafka-tool ]]; then
    ensure_dirs
    kafka_tool "$@"
  fi
  local -a components=("$@")
  [[ ${#components[@]} -gt 0 ]] || components=("${ALL_COMPONENTS[@]}")
  for c in "${components[@]}"; do
    [[ " ${ALL_COMPONENTS[*]} " == *" $c "* ]] || { echo "unknown component: $c" >&2; usage; }
  done
  ensure_dirs
  case $command in
    install)
      take_lock
      for c in "${components[@]}"; do "${c}_install"; done
      ;;
    start)
      take_lock
      start_components "${components[@]}"
      ;;
    stop)
      take_lock
      stop_components "${components[@]}"
      ;;
    restart)
      take_lock
      stop_components "${components[@]}"
      start_components "${components[@]}"
      ;;
    status) status_components "${components[@]}" ;;
    *) usage ;;
  esac
}

main "$@"
