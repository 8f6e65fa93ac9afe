#!/usr/bin/env bash
# kafka-local.sh — run a throwaway single-node Apache Kafka broker for local
# development and tests, without Docker and without a Kafka tarball.
#
# Usage: scripts/kafka-local.sh start|stop|status|reset|bootstrap|rotate-password|fetch
#
#   start      fetch jars if needed, format storage if needed, start the broker
#              in the background and wait until it serves (exit 0 if already up)
#   stop       SIGTERM, wait up to KAFKA_STOP_TIMEOUT s, then SIGKILL (exit 0 if not running)
#   status     print "running"/"stopped"; exit 0 if running, 1 if stopped
#   reset      stop, then delete this port's data dir (topics, offsets, logs)
#   bootstrap  print the broker address, e.g. 127.0.0.1:9092
#   bootstrap sasl|tls   print the SASL_SCRAM or TLS listener's address (KAFKA_AUTH=1)
#   bootstrap auth       print both, the SASL user, and where the password and CA files are,
#                        as key=value lines (never the password itself)
#   rotate-password      (KAFKA_AUTH=1, broker running) replace the SCRAM user's password with
#                        a new random one, for SCRAM-SHA-256 and -512, and write it to the
#                        password file: what a credential rotation does to running clients
#   fetch      only download the jars (useful to warm a cache)
#
# Environment:
#   KAFKA_VERSION           Kafka 4.x release to run (default 4.1.2, see below)
#   KAFKA_PORT              client listener port (default 9092)
#   KAFKA_CONTROLLER_PORT   KRaft controller port (default KAFKA_PORT + 1)
#   KAFKA_AUTH              1: also open the authenticated listeners below (default 0:
#                           PLAINTEXT only, exactly as without the variable)
#   KAFKA_SASL_PORT         SASL_SCRAM listener (default KAFKA_PORT + 10): SASL_PLAINTEXT
#                           with SCRAM-SHA-256 and SCRAM-SHA-512, user KAFKA_SASL_USER
#   KAFKA_TLS_PORT          TLS listener (default KAFKA_PORT + 20): SSL, with a CA and a
#                           broker certificate for 127.0.0.1/localhost made by the script
#   KAFKA_SASL_USER         the SCRAM user created at format time (default fraudwatch)
#   FRAUDWATCH_KAFKA_CACHE  where jars and data live (default <repo>/.cache/kafka)
#   KAFKA_HEAP_OPTS         JVM heap flags (default -Xms256m -Xmx1g)
#   KAFKA_START_TIMEOUT     seconds to wait for the broker to serve (default 90)
#   KAFKA_STOP_TIMEOUT      seconds to wait after SIGTERM before SIGKILL (default 30)
#
# Several brokers can run side by side: everything that is per-broker (data dir,
# pid file, log, config) is keyed by KAFKA_PORT. Give each one ports at least 2
# apart, since the controller port defaults to KAFKA_PORT + 1; a broker with
# KAFKA_AUTH=1 also takes KAFKA_PORT + 10 and + 20, so keep other brokers' ports
# (and their + 1) off those.
#
# KAFKA_AUTH=1 adds two listeners beside PLAINTEXT, which stays as it is (inter-
# broker traffic and every existing test and tool use it):
#   SASL_SCRAM  SASL_PLAINTEXT, SCRAM-SHA-256 and SCRAM-SHA-512 enabled. The user's
#               credentials for both are written into the metadata log when the
#               storage is formatted (`kafka-storage format --add-scram`, the KRaft
#               way: there is no ZooKeeper to add them to later). The password is
#               drawn at random then and kept in the data dir (auth/sasl-password,
#               mode 600); nothing here ever prints it.
#   TLS         SSL with a PEM keystore (ssl.keystore.type=PEM): a CA and a broker
#               certificate (SAN 127.0.0.1, localhost) made with openssl into
#               auth/; clients trust auth/ca.pem. No client certificate is asked for.
# The credentials exist only if the storage was formatted with KAFKA_AUTH=1: a data
# dir formatted without it must be reset first (start says so).
#
# Why Kafka 4.1.2: the project's client is kafkajs 2.2.4 (2022), which only
# speaks older protocol versions. Kafka 4.0 dropped the oldest ones (KIP-896),
# but kafkajs negotiates the highest version both sides support and every API
# it uses still overlaps with 4.x (e.g. Produce v7, Fetch v11, JoinGroup v5,
# EndTxn v1), so topics, produce/consume, consumer groups, the idempotent
# producer and transactions (incl. sendOffsets, read_committed consumers) all
# work against 4.1 -- checked with this script, as was 4.4.0. No 3.9.x
# fallback is needed. 4.1.2 is the newest patch release of the 4.1 line:
# bug fixes only on top of 4.1.1, without the churn of a fresh .0 release.
# KAFKA_VERSION can select another 4.x release.
#
# Expected kafkajs noise (not caused by Kafka 4): on a fresh broker the first
# transactional/group calls log retried "coordinator is loading / not
# available" errors while the internal topics are created, and back-to-back
# transactions log a retried CONCURRENT_TRANSACTIONS ("another concurrent
# operation on the same transaction") error because kafkajs starts the next
# transaction before the previous commit markers are written (kafkajs#1315).
#
# Why Maven: the only network here is the package registries, and Maven Central
# publishes the broker (org.apache.kafka:kafka_2.13) but not the tarball with
# its bin/ scripts, so we resolve the runtime jars with Maven and call the Java
# main classes (kafka.tools.StorageTool, kafka.Kafka) ourselves.

