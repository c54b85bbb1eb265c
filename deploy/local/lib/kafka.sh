# shellcheck shell=bash
# Apache Kafka in KRaft combined mode (process.roles=broker,controller), from
# its Maven Central jars. Instances are named kafka-<node id>: one node by
# default, or several on one host (KAFKA_NODE_IDS="1 2 3"), each with its own
# directory, ports, pid and log, sharing one cluster id. Several nodes form a
# static controller quorum and replicate three ways with
# min.insync.replicas=2, so losing one node loses no acknowledged write.

KAFKA_CONF_DIR="$AISPM_REPO_DIR/deploy/local/conf"

# Bump KAFKA_BUNDLE when the set of resolved artifacts changes, so caches refill.
KAFKA_BUNDLE=2
kafka_home() { printf '%s/kafka/%s-%s-b%s\n' "$AISPM_CACHE_DIR" "$KAFKA_SCALA_VERSION" "$KAFKA_VERSION" "$KAFKA_BUNDLE"; }
kafka_instances() {
  local id
  for id in $KAFKA_NODE_IDS; do printf 'kafka-%s\n' "$id"; done
}
kafka_node_id() { printf '%s\n' "${1#kafka-}"; }
kafka_node_dir() { printf '%s/kafka/node-%s\n' "$AISPM_DATA_DIR" "$(kafka_node_id "$1")"; }
kafka_properties() { printf '%s/server.properties\n' "$(kafka_node_dir "$1")"; }
kafka_cluster_id_file() { printf '%s/kafka/cluster.id\n' "$AISPM_DATA_DIR"; }
# Ports of node n step by 2 from the configured ones: node 1 uses them as is.
kafka_broker_port() { printf '%s\n' "$((KAFKA_PORT + 2 * ($(kafka_node_id "$1") - 1)))"; }
kafka_controller_port() { printf '%s\n' "$((KAFKA_CONTROLLER_PORT + 2 * ($(kafka_node_id "$1") - 1)))"; }
# The properties path is unique to this data dir and node: it tells our
# process apart from any other java process.
kafka_marker() { kafka_properties "$1"; }
kafka_timeout() { printf '%s\n' "$KAFKA_START_TIMEOUT"; }
kafka_logs() { printf '%s\n' "$AISPM_LOG_DIR/$1.log" "$AISPM_LOG_DIR/$1.out"; }
kafka_ports() {
  printf '%s KAFKA_PORT\n' "$(kafka_broker_port "$1")"
  printf '%s KAFKA_CONTROLLER_PORT\n' "$(kafka_controller_port "$1")"
}
kafka_describe() { printf 'kafka %s on %s:%s\n' "$KAFKA_VERSION" "$AISPM_HOST" "$(kafka_broker_port "$1")"; }

kafka_healthy() { kafka_api_versions_ok "$AISPM_HOST" "$(kafka_broker_port "$1")"; }

