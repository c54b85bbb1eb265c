# shellcheck shell=bash
# Defaults for the local infrastructure (DESIGN §3). Every value can be overridden
# from the environment. Sourced by infra.sh, and safe to source from an
# interactive shell or a test runner: it sets no shell options and never exits.

_aispm_env_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export AISPM_REPO_DIR="${AISPM_REPO_DIR:-$(cd "$_aispm_env_dir/../.." && pwd)}"
unset _aispm_env_dir

# Where servers keep data, logs and pid files (git-ignored), and where downloads
# are cached so that a second start needs no network.
export AISPM_DATA_DIR="${AISPM_DATA_DIR:-$AISPM_REPO_DIR/.data}"
export AISPM_CACHE_DIR="${AISPM_CACHE_DIR:-$HOME/.cache/aispm}"
# Derived, not meant to be overridden: the layout is part of the interface.
export AISPM_LOG_DIR="$AISPM_DATA_DIR/logs"
export AISPM_RUN_DIR="$AISPM_DATA_DIR/run"

# Every server binds to loopback only: nothing here is meant to be reachable
# from another host.
export AISPM_HOST="${AISPM_HOST:-127.0.0.1}"

# Seconds a stopped server gets between SIGTERM and SIGKILL.
export AISPM_STOP_TIMEOUT="${AISPM_STOP_TIMEOUT:-30}"

# --- Kafka (KRaft combined mode) -------------------------------------------
export KAFKA_VERSION="${KAFKA_VERSION:-4.1.2}"
export KAFKA_SCALA_VERSION="${KAFKA_SCALA_VERSION:-2.13}"
export KAFKA_PORT="${KAFKA_PORT:-9092}"
export KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
# Node ids to run: "1" (the default) or e.g. "1 2 3" for three replicating
# brokers (replication factor 3, min.insync.replicas=2). Ports of node n are
# KAFKA_PORT + 2(n-1) and KAFKA_CONTROLLER_PORT + 2(n-1) (see lib/kafka.sh).
export KAFKA_NODE_IDS="${KAFKA_NODE_IDS:-1}"
# Java 17 (the machine default) runs Kafka 4.1.
export KAFKA_JAVA="${KAFKA_JAVA:-java}"
export KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx1g}"
export KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"

# --- ClickHouse (26.x, embedded in PyPI's chdb-core) ------------------------
# chdb-core 26.9.0 embeds ClickHouse 26.9.2.1; docker-compose pins the same major.
export CLICKHOUSE_CHDB_VERSION="${CLICKHOUSE_CHDB_VERSION:-26.9.0}"
export CLICKHOUSE_HTTP_PORT="${CLICKHOUSE_HTTP_PORT:-8123}"
export CLICKHOUSE_TCP_PORT="${CLICKHOUSE_TCP_PORT:-9000}"
export CLICKHOUSE_START_TIMEOUT="${CLICKHOUSE_START_TIMEOUT:-60}"

# --- Schema registry (Apicurio Registry 3.x) -------------------------------
export REGISTRY_VERSION="${REGISTRY_VERSION:-3.3.3}"
# Tried in order when REGISTRY_VERSION cannot be had (space-separated).
export REGISTRY_FALLBACK_VERSIONS="${REGISTRY_FALLBACK_VERSIONS:-3.3.2}"
export REGISTRY_PORT="${REGISTRY_PORT:-8081}"
# Quarkus' management interface defaults to 9000, ClickHouse's native port.
export REGISTRY_MANAGEMENT_PORT="${REGISTRY_MANAGEMENT_PORT:-8091}"
# Empty: the newest JDK >= 21 under /usr/lib/jvm (Temurin 25 on these machines).
export REGISTRY_JAVA="${REGISTRY_JAVA:-}"
export REGISTRY_HEAP_OPTS="${REGISTRY_HEAP_OPTS:--Xms128m -Xmx512m}"
export REGISTRY_START_TIMEOUT="${REGISTRY_START_TIMEOUT:-120}"

# Convenience URLs for clients and tests.
export KAFKA_BROKERS="${KAFKA_BROKERS:-$AISPM_HOST:$KAFKA_PORT}"
export CLICKHOUSE_URL="${CLICKHOUSE_URL:-http://$AISPM_HOST:$CLICKHOUSE_HTTP_PORT}"
export SCHEMA_REGISTRY_URL="${SCHEMA_REGISTRY_URL:-http://$AISPM_HOST:$REGISTRY_PORT/apis/ccompat/v7}"

# --- The platform's own services (platform.sh) -------------------------------
export GATEWAY_PORT="${GATEWAY_PORT:-8080}"
export GATEWAY_OPS_PORT="${GATEWAY_OPS_PORT:-9100}"
export API_PORT="${API_PORT:-8090}"
export API_OPS_PORT="${API_OPS_PORT:-9104}"
export REDACTOR_OPS_PORT="${REDACTOR_OPS_PORT:-9101}"
export NORMALIZER_OPS_PORT="${NORMALIZER_OPS_PORT:-9102}"
export PROJECTOR_OPS_PORT="${PROJECTOR_OPS_PORT:-9103}"
export SERVICES_START_TIMEOUT="${SERVICES_START_TIMEOUT:-90}"
export AISPM_KMS_MASTER_KEY_FILE="${AISPM_KMS_MASTER_KEY_FILE:-$AISPM_DATA_DIR/kms/master.key}"
export AISPM_OPERATOR_KEY_FILE="${AISPM_OPERATOR_KEY_FILE:-$AISPM_DATA_DIR/operator.key}"