set -euo pipefail

# ---------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------

# Resolve the repo root from this file so the script works from any directory.
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"

KAFKA_VERSION="${KAFKA_VERSION:-4.1.2}"
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}"
KAFKA_HOST=127.0.0.1
case "${KAFKA_AUTH:-0}" in
  1|true|yes) KAFKA_AUTH=1 ;;
  0|false|no|'') KAFKA_AUTH=0 ;;
  *) printf 'kafka-local[%s]: error: KAFKA_AUTH must be 1 or 0\n' "$KAFKA_PORT" >&2; exit 2 ;;
esac
# +10 and +20 stay clear of the controller's +1 and of the next broker's pair when
# brokers are spaced 100 apart, as the test suite's are (19092, 19392, ...).
KAFKA_SASL_PORT="${KAFKA_SASL_PORT:-$((KAFKA_PORT + 10))}"
KAFKA_TLS_PORT="${KAFKA_TLS_PORT:-$((KAFKA_PORT + 20))}"
KAFKA_SASL_USER="${KAFKA_SASL_USER:-fraudwatch}"
# The machine is shared with the test suite, so keep the JVM small.
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx1g}"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
KAFKA_STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"

CACHE_DIR="${FRAUDWATCH_KAFKA_CACHE:-$REPO_ROOT/.cache/kafka}"
VERSION_DIR="$CACHE_DIR/$KAFKA_VERSION"
LIBS_DIR="$VERSION_DIR/libs"

DATA_DIR="$CACHE_DIR/data-$KAFKA_PORT"
STORAGE_DIR="$DATA_DIR/kafka-data"        # Kafka's log.dirs (topic + metadata data)
CONFIG_FILE="$DATA_DIR/server.properties"
LOG4J_FILE="$DATA_DIR/log4j2.properties"
LOG_FILE="$DATA_DIR/server.log"           # broker stdout/stderr
PID_FILE="$DATA_DIR/kafka.pid"
VERSION_FILE="$DATA_DIR/kafka-version"    # which Kafka last ran on this data dir
AUTH_DIR="$DATA_DIR/auth"                 # KAFKA_AUTH=1: credentials and certificates
SASL_PASSWORD_FILE="$AUTH_DIR/sasl-password"
SASL_USER_FILE="$AUTH_DIR/sasl-username"  # the user formatted in, whatever KAFKA_SASL_USER says now
CA_FILE="$AUTH_DIR/ca.pem"
BROKER_PEM="$AUTH_DIR/broker.pem"         # the broker's key and certificate chain

# Pinned so the fetch behaves the same whatever Maven's default plugin version is.
DEPENDENCY_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.8.1"

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

