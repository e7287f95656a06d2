#!/bin/bash
# The Slurm path for real, on one node: starts munge and a single-node Slurm (slurmctld + slurmd,
# configured here, state under a scratch folder), generates three counties (one with its buildings
# workbook cut short), submits them with submit.sh, waits for the merge job, and checks two county
# packages, the broken county named in the status table, and the merged package. Prints the job ids
# and the wall time. Skipped, saying so, when Slurm or munge is not installed (Debian: slurm-wlm,
# munge). Needs root (it starts the daemons) and the riskcensus binary ($RISKCENSUS or on PATH).
#   deploy/slurm/test-slurm.sh
set -euo pipefail
for cmd in slurmctld slurmd sbatch munged; do
    if ! command -v "$cmd" >/dev/null 2>&1; then
        echo "skipped: $cmd is not installed (Debian: apt-get install slurm-wlm munge)"
        exit 0
    fi
done
if [ "$(id -u)" -ne 0 ]; then
    echo "skipped: starting slurmctld, slurmd and munged needs root"
    exit 0
fi
RISKCENSUS=$(command -v "${RISKCENSUS:-riskcensus}") || { echo "no riskcensus binary (set RISKCENSUS)" >&2; exit 2; }
export RISKCENSUS
HERE=$(dirname "$(realpath "$0")")
WORK=$(mktemp -d /tmp/riskcensus-slurm.XXXXXX)
HOST=$(hostname -s)
CPUS=$(nproc)
MEM=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 512 ))
pids=()
cleanup() {
    scancel --quiet --user=root 2>/dev/null || true
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT

# munge: a key of our own, the daemon in the foreground under our control.
mkdir -p "$WORK/munge" /run/munge
dd if=/dev/urandom bs=1 count=1024 of="$WORK/munge/munge.key" status=none
chmod 700 "$WORK/munge"; chmod 400 "$WORK/munge/munge.key"
munged --foreground --force --key-file="$WORK/munge/munge.key" \
    --socket=/run/munge/munge.socket.2 --pid-file="$WORK/munge/munged.pid" \
    --log-file="$WORK/munge/munged.log" --seed-file="$WORK/munge/munged.seed" \
    2> "$WORK/munge/munged.out" &
pids+=($!)
sleep 1

# Slurm: one node, this machine, everything under $WORK.
mkdir -p "$WORK/spool/ctld" "$WORK/spool/d" "$WORK/log"
cat > "$WORK/slurm.conf" <<CONF
ClusterName=riskcensus-test
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$WORK/spool/ctld
SlurmdSpoolDir=$WORK/spool/d
SlurmctldPidFile=$WORK/slurmctld.pid
SlurmdPidFile=$WORK/slurmd.pid
SlurmctldLogFile=$WORK/log/slurmctld.log
SlurmdLogFile=$WORK/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
NodeName=$HOST CPUs=$CPUS RealMemory=$MEM State=UNKNOWN
PartitionName=main Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$WORK/slurm.conf"
slurmctld -D -f "$SLURM_CONF" > "$WORK/log/slurmctld.out" 2>&1 &
pids+=($!)
sleep 2
slurmd -D -f "$SLURM_CONF" > "$WORK/log/slurmd.out" 2>&1 &
pids+=($!)
for _ in $(seq 30); do
    if sinfo -h -o %T 2>/dev/null | grep -qE 'idle|mixed'; then break; fi
    sleep 1
done
sinfo -h -o "%P %T %c CPUs %m MB" || { cat "$WORK/log/"*; exit 2; }

# Three counties, one broken.
for spec in 530402:7 530381:8 530302:9; do
    "$RISKCENSUS" gen-fixtures --county "${spec%%:*}" --seed "${spec##*:}" --buildings 1000 \
        --out "$WORK/counties/${spec%%:*}" > /dev/null
done
head -c 5000 "$WORK/counties/530381/fwjz.xlsx" > "$WORK/cut.xlsx"
mv "$WORK/cut.xlsx" "$WORK/counties/530381/fwjz.xlsx"

# The scripts take their resource requests from their headers; scale them to this node.
sed -e "s/--mem=4G/--mem=$(( MEM / 3 ))M/" -e "s/--cpus-per-task=2/--cpus-per-task=1/" \
    "$HERE/county.sbatch" > "$WORK/county.sbatch"
sed -e "s/--mem=8G/--mem=$(( MEM / 2 ))M/" -e "s/--cpus-per-task=2/--cpus-per-task=$CPUS/" \
    "$HERE/merge.sbatch" > "$WORK/merge.sbatch"
cp "$HERE/submit.sh" "$WORK/submit.sh"
start=$(date +%s.%N)
line=$("$WORK/submit.sh" "$WORK/counties" "$WORK/out" 3)
echo "$line"
merge=$(echo "$line" | sed -E 's/.*merge job ([0-9]+).*/\1/')
array=$(echo "$line" | sed -E 's/array job ([0-9]+).*/\1/')
for _ in $(seq 600); do
    if ! squeue -h -j "$merge" 2>/dev/null | grep -q .; then break; fi
    sleep 1
done
end=$(date +%s.%N)
echo "wall time from submit to merge done: $(echo "$end - $start" | bc) s"
sacct -j "$array,$merge" -o JobID,JobName,State,ExitCode,Elapsed 2>/dev/null \
    || scontrol show job "$merge" | grep -E 'JobState|ExitCode' || true
echo "--- status table"
cat "$WORK/out/batch_status.csv" || true
echo
fail=0
for c in 530402 530302; do
    ls "$WORK/out/${c}_synthetic/"*.zip > /dev/null 2>&1 || { echo "FAIL: no package for $c"; fail=1; }
done
grep -qs '"530381".*failed.*fwjz.xlsx' "$WORK/out/batch_status.csv" || { echo "FAIL: 530381 not named as failed"; fail=1; }
ls "$WORK/out/merged/"*.zip > /dev/null 2>&1 || { echo "FAIL: no merged package"; fail=1; }
for t in 0 1 2; do
    [ -f "$WORK/out/batch_status_task$t.csv" ] || { echo "FAIL: task $t wrote no status"; fail=1; }
done
if [ "$fail" -eq 0 ]; then
    echo "PASS: 2 county packages, 530381 failed and named, merged package $(ls "$WORK/out/merged/"*.zip)"
    rm -rf "$WORK"
else
    echo "logs kept in $WORK"
fi
exit "$fail"
