# shellcheck shell=bash
# The platform's five services as a lifecycle component (see lifecycle.sh):
# built from this checkout with tsc, run as detached node processes, healthy
# when /readyz answers 200.

services_instances() { printf '%s\n' ingest-gateway api redactor normalizer projector; }
services_entry() { printf '%s/services/%s/dist/main.js\n' "$AISPM_REPO_DIR" "$1"; }
# The entry path includes this checkout's path, so it is unique to it.
services_marker() { services_entry "$1"; }
services_timeout() { printf '%s\n' "$SERVICES_START_TIMEOUT"; }
services_logs() { printf '%s\n' "$AISPM_LOG_DIR/$1.log"; }

services_port() {
  case $1 in
    ingest-gateway) printf '%s GATEWAY_PORT\n' "$GATEWAY_PORT" ;;
    api) printf '%s API_PORT\n' "$API_PORT" ;;
    redactor) printf '%s REDACTOR_OPS_PORT\n' "$REDACTOR_OPS_PORT" ;;
    normalizer) printf '%s NORMALIZER_OPS_PORT\n' "$NORMALIZER_OPS_PORT" ;;
    projector) printf '%s PROJECTOR_OPS_PORT\n' "$PROJECTOR_OPS_PORT" ;;
  esac
}
services_ports() { services_port "$1"; }
services_url() {
  local port _
  read -r port _ < <(services_port "$1")
  printf 'http://%s:%s\n' "$AISPM_HOST" "$port"
}
services_describe() { printf '%s/readyz\n' "$(services_url "$1")"; }

services_healthy() {
  [[ $(curl -s -o /dev/null --max-time 2 -w '%{http_code}' "$(services_url "$1")/readyz" 2>/dev/null) == 200 ]]
}

# Installs node modules on a fresh checkout, then builds (tsc -b is incremental:
# a second run with nothing changed takes a second or two).
services_install() {
  local out="$AISPM_LOG_DIR/install-services.log"
  require_cmd node nodejs
  if [[ ! -d $AISPM_REPO_DIR/node_modules ]]; then
    log "services: npm ci"
    (cd "$AISPM_REPO_DIR" && npm ci --no-audit --no-fund) >>"$out" 2>&1 || { tail_logs "$out"; die "npm ci failed"; }
  fi
  (cd "$AISPM_REPO_DIR" && npm run build --silent) >>"$out" 2>&1 || { tail_logs "$out"; die "the build failed"; }
  # The local operator key, once: `npx aispm` on this machine finds it by itself.
  (cd "$AISPM_REPO_DIR" && node libs/cli/bin/aispm.js bootstrap) >>"$out" 2>&1 ||
    { tail_logs "$out"; die "aispm bootstrap failed"; }
}

services_prepare() { :; }

services_launch() {
  local name=$1 port _
  read -r port _ < <(services_port "$name")
  if [[ $name == ingest-gateway || $name == api ]]; then
    # Their /metrics name tenants, so they are served on the ops port, not the public one.
    local ops_port=$GATEWAY_OPS_PORT
    [[ $name == api ]] && ops_port=$API_OPS_PORT
    launch_detached "$name" "$AISPM_REPO_DIR" "$AISPM_LOG_DIR/$name.log" \
      env AISPM_OPS_PORT="$ops_port" node "$(services_entry "$name")"
  elif [[ $name == projector ]]; then
    # The projector writes tenant dashboard users where our ClickHouse reads users.d.
    launch_detached "$name" "$AISPM_REPO_DIR" "$AISPM_LOG_DIR/$name.log" \
      env AISPM_OPS_PORT="$port" CLICKHOUSE_USERS_DIR="${CLICKHOUSE_USERS_DIR:-$AISPM_DATA_DIR/clickhouse/users.d}" \
      node "$(services_entry "$name")"
  else
    launch_detached "$name" "$AISPM_REPO_DIR" "$AISPM_LOG_DIR/$name.log" \
      env AISPM_OPS_PORT="$port" node "$(services_entry "$name")"
  fi
}