log() { printf 'kafka-local[%s]: %s\n' "$KAFKA_PORT" "$*"; }
die() { printf 'kafka-local[%s]: error: %s\n' "$KAFKA_PORT" "$*" >&2; exit 1; }

usage() {
  cat <<'EOF'
Usage: scripts/kafka-local.sh start|stop|status|reset|bootstrap|rotate-password|fetch
  start      start a local single-node Kafka and wait until it serves
  stop       stop it (SIGTERM, then SIGKILL after KAFKA_STOP_TIMEOUT s)
  status     print running/stopped; exit 0 if running, 1 if stopped
  reset      stop and delete this port's data
  bootstrap  print the bootstrap address (127.0.0.1:KAFKA_PORT)
  bootstrap sasl|tls|auth
             with KAFKA_AUTH=1: the SASL_SCRAM or TLS address, or (auth) both with
             the SASL user and the password and CA files, as key=value lines
  rotate-password
             with KAFKA_AUTH=1, running: a new SCRAM password for the user, in the password file
  fetch      only download the Kafka jars
See the comments at the top of the script for the environment variables.
EOF
}

# Serialise commands that touch the same files (e.g. two test workers calling
# `start` at once). flock is part of util-linux; skip locking where it's absent.
with_lock() {
  local lock_file="$1"; shift
  mkdir -p "$(dirname "$lock_file")"
  if command -v flock >/dev/null 2>&1; then
    ( flock 9; "$@" ) 9>"$lock_file"
  else
    "$@"
  fi
}

require_java() {
  command -v java >/dev/null 2>&1 || die "java not found on PATH (Kafka ${KAFKA_VERSION} needs Java 17+)"
  local major
  major="$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)"
  if [[ -n "$major" && "$major" -lt 17 ]]; then
    die "Kafka ${KAFKA_VERSION} brokers need Java 17+, found Java ${major}"
  fi
}

# True if something accepts TCP connections on the port. Uses bash's /dev/tcp
# so polling doesn't pay for a JVM start each time.
port_open() {
  timeout 2 bash -c "exec 3<>/dev/tcp/${KAFKA_HOST}/$1" 2>/dev/null
}

# Prints the broker pid if the pid file points at a live Kafka using this data
# dir. Checking the command line guards against a recycled pid.
running_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid
  pid="$(cat "$PID_FILE" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  ps -ww -o args= -p "$pid" 2>/dev/null | grep -qF "$CONFIG_FILE" || return 1
  echo "$pid"
}

show_log_tail() {
  if [[ -f "$LOG_FILE" ]]; then
    echo "----- last 40 lines of $LOG_FILE -----" >&2
    tail -n 40 "$LOG_FILE" >&2
    echo "-----" >&2
  fi
}

# ---------------------------------------------------------------------------
# Fetching the jars
# ---------------------------------------------------------------------------

