#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# The whole platform on this machine: the three servers of infra.sh plus the
# five services, started in dependency order and awaited until healthy.
#
#   deploy/local/platform.sh up|down|status
#
# `up` is idempotent (what runs is left alone) and prints the endpoints;
# `down` stops everything it started, by pid, services first.
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
# shellcheck source=lib/services.sh
source "$LOCAL_DIR/lib/services.sh"

infra() { bash "$LOCAL_DIR/infra.sh" "$@"; }

take_lock() {
  exec 9>"$AISPM_RUN_DIR/platform.lock"
  flock -w 600 9 || die "another platform.sh is still running (lock $AISPM_RUN_DIR/platform.lock)"
}

print_endpoints() {
  cat <<EOF
aispm-ingest is up:
  gateway          http://$AISPM_HOST:$GATEWAY_PORT   (collectors: events, batches, OTLP, webhooks; AISPM_URL)
  api              http://$AISPM_HOST:$API_PORT   (readers and admins: dashboard, stream, health, admin; AISPM_API_URL)
  console          http://$AISPM_HOST:$API_PORT/console/
  gateway ops      http://$AISPM_HOST:$GATEWAY_OPS_PORT   (/metrics, /healthz, /readyz)
  api ops          http://$AISPM_HOST:$API_OPS_PORT
  redactor ops     http://$AISPM_HOST:$REDACTOR_OPS_PORT
  normalizer ops   http://$AISPM_HOST:$NORMALIZER_OPS_PORT
  projector ops    http://$AISPM_HOST:$PROJECTOR_OPS_PORT
  kafka            $KAFKA_BROKERS
  clickhouse       $CLICKHOUSE_URL
  schema registry  $SCHEMA_REGISTRY_URL
  data and logs    $AISPM_DATA_DIR
EOF
}

main() {
  ensure_dirs
  case ${1:-} in
    up)
      take_lock
      infra start
      start_components services
      print_endpoints
      ;;
    down)
      take_lock
      stop_components services
      infra stop
      ;;
    status)
      local rc=0
      infra status || rc=1
      status_components services || rc=1
      return "$rc"
      ;;
    *)
      echo "usage: ${0##*/} up|down|status" >&2
      exit 2
      ;;
  esac
}

main "$@"
