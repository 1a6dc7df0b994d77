#!/usr/bin/env bash
# A single-node Slurm on localhost for tests and trials: munged + slurmctld + slurmd, every
# file (config, key, spool, logs, pids) under one scratch directory, nothing in /etc.
#   ci/slurm/local-slurm.sh start DIR   # prints `export SLURM_CONF=DIR/etc/slurm.conf`
#   ci/slurm/local-slurm.sh stop DIR    # stops the three daemons by their pid files, waits
# Needs slurmctld, slurmd, slurm-client and munge (cmake/install-deps.sh --slurm), and root
# (SlurmUser=root).  Ports 16817/16818 unless SYNCSIM_SLURM_PORT is set (ctld; slurmd +1).
set -euo pipefail

cmd=${1:?usage: local-slurm.sh start|stop DIR}
D=$(realpath -m "${2:?usage: local-slurm.sh start|stop DIR}")
port=${SYNCSIM_SLURM_PORT:-16817}

stop_pid_file() {  # pid file, name
  local f=$1 pid
  [[ -s $f ]] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "local-slurm: $2 ($pid) did not stop in 10 s; killing it" >&2
      kill -9 "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$f"
}

case $cmd in
start)
  for tool in munged mungekey slurmctld slurmd sinfo sbatch; do
    command -v "$tool" >/dev/null || {
      echo "local-slurm: $tool not found; install Slurm with cmake/install-deps.sh --slurm" >&2
      exit 2
    }
  done
  host=$(hostname -s)
  mkdir -p "$D"/{etc,munge,spool/ctld,spool/d,log,run}
  chmod 700 "$D/munge"
  [[ -s $D/munge/munge.key ]] || mungekey --create --keyfile="$D/munge/munge.key" >/dev/null
  chmod 600 "$D/munge/munge.key"
  cat >"$D/etc/slurm.conf" <<CONF
ClusterName=syncsim
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$D/munge/munge.sock
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
StateSaveLocation=$D/spool/ctld
SlurmdSpoolDir=$D/spool/d
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
SlurmctldPidFile=$D/run/slurmctld.pid
SlurmdPidFile=$D/run/slurmd.pid
ReturnToService=2
MinJobAge=300
MpiDefault=none
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
  export SLURM_CONF=$D/etc/slurm.conf
  munged --force --key-file="$D/munge/munge.key" --socket="$D/munge/munge.sock" \
    --pid-file="$D/munge/munged.pid" --log-file="$D/log/munged.log" \
    --seed-file="$D/munge/munge.seed"
  slurmctld -i
  slurmd
  for _ in $(seq 150); do
    if sinfo -h -o '%t' 2>/dev/null | grep -qx 'idle'; then
      echo "export SLURM_CONF=$SLURM_CONF"
      exit 0
    fi
    sleep 0.2
  done
  echo "local-slurm: the node did not become idle in 30 s; logs in $D/log" >&2
  sinfo >&2 || true
  exit 1
  ;;
stop)
  stop_pid_file "$D/run/slurmd.pid" slurmd
  stop_pid_file "$D/run/slurmctld.pid" slurmctld
  stop_pid_file "$D/munge/munged.pid" munged
  ;;
*)
  echo "local-slurm: unknown command '$cmd'; expected start or stop" >&2
  exit 2
  ;;
esac