fetch_jars() {
  # A marker file, written last, tells a complete fetch from an interrupted one.
  if [[ -f "$LIBS_DIR/.complete" ]]; then
    return 0
  fi
  command -v mvn >/dev/null 2>&1 || die "mvn not found on PATH (needed once to fetch Kafka jars)"

  local tmp_libs="$VERSION_DIR/libs.tmp" fetch_log="$VERSION_DIR/fetch.log"
  rm -rf "$tmp_libs" "$LIBS_DIR"
  mkdir -p "$VERSION_DIR"
  log "fetching Kafka ${KAFKA_VERSION} jars from Maven Central into $LIBS_DIR (one-time)..."

  # Throwaway pom: its only purpose is to let Maven resolve the broker's
  # runtime dependency tree.
  cat >"$VERSION_DIR/pom.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by scripts/kafka-local.sh; safe to delete. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.fraudwatch</groupId>
  <artifactId>kafka-local-libs</artifactId>
  <version>0</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>${KAFKA_VERSION}</version>
    </dependency>
  </dependencies>
</project>
EOF

  local mvn_cmd=(mvn -B --no-transfer-progress -Dstyle.color=never -f "$VERSION_DIR/pom.xml")
  if ! "${mvn_cmd[@]}" "$DEPENDENCY_PLUGIN:copy-dependencies" \
        -DincludeScope=runtime -DoutputDirectory="$tmp_libs" >"$fetch_log" 2>&1; then
    tail -n 30 "$fetch_log" >&2
    die "Maven could not fetch org.apache.kafka:kafka_2.13:${KAFKA_VERSION} (full log: $fetch_log)"
  fi

  # The broker logs through SLF4J and log4j2 but the Maven artifact ships no
  # SLF4J binding (the release tarball adds one), so without it the broker
  # would log almost nothing. Add the log4j2 bridge that matches the slf4j-api
  # and log4j-api versions Kafka itself pulled in.
  local slf4j_jar log4j_jar log4j_version binding
  slf4j_jar="$(find "$tmp_libs" -name 'slf4j-api-*.jar' -printf '%f\n' | head -n1)"
  log4j_jar="$(find "$tmp_libs" -name 'log4j-api-*.jar' -printf '%f\n' | head -n1)"
  [[ -n "$slf4j_jar" && -n "$log4j_jar" ]] \
    || die "expected slf4j-api and log4j-api among Kafka ${KAFKA_VERSION}'s jars; cannot pick a logging binding"
  log4j_version="${log4j_jar#log4j-api-}"; log4j_version="${log4j_version%.jar}"
  if [[ "$slf4j_jar" == slf4j-api-1.* ]]; then
    binding="log4j-slf4j-impl"      # SLF4J 1.x binding
  else
    binding="log4j-slf4j2-impl"     # SLF4J 2.x provider
  fi
  if ! "${mvn_cmd[@]}" "$DEPENDENCY_PLUGIN:copy" \
        -Dartifact="org.apache.logging.log4j:${binding}:${log4j_version}" \
        -DoutputDirectory="$tmp_libs" >>"$fetch_log" 2>&1; then
    tail -n 30 "$fetch_log" >&2
    die "Maven could not fetch org.apache.logging.log4j:${binding}:${log4j_version} (full log: $fetch_log)"
  fi

  touch "$tmp_libs/.complete"
  mv "$tmp_libs" "$LIBS_DIR"
  log "fetched $(find "$LIBS_DIR" -name '*.jar' | wc -l) jars"
}

# ---------------------------------------------------------------------------
# Config and storage
# ---------------------------------------------------------------------------

# Written on every start so port/heap changes take effect; the data itself
# does not depend on these files.
write_config() {
  mkdir -p "$DATA_DIR"
  local listeners="PLAINTEXT://${KAFKA_HOST}:${KAFKA_PORT},CONTROLLER://${KAFKA_HOST}:${KAFKA_CONTROLLER_PORT}"
  local advertised="PLAINTEXT://${KAFKA_HOST}:${KAFKA_PORT}"
  local protocols="PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
  if (( KAFKA_AUTH )); then
    # Each listener advertises itself: a client that bootstraps on the SASL port is
    # sent SASL addresses in metadata, one on the TLS port TLS ones.
    listeners+=",SASL_SCRAM://${KAFKA_HOST}:${KAFKA_SASL_PORT},TLS://${KAFKA_HOST}:${KAFKA_TLS_PORT}"
    advertised+=",SASL_SCRAM://${KAFKA_HOST}:${KAFKA_SASL_PORT},TLS://${KAFKA_HOST}:${KAFKA_TLS_PORT}"
    protocols+=",SASL_SCRAM:SASL_PLAINTEXT,TLS:SSL"
  fi
  cat >"$CONFIG_FILE" <<EOF
# Generated by scripts/kafka-local.sh on each start; edits are overwritten.
# One node acting as both broker and KRaft controller.
process.roles=broker,controller
node.id=1
# Static single-voter quorum: unlike a dynamic quorum (--standalone), the
# controller address lives only here, so changing ports never strands the data.
controller.quorum.voters=1@${KAFKA_HOST}:${KAFKA_CONTROLLER_PORT}
listeners=${listeners}
advertised.listeners=${advertised}
listener.security.protocol.map=${protocols}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=${STORAGE_DIR}

# A single node can only replicate once; the defaults (3) would stall
# consumer groups and transactions forever.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1

# Fast test feedback: no 3 s wait before the first group rebalance, topics
# appear on first use.
group.initial.rebalance.delay.ms=0
num.partitions=1
auto.create.topics.enable=true
EOF

  if (( KAFKA_AUTH )); then
    # Per-listener settings (listener.name.<lowercase name>.*), so PLAINTEXT and the
    # controller are untouched. The SCRAM login module needs no options on a broker:
    # the credentials are in the metadata log (see format_storage_if_needed). No
    # authorizer is configured, so an authenticated user may do everything, as on
    # PLAINTEXT.
    cat >>"$CONFIG_FILE" <<EOF

# KAFKA_AUTH=1
listener.name.sasl_scram.sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_scram.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_scram.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.tls.ssl.keystore.type=PEM
listener.name.tls.ssl.keystore.location=${BROKER_PEM}
listener.name.tls.ssl.client.auth=none
EOF
  fi

  # Console-only logging; start redirects it into \$LOG_FILE.
  cat >"$LOG4J_FILE" <<'EOF'
# Generated by scripts/kafka-local.sh on each start; edits are overwritten.
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
# Per-request and per-partition chatter drowns the useful lines.
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.state.name = state.change.logger
logger.state.level = WARN
EOF
}