# A broker only serves requests once it has joined the quorum and been
# unfenced, so a correct ApiVersions answer means "ready". Bash speaks the
# 23-byte request itself: a JVM-based check would cost seconds.
# Request: size 18, api_key 18 (ApiVersions), version 0, correlation id 7,
# client id "aispm-hc". Reply: size, correlation id 7, error code 0.
kafka_api_versions_ok() {
  local reply
  # shellcheck disable=SC2016 # expanded by the child shell
  reply=$(timeout 3 bash -c '
    exec 3<>"/dev/tcp/$1/$2" || exit 1
    printf "\x00\x00\x00\x12\x00\x12\x00\x00\x00\x00\x00\x07\x00\x08aispm-hc" >&3
    head -c 10 <&3 | od -An -tx1
  ' kafka-check "$1" "$2" 2>/dev/null) || return 1
  reply=${reply//[[:space:]]/}
  [[ ${reply:8:8} == 00000007 && ${reply:16:4} == 0000 ]]
}

# --- install -------------------------------------------------------------------

kafka_pom() {
  cat <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.aispm</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_${KAFKA_SCALA_VERSION}</artifactId>
      <version>${KAFKA_VERSION}</version>
    </dependency>
    <!-- Kafka's command-line tools (topics, consumer groups, API versions) for operators and tests. -->
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka-tools</artifactId>
      <version>${KAFKA_VERSION}</version>
    </dependency>
  </dependencies>
</project>
EOF
}

# Version of the jar ARTIFACT-<version>.jar in DIR.
jar_version() {
  local dir=$1 artifact=$2 jar
  for jar in "$dir/$artifact"-[0-9]*.jar; do
    [[ -f $jar ]] || continue
    jar=${jar##*/}
    jar=${jar#"$artifact"-}
    printf '%s\n' "${jar%.jar}"
    return 0
  done
  return 1
}

# The slf4j binding that matches the slf4j-api Kafka brings, at the log4j
# version Kafka brings: slf4j 1.x needs log4j-slf4j-impl, 2.x log4j-slf4j2-impl.
kafka_add_log_binding() {
  local libs=$1 out=$2 slf4j log4j binding
  slf4j=$(jar_version "$libs" slf4j-api) || die "kafka: no slf4j-api among Kafka's dependencies"
  log4j=$(jar_version "$libs" log4j-core) || die "kafka: no log4j-core among Kafka's dependencies"
  binding='log4j-slf4j-impl'
  [[ $slf4j == 1.* ]] || binding='log4j-slf4j2-impl'
  mvn_dependency "$out" copy \
    -Dartifact="org.apache.logging.log4j:$binding:$log4j" -DoutputDirectory="$libs" ||
    { tail_logs "$out"; die "kafka: could not fetch $binding $log4j"; }
  printf 'slf4j-api %s, log4j %s, binding %s\n' "$slf4j" "$log4j" "$binding"
}

kafka_require_java() {
  command -v "$KAFKA_JAVA" >/dev/null 2>&1 || apt_install openjdk-17-jre-headless
  local major
  major=$(java_major "$KAFKA_JAVA") || major=0
  ((major >= 17)) || die "kafka: $KAFKA_JAVA is Java $major; Kafka 4.1 needs 17 or newer (set KAFKA_JAVA)"
}

# Resolves Kafka and its runtime dependencies into the cache once; the
# .complete marker makes every later start skip Maven entirely.
kafka_install() {
  kafka_require_java
  local home tmp out binding
  home=$(kafka_home)
  [[ -f $home/.complete ]] && return 0
  out="$AISPM_LOG_DIR/install-kafka.log"
  tmp="$home.tmp.$$"
  log "kafka: resolving kafka_$KAFKA_SCALA_VERSION $KAFKA_VERSION and its runtime dependencies with Maven"
  rm -rf "$tmp"
  mkdir -p "$tmp/libs"
  kafka_pom >"$tmp/pom.xml"
  mvn_dependency "$out" copy-dependencies -f "$tmp/pom.xml" \
    -DincludeScope=runtime -DoutputDirectory="$tmp/libs" ||
    { tail_logs "$out"; die "kafka: Maven could not resolve kafka_$KAFKA_SCALA_VERSION $KAFKA_VERSION"; }
  binding=$(kafka_add_log_binding "$tmp/libs" "$out")
  printf 'kafka_%s %s; %s\n' "$KAFKA_SCALA_VERSION" "$KAFKA_VERSION" "$binding" >"$tmp/VERSIONS"
  rm -rf "$home"
  mv "$tmp" "$home"
  touch "$home/.complete"
  log "kafka: installed into $home ($binding)"
}

# --- configure and run -----------------------------------------------------

kafka_java_cmd() {
  local name=$1 heap
  read -r -a heap <<<"$KAFKA_HEAP_OPTS"
  printf '%s\0' "$KAFKA_JAVA" "${heap[@]}" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$KAFKA_CONF_DIR/kafka-log4j2.xml" \
    -Dkafka.logs.dir="$AISPM_LOG_DIR" -Daispm.log.name="$name" \
    -cp "$(kafka_home)/libs/*"
}

kafka_node_count() { kafka_instances | wc -l; }

# Every controller of the quorum, for controller.quorum.bootstrap.servers, or
# with WITH_IDS as id@host:port for controller.quorum.voters.
kafka_quorum() {
  local with_ids=${1:-} inst list=()
  for inst in $(kafka_instances); do
    list+=("${with_ids:+$(kafka_node_id "$inst")@}$AISPM_HOST:$(kafka_controller_port "$inst")")
  done
  local IFS=,
  printf '%s\n' "${list[*]}"
}

# One node keeps the dynamic quorum it was formatted with (--standalone).
# Several nodes use a static quorum: every node is formatted alike, with no
# bootstrap step that one node must run before the others.
kafka_quorum_properties() {
  if (($(kafka_node_count) == 1)); then
    printf 'controller.quorum.bootstrap.servers=%s\n' "$(kafka_quorum)"
  else
    printf 'controller.quorum.voters=%s\n' "$(kafka_quorum ids)"
  fi
}

# Replication of internal topics and the durability floor: with three nodes a
# write needs two in-sync copies, so one node can be lost without losing an
# acknowledged write and without refusing writes.
kafka_replication_properties() {
  if (($(kafka_node_count) == 1)); then
    cat <<EOF
# One broker: internal topics cannot have more than one replica.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
EOF
  else
    local rf isr
    rf=$(($(kafka_node_count) < 3 ? $(kafka_node_count) : 3))
    isr=$((rf - 1))
    cat <<EOF
# Several brokers: internal topics keep $rf copies; a write needs $isr in sync.
offsets.topic.replication.factor=$rf
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$isr
default.replication.factor=$rf
min.insync.replicas=$isr
EOF
  fi
}

# Rewritten on every start so that changed ports or settings take effect;
# node.id and the data stay.
kafka_write_properties() {
  local inst=$1 dir broker controller
  dir=$(kafka_node_dir "$inst")
  broker=$(kafka_broker_port "$inst")
  controller=$(kafka_controller_port "$inst")
  mkdir -p "$dir/data"
  cat >"$(kafka_properties "$inst")" <<EOF
# Generated by deploy/local/lib/kafka.sh on every start; edit that file instead.
process.roles=broker,controller
node.id=$(kafka_node_id "$inst")
$(kafka_quorum_properties)
listeners=PLAINTEXT://$AISPM_HOST:$broker,CONTROLLER://$AISPM_HOST:$controller
advertised.listeners=PLAINTEXT://$AISPM_HOST:$broker
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$dir/data

# KafkaJS 2.2.4 speaks only the classic group protocol.
group.coordinator.rebalance.protocols=classic,consumer
group.initial.rebalance.delay.ms=0

$(kafka_replication_properties)
# Fewer internal partitions: the first consumer group and the first
# transaction get their coordinator sooner on a 2-core machine.
offsets.topic.num.partitions=10
transaction.state.log.num.partitions=10

# Topics are created by the services, per tenant, on purpose only.
auto.create.topics.enable=false
num.partitions=1
EOF
}

# The cluster id is kept in the data dir: created once, shared by every node.
# Kafka ids are 16 random bytes in URL-safe base64 without padding, never
# starting with '-' (it would read as a command-line option).
kafka_cluster_id() {
  local file id
  file=$(kafka_cluster_id_file)
  if [[ ! -s $file ]]; then
    mkdir -p "$(dirname "$file")"
    id=-
    while [[ $id == -* ]]; do
      id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
    done
    printf '%s\n' "$id" >"$file"
  fi
  tr -d '[:space:]' <"$file"
}

# Formats the node's storage once. A formatted node keeps its cluster id: it
# must match ours, or the data belongs to another cluster.
kafka_format_once() {
  local inst=$1 meta cluster_id existing cmd
  meta="$(kafka_node_dir "$inst")/data/meta.properties"
  cluster_id=$(kafka_cluster_id)
  if [[ -f $meta ]]; then
    existing=$(sed -n 's/^cluster.id=//p' "$meta")
    [[ $existing == "$cluster_id" ]] ||
      die "$inst: $meta has cluster id $existing but $(kafka_cluster_id_file) says $cluster_id; remove one of them"
    return 0
  fi
  local -a mode=(--standalone)
  # A static quorum (controller.quorum.voters) is formatted without a bootstrap controller set.
  (($(kafka_node_count) == 1)) || mode=()
  log "$inst: formatting storage for cluster $cluster_id"
  mapfile -d '' -t cmd < <(kafka_java_cmd "$inst-format")
  "${cmd[@]}" kafka.tools.StorageTool format "${mode[@]}" -t "$cluster_id" -c "$(kafka_properties "$inst")" \
    >>"$AISPM_LOG_DIR/$inst.out" 2>&1 ||
    { tail_logs "$AISPM_LOG_DIR/$inst.out"; die "$inst: kafka-storage format failed"; }
}

kafka_prepare() {
  kafka_write_properties "$1"
  kafka_format_once "$1"
}

kafka_launch() {
  local inst=$1 cmd
  mapfile -d '' -t cmd < <(kafka_java_cmd "$inst")
  launch_detached "$inst" "$(kafka_node_dir "$inst")" "$AISPM_LOG_DIR/$inst.out" \
    "${cmd[@]}" kafka.Kafka "$(kafka_properties "$inst")"
}
