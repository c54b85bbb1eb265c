# shellcheck shell=bash
# The generic start/stop/status logic. A component C (kafka, clickhouse,
# registry) provides, in lib/C.sh:
#   C_install             fetch whatever is missing (idempotent)
#   C_instances           names of its server processes, one a line
#   C_marker INST         a string unique to INST's command line
#   C_ports INST          "PORT VARIABLE" lines: the ports INST binds
#   C_prepare INST        write configs, format storage
#   C_launch INST         start INST detached (launch_detached)
#   C_healthy INST        true when INST answers
#   C_logs INST           log files worth showing on failure
#   C_timeout             seconds to wait for health
#   C_describe INST       what runs where, for status

# Sets PLAN to "running", "await" (ours but not healthy yet) or "launch".
# Fails when a port INST needs is taken by a process that is not ours.
plan_instance() {
  local c=$1 inst=$2 pid port var
  if pid=$(managed_pid "$inst" "$("${c}_marker" "$inst")"); then
    if "${c}_healthy" "$inst"; then
      log "$inst: already running (pid $pid)"
      PLAN=running
    else
      log "$inst: running (pid $pid) but not answering yet; waiting for it"
      PLAN=await
    fi
    return 0
  fi
  while read -r port var; do
    require_port_free "$c" "$port" "$var"
  done < <("${c}_ports" "$inst")
  PLAN=launch
}

# Installs first, checks every port before launching anything, launches all
# instances, then waits for them together: the JVMs start in parallel.
start_components() {
  local c inst item started failed=0 logs
  local -a launch=() await=()
  for c in "$@"; do "${c}_install"; done
  for c in "$@"; do
    for inst in $("${c}_instances"); do
      plan_instance "$c" "$inst"
      case $PLAN in
        launch) launch+=("$c $inst") ;;
        await) await+=("$c $inst") ;;
      esac
    done
  done
  started=$SECONDS
  for item in "${launch[@]}"; do
    read -r c inst <<<"$item"
    "${c}_prepare" "$inst"
    mapfile -t logs < <("${c}_logs" "$inst")
    mark_logs "$inst" "${logs[@]}"
    "${c}_launch" "$inst"
    log "$inst: launched (pid $(<"$(pid_file "$inst")")), log in $AISPM_LOG_DIR"
    await+=("$item")
  done
  for item in "${await[@]}"; do
    read -r c inst <<<"$item"
    mapfile -t logs < <("${c}_logs" "$inst")
    if await_healthy "$inst" "$("${c}_marker" "$inst")" "$("${c}_timeout")" "${c}_healthy" "${logs[@]}"; then
      log "$inst: healthy after $((SECONDS - started))s — $("${c}_describe" "$inst")"
    else
      failed=1
    fi
  done
  ((failed == 0)) || die "start failed; see the log lines above (logs in $AISPM_LOG_DIR)"
}

stop_components() {
  local i c inst
  # Reverse order: the last started stops first.
  for ((i = $# ; i >= 1; i--)); do
    c=${!i}
    for inst in $("${c}_instances" | tac); do
      stop_instance "$inst" "$("${c}_marker" "$inst")"
    done
  done
}

# One line per instance; fails when any is down.
status_components() {
  local c inst pid port var rc=0 state detail
  for c in "$@"; do
    for inst in $("${c}_instances"); do
      if pid=$(managed_pid "$inst" "$("${c}_marker" "$inst")"); then
        if "${c}_healthy" "$inst"; then
          state=up detail="pid $pid, $("${c}_describe" "$inst")"
        else
          state=down detail="pid $pid is alive but not answering (starting, or stuck: see $AISPM_LOG_DIR)"
        fi
      else
        state=down detail="not running"
        while read -r port var; do
          if port_open "$AISPM_HOST" "$port"; then
            detail="not ours: port $port ($var) is held by $(port_holder "$port")"
            break
          fi
        done < <("${c}_ports" "$inst")
      fi
      printf '%-11s %-4s %s\n' "$inst" "$state" "$detail"
      [[ $state == up ]] || rc=1
    done
  done
  return "$rc"
}