format_storage_if_needed() {
  if [[ -f "$STORAGE_DIR/meta.properties" ]]; then
    local last_version
    last_version="$(cat "$VERSION_FILE" 2>/dev/null || true)"
    # Patch releases share a metadata format; across minor versions a
    # downgrade can fail in confusing ways, so ask for a clean slate instead.
    if [[ -n "$last_version" && "${last_version%.*}" != "${KAFKA_VERSION%.*}" ]]; then
      die "$DATA_DIR was last used by Kafka ${last_version}, not ${KAFKA_VERSION%.*}.x; run '$0 reset' first (or set KAFKA_VERSION=${last_version})"
    fi
    # SCRAM credentials are only written at format time (below).
    if (( KAFKA_AUTH )) && [[ ! -s "$SASL_PASSWORD_FILE" ]]; then
      die "$DATA_DIR was formatted without KAFKA_AUTH=1, so it has no SCRAM user; run 'KAFKA_PORT=$KAFKA_PORT $0 reset' first"
    fi
    return 0
  fi

  local scram=()
  if (( KAFKA_AUTH )); then
    # A fresh random password per data dir, kept beside the data for clients to read
    # (FRAUDWATCH_SASL_PASSWORD_FILE). 18 random bytes in URL-safe base64: 24
    # characters with no ',', ']' or '=' to upset --add-scram's [name=..,password=..]
    # syntax. It is on StorageTool's command line for the second the format takes,
    # which is acceptable for a throwaway local broker; it is never logged.
    local password
    password="$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')"
    ( umask 077; mkdir -p "$AUTH_DIR"; printf '%s' "$password" >"$SASL_PASSWORD_FILE" )
    printf '%s\n' "$KAFKA_SASL_USER" >"$SASL_USER_FILE"
    scram=(--add-scram "SCRAM-SHA-256=[name=${KAFKA_SASL_USER},password=${password}]"
           --add-scram "SCRAM-SHA-512=[name=${KAFKA_SASL_USER},password=${password}]")
    log "adding SCRAM-SHA-256 and SCRAM-SHA-512 credentials for user ${KAFKA_SASL_USER} (password in $SASL_PASSWORD_FILE)"
  fi

  # A cluster id is 16 random bytes in unpadded URL-safe base64; generating it
  # here saves a JVM start over `kafka-storage random-uuid`.
  local cluster_id
  # A 16-byte id in URL-safe base64, as Kafka expects; one starting with '-' would be read by
  # StorageTool as an option, so draw again (1 in 64).
  cluster_id="-"
  while [ "${cluster_id#-}" != "$cluster_id" ]; do
    cluster_id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
  done
  log "formatting KRaft storage in $STORAGE_DIR (cluster id $cluster_id)"
  if ! java -Xmx256m -Dlog4j2.configurationFile="$LOG4J_FILE" -cp "$LIBS_DIR/*" \
        kafka.tools.StorageTool format --config "$CONFIG_FILE" --cluster-id "$cluster_id" ${scram[@]+"${scram[@]}"} \
        >"$DATA_DIR/format.log" 2>&1; then
    cat "$DATA_DIR/format.log" >&2
    die "formatting storage failed"
  fi
}

