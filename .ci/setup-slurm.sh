#!/usr/bin/env bash
# A real single-node SLURM (Debian 12: 22.05) with accounting, for tests/workflow/test_slurm.py.
# Run as root; idempotent: a second run rewrites nothing and only checks that srun works.
# No init system here, so every daemon is started by hand. Prints the partition and account
# to use; exits non-zero, saying why, when SLURM cannot be started.
set -euo pipefail
PARTITION=${SLURM_PARTITION:-debug} ACCOUNT=${SLURM_ACCOUNT:-ci} CLUSTER=${SLURM_CLUSTER:-ci}
HOST=$(hostname -s) USERS="root ${SUDO_USER:-}" LOGS=/var/log/slurm CHANGED=0

die() { echo "setup-slurm: ERROR: $*" >&2; exit 1; }
show_log() { [[ -f $1 ]] && { echo "--- last lines of $1:" >&2; tail -n 15 "$1" >&2; }; true; }
wait_for() {  # wait_for SECONDS WHAT LOG COMMAND...: poll COMMAND once a second
    local seconds=$1 what=$2 log=$3 out; shift 3
    for ((i = 0; i < seconds; i++)); do out=$("$@" 2>&1) && return 0; sleep 1; done
    show_log "$log"; die "$what did not come up within ${seconds}s; \`$*\` said: $out"
}
running() { pgrep -x "$1" >/dev/null; }
put() {  # put FILE < content: replace FILE only when the content differs
    local new; new=$(cat)
    [[ -f $1 && $(cat "$1") == "$new" ]] || { printf '%s\n' "$new" >"$1"; CHANGED=1; }
}
ready() {  # srun in that partition and account (associations are enforced), and sacct answers
    scontrol ping 2>/dev/null | grep -q UP && sacct -n -X >/dev/null 2>&1 \
        && timeout 30 srun -N1 -p "$PARTITION" -A "$ACCOUNT" hostname >/dev/null 2>&1
}
report() {
    echo "setup-slurm: SLURM ready on $HOST ($(sinfo -h -N -o '%c CPUs, %m MiB' | head -n1))"
    echo "SLURM_PARTITION=$PARTITION"
    echo "SLURM_ACCOUNT=$ACCOUNT"
}

[[ $(id -u) == 0 ]] || die "must run as root (it installs packages and starts daemons)"
for name in "$PARTITION" "$ACCOUNT" "$CLUSTER"; do
    [[ $name =~ ^[A-Za-z0-9_-]+$ ]] || die "partition, account and cluster names are letters, digits, _ and -: '$name'"
done
installed() { local bin; for bin; do command -v "$bin" >/dev/null || return 1; done; }
if ! installed slurmctld slurmd slurmdbd munged mysqld_safe; then
    echo "setup-slurm: installing slurm-wlm slurmdbd munge mariadb-server"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || die "apt-get update failed"
    apt-get install -y -qq --no-install-recommends slurm-wlm slurmdbd munge mariadb-server >/dev/null \
        || die "apt-get install of slurm-wlm slurmdbd munge mariadb-server failed"
fi

# --- configuration --------------------------------------------------------------------------
mkdir -p /etc/slurm /var/lib/slurm/slurmctld /var/lib/slurm/slurmd $LOGS /run/munge /run/mysqld
MEM=$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)  # MiB; 10 % left to the OS
# EnforcePartLimits=ALL: a job asking for more than the node has is refused at sbatch time
# instead of pending forever (Reason=PartitionConfig). job_comment: sacct shows the rule.
put /etc/slurm/slurm.conf <<EOF
ClusterName=$CLUSTER
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=500
EnforcePartLimits=ALL
ReturnToService=2
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageEnforce=associations
AccountingStoreFlags=job_comment
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=$MEM State=UNKNOWN
PartitionName=$PARTITION Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
put /etc/slurm/slurmdbd.conf <<EOF
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
LogFile=$LOGS/slurmdbd.log
PidFile=/run/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageUser=slurm
StoragePass=slurm
StorageLoc=slurm_acct_db
EOF
chmod 600 /etc/slurm/slurmdbd.conf
if ((CHANGED == 0)) && ready; then report; exit 0; fi

# --- daemons: munge, mariadb, slurmdbd, slurmctld, slurmd -------------------------------------
stop() {  # stop DAEMON: by its PID file, when that PID is still this daemon
    local pid; pid=$(cat "/run/$1.pid" 2>/dev/null) || return 0
    [[ $(ps -o comm= -p "$pid" 2>/dev/null) == "$1" ]] || return 0
    kill "$pid"; for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.2; done
    die "$1 (pid $pid) did not stop"
}
if ((CHANGED)); then stop slurmd; stop slurmctld; stop slurmdbd; fi  # they keep their old config
[[ -s /etc/munge/munge.key ]] || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
chown munge:munge /etc/munge/munge.key /run/munge && chmod 400 /etc/munge/munge.key
running munged || runuser -u munge -- /usr/sbin/munged </dev/null || die "munged failed to start"
wait_for 20 munge /var/log/munge/munged.log sh -c 'munge -n | unmunge'

chown mysql:mysql /run/mysqld
[[ -d /var/lib/mysql/mysql ]] || mariadb-install-db --user=mysql >/dev/null || die "mariadb-install-db failed"
running mariadbd || running mysqld || { setsid nohup mysqld_safe --user=mysql </dev/null >/dev/null 2>&1 & }
wait_for 60 mariadb /var/log/mysql/error.log mysqladmin ping
mysql -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db;
          CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurm';
          GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';" || die "could not create the accounting database"

running slurmdbd || slurmdbd </dev/null || die "slurmdbd failed to start"
wait_for 60 slurmdbd $LOGS/slurmdbd.log sacctmgr -n show cluster
add() { sacctmgr -i add "$@" >/dev/null || die "sacctmgr add $* failed"; }
sacctmgr -n -P show cluster format=cluster | grep -qx "$CLUSTER" || add cluster "$CLUSTER"
sacctmgr -n -P show account format=account | grep -qx "$ACCOUNT" \
    || add account "$ACCOUNT" Cluster="$CLUSTER" Description=CI Organization=ci
for user in $USERS; do
    [[ -n $(sacctmgr -n -P show assoc where account="$ACCOUNT" user="$user" format=user) ]] \
        || add user "$user" Account="$ACCOUNT" Cluster="$CLUSTER"
done

running slurmctld || slurmctld </dev/null || die "slurmctld failed to start"
wait_for 30 slurmctld $LOGS/slurmctld.log sh -c 'scontrol ping | grep -q UP'
running slurmd || slurmd </dev/null || die "slurmd failed to start"
state() { sinfo -h -n "$HOST" -o %t; }
for ((i = 0; i < 30; i++)); do  # resume it when down, drained or stuck completing (killed slurmd)
    state | grep -Eq '^(idle|mix|alloc)' && break
    if state | grep -Eq 'drain|down' || { ((i >= 10)) && state | grep -q comp; }; then
        scontrol update nodename="$HOST" state=down reason=setup-slurm && scontrol update nodename="$HOST" state=resume
    fi 2>/dev/null || true
    sleep 1
done
state | grep -Eq '^(idle|mix|alloc)' || { show_log $LOGS/slurmd.log; die "node $HOST is $(state): $(sinfo -h -N -o %E)"; }
ready || { show_log $LOGS/slurmctld.log; die "srun -N1 hostname does not run (or sacct does not answer)"; }
report