# The TLS listener's CA and broker certificate, made once per data dir. EC P-256
# keys: quick to generate, and Kafka's PEM keystore reads them (RSA, DSA or EC, as
# unencrypted PKCS#8, which is what openssl 3 writes). The CA key is deleted once
# it has signed: nothing else is ever signed with it.
make_certs_if_needed() {
  [[ -s "$CA_FILE" && -s "$BROKER_PEM" ]] && return 0
  command -v openssl >/dev/null 2>&1 || die "openssl not found on PATH (KAFKA_AUTH=1 makes the TLS listener's certificates with it)"
  local tmp="$AUTH_DIR/certs.tmp"
  rm -rf "$tmp"
  ( umask 077; mkdir -p "$tmp" )
  printf '%s\n' 'basicConstraints=CA:FALSE' 'keyUsage=critical,digitalSignature,keyEncipherment' \
    'extendedKeyUsage=serverAuth' "subjectAltName=IP:${KAFKA_HOST},DNS:localhost" >"$tmp/broker.ext"
  if ! (
      cd "$tmp" && umask 077 &&
      openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout ca.key -out ca.pem -days 3650 -subj "/CN=fraudwatch kafka-local CA (port ${KAFKA_PORT})" \
        -addext 'basicConstraints=critical,CA:TRUE' -addext 'keyUsage=critical,keyCertSign,cRLSign' &&
      openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout broker.key -out broker.csr -subj "/CN=${KAFKA_HOST}" &&
      openssl x509 -req -in broker.csr -CA ca.pem -CAkey ca.key -set_serial "0x$(openssl rand -hex 16)" \
        -days 825 -extfile broker.ext -out broker.crt &&
      cat broker.key broker.crt ca.pem >broker.pem
    ) >"$AUTH_DIR/certs.log" 2>&1; then
    cat "$AUTH_DIR/certs.log" >&2
    die "making the TLS listener's certificates failed"
  fi
  mv -f "$tmp/broker.pem" "$BROKER_PEM"
  mv -f "$tmp/ca.pem" "$CA_FILE"
  chmod 644 "$CA_FILE"
  rm -rf "$tmp" "$AUTH_DIR/certs.log"
  log "made a CA ($CA_FILE) and a broker certificate for ${KAFKA_HOST}/localhost"
}

# ---------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------

cmd_start() {
  local pid
  if pid="$(running_pid)"; then
    # A broker started without the authenticated listeners cannot grow them: say so
    # rather than report success to a caller that is about to connect to them.
    if (( KAFKA_AUTH )) && ! grep -q '^listeners=.*SASL_SCRAM://' "$CONFIG_FILE" 2>/dev/null; then
      die "already running (pid $pid) without KAFKA_AUTH=1; stop it first ('KAFKA_PORT=$KAFKA_PORT $0 stop')"
    fi
    log "already running (pid $pid, Kafka $(cat "$VERSION_FILE" 2>/dev/null || echo '?')) on ${KAFKA_HOST}:${KAFKA_PORT}"
    return 0
  fi
  rm -f "$PID_FILE"

  # Fail early and clearly instead of letting the JVM die on "address in use".
  local ports=("$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT") port
  (( KAFKA_AUTH )) && ports+=("$KAFKA_SASL_PORT" "$KAFKA_TLS_PORT")
  if [[ "$(printf '%s\n' "${ports[@]}" | sort -u | wc -l)" -ne "${#ports[@]}" ]]; then
    die "listener ports collide: client ${KAFKA_PORT}, controller ${KAFKA_CONTROLLER_PORT}$( (( KAFKA_AUTH )) && echo ", SASL ${KAFKA_SASL_PORT}, TLS ${KAFKA_TLS_PORT}")"
  fi
  for port in "${ports[@]}"; do
    if port_open "$port"; then
      die "port $port on ${KAFKA_HOST} is already in use by another process (not this script's broker for port ${KAFKA_PORT})"
    fi
  done

  require_java
  with_lock "$CACHE_DIR/.fetch-${KAFKA_VERSION}.lock" fetch_jars
  write_config
  (( KAFKA_AUTH )) && make_certs_if_needed
  format_storage_if_needed

  # Keep the previous run's log for post-mortems, but only one generation.
  [[ -f "$LOG_FILE" ]] && mv -f "$LOG_FILE" "$LOG_FILE.1"

  local also=""
  (( KAFKA_AUTH )) && also=", SASL_SCRAM :${KAFKA_SASL_PORT}, TLS :${KAFKA_TLS_PORT}"
  log "starting Kafka ${KAFKA_VERSION} on ${KAFKA_HOST}:${KAFKA_PORT} (controller :${KAFKA_CONTROLLER_PORT}${also}), log: $LOG_FILE"
  # `9>&-` closes the lock fd (see with_lock) so the broker doesn't hold the
  # lock for its whole life.
  # shellcheck disable=SC2086  # KAFKA_HEAP_OPTS is a list of JVM flags
  nohup java $KAFKA_HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$LOG4J_FILE" \
    -cp "$LIBS_DIR/*" kafka.Kafka "$CONFIG_FILE" \
    >"$LOG_FILE" 2>&1 </dev/null 9>&- &
  pid=$!
  echo "$pid" >"$PID_FILE"
  echo "$KAFKA_VERSION" >"$VERSION_FILE"

  # Ready = the client port accepts connections AND the broker has logged that
  # startup finished (the socket opens a little before the broker can serve).
  local started=$SECONDS
  while (( SECONDS - started < KAFKA_START_TIMEOUT )); do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$PID_FILE"
      show_log_tail
      die "broker exited during startup"
    fi
    if port_open "$KAFKA_PORT" && grep -q 'Kafka Server started' "$LOG_FILE" 2>/dev/null; then
      log "ready after $((SECONDS - started))s: bootstrap server ${KAFKA_HOST}:${KAFKA_PORT} (pid $pid)"
      (( KAFKA_AUTH )) && log "authenticated listeners: '$0 bootstrap auth' lists them"
      return 0
    fi
    sleep 0.5
  done

  show_log_tail
  log "broker did not become ready within ${KAFKA_START_TIMEOUT}s; stopping it"
  stop_pid "$pid"
  die "startup timed out"
}

# SIGTERM lets Kafka flush and close its logs (fast restart next time); SIGKILL
# is the fallback for a wedged JVM.
stop_pid() {
  local pid="$1" started=$SECONDS
  kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null && (( SECONDS - started < KAFKA_STOP_TIMEOUT )); do
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "still running after ${KAFKA_STOP_TIMEOUT}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
  fi
  rm -f "$PID_FILE"
}

cmd_stop() {
  local pid
  if ! pid="$(running_pid)"; then
    rm -f "$PID_FILE"
    log "not running"
    return 0
  fi
  log "stopping (pid $pid)..."
  stop_pid "$pid"
  log "stopped"
}

cmd_status() {
  local pid
  if pid="$(running_pid)"; then
    echo "running (pid $pid, Kafka $(cat "$VERSION_FILE" 2>/dev/null || echo '?'), ${KAFKA_HOST}:${KAFKA_PORT})"
    return 0
  fi
  echo "stopped"
  return 1
}

cmd_reset() {
  cmd_stop
  if [[ -d "$DATA_DIR" ]]; then
    rm -rf "$DATA_DIR"
    log "deleted $DATA_DIR"
  fi
}

# `bootstrap` alone prints what it always did; its variants describe the
# KAFKA_AUTH=1 listeners of this port's broker, started or not.
cmd_bootstrap() {
  case "$1" in
    plaintext) echo "${KAFKA_HOST}:${KAFKA_PORT}"; return 0 ;;
    sasl|tls|auth) ;;
    *) usage >&2; exit 2 ;;
  esac
  if ! grep -q '^listeners=.*SASL_SCRAM://' "$CONFIG_FILE" 2>/dev/null || [[ ! -s "$SASL_PASSWORD_FILE" ]]; then
    die "the broker for port ${KAFKA_PORT} has no authenticated listeners: start it with KAFKA_AUTH=1"
  fi
  # The ports as the broker was configured, not as this shell would derive them.
  local sasl tls
  sasl="$(sed -n 's/^listeners=.*SASL_SCRAM:\/\/\([^,]*\).*/\1/p' "$CONFIG_FILE")"
  tls="$(sed -n 's/^listeners=.*TLS:\/\/\([^,]*\).*/\1/p' "$CONFIG_FILE")"
  case "$1" in
    sasl) echo "$sasl" ;;
    tls)  echo "$tls" ;;
    auth)
      printf '%s\n' \
        "sasl=${sasl}" \
        "sasl_mechanisms=scram-sha-256,scram-sha-512" \
        "sasl_username=$(cat "$SASL_USER_FILE" 2>/dev/null || echo "$KAFKA_SASL_USER")" \
        "sasl_password_file=${SASL_PASSWORD_FILE}" \
        "tls=${tls}" \
        "tls_ca_file=${CA_FILE}"
      ;;
  esac
}

# A credential rotation, as an operator would do it: new SCRAM credentials for the user on the
# running broker (kafka-configs over PLAINTEXT), then the new password in the password file.
# Connections already authenticated stay open; the next connection must use the new password.
cmd_rotate_password() {
  if ! grep -q '^listeners=.*SASL_SCRAM://' "$CONFIG_FILE" 2>/dev/null || [[ ! -s "$SASL_PASSWORD_FILE" ]]; then
    die "the broker for port ${KAFKA_PORT} has no authenticated listeners: start it with KAFKA_AUTH=1"
  fi
  cmd_status >/dev/null || die "the broker for port ${KAFKA_PORT} is not running"
  local user password
  user="$(cat "$SASL_USER_FILE" 2>/dev/null || echo "$KAFKA_SASL_USER")"
  password="$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')"
  # One mechanism per request: the broker refuses to alter a user's credentials twice in one.
  local mechanism
  for mechanism in SCRAM-SHA-256 SCRAM-SHA-512; do
    if ! java -Xmx256m -Dlog4j2.configurationFile="$LOG4J_FILE" -cp "$LIBS_DIR/*" \
          kafka.admin.ConfigCommand --bootstrap-server "${KAFKA_HOST}:${KAFKA_PORT}" --alter --entity-type users --entity-name "$user" \
          --add-config "${mechanism}=[iterations=8192,password=${password}]" \
          >"$DATA_DIR/rotate.log" 2>&1; then
      cat "$DATA_DIR/rotate.log" >&2
      die "changing the ${mechanism} credentials failed"
    fi
  done
  ( umask 077; printf '%s' "$password" >"$SASL_PASSWORD_FILE.tmp" && mv "$SASL_PASSWORD_FILE.tmp" "$SASL_PASSWORD_FILE" )
  log "new SCRAM-SHA-256 and SCRAM-SHA-512 password for user ${user} (in $SASL_PASSWORD_FILE)"
}

main() {
  local cmd="${1:-}"
  # The 4.x storage tool, KRaft-only config and log4j2 logging used here don't
  # fit Kafka 3.x.
  if [[ ! "$KAFKA_VERSION" =~ ^[4-9]\.[0-9]+\.[0-9]+$ ]]; then
    die "KAFKA_VERSION=${KAFKA_VERSION} is not supported; use a 4.x release such as 4.1.2"
  fi
  case "$cmd" in
    start)     with_lock "$CACHE_DIR/.port-${KAFKA_PORT}.lock" cmd_start ;;
    stop)      with_lock "$CACHE_DIR/.port-${KAFKA_PORT}.lock" cmd_stop ;;
    reset)     with_lock "$CACHE_DIR/.port-${KAFKA_PORT}.lock" cmd_reset ;;
    status)    cmd_status ;;
    bootstrap) cmd_bootstrap "${2:-plaintext}" ;;
    rotate-password) with_lock "$CACHE_DIR/.port-${KAFKA_PORT}.lock" cmd_rotate_password ;;
    fetch)     with_lock "$CACHE_DIR/.fetch-${KAFKA_VERSION}.lock" fetch_jars; log "jars in $LIBS_DIR" ;;
    -h|--help|help) usage ;;
    *)         usage >&2; exit 2 ;;
  esac
}

main "$@"
