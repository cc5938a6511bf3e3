#!/usr/bin/env bash
# `make test-slurm`: the Slurm deployment (deploy/slurm/) on a real, single-node Slurm cluster started here.
#  1. installs Debian's slurmctld, slurmd, slurm-client and munge where missing (we are root; no systemd needed);
#  2. starts munged, slurmctld and slurmd by hand in a temporary folder (own slurm.conf, key, state, spool,
#     free ports on 127.0.0.1); all three are stopped by their process ids on exit, also on failure;
#  3. evaluates N_IMAGES images of $ENTROPYCAM_SHARED/images/imagenet-dev in one process (the reference);
#  4. submits audit.sbatch as a 4-task array plus the dependent summarize.sbatch, and checks that the merged
#     summary.csv and summary.md equal the reference byte for byte;
#  5. runs the array again, cancels one task mid-run (scancel) once it has written some rows, checks the merge
#     is refused while that shard is unfinished, re-submits that index alone, merges, and checks the result is
#     again byte-identical (so no row was lost or duplicated).
# Each stage is printed. Environment: ENTROPYCAM_CLI (the binary), ENTROPYCAM_SHARED (the data folder),
# TEST_SLURM_STEPS (curve steps, default 5), TEST_SLURM_TIMEOUT (seconds per wait, default 900).
set -euo pipefail

cd "$(dirname "$0")/../.."
repo=$(pwd)
cli=$(realpath "${ENTROPYCAM_CLI:-build/entropycam}")
shared=$(realpath "${ENTROPYCAM_SHARED:-../shared}")
n_images=12
n_shards=4
steps=${TEST_SLURM_STEPS:-5}
timeout=${TEST_SLURM_TIMEOUT:-900}
methods_per_image=7   # evaluate without --methods: the poster's five CAMs and two baselines

t0=$(date +%s)
cpus=$(nproc --all)
stage() { echo "[test-slurm +$(( $(date +%s) - t0 ))s] $*"; }
fail() { echo "[test-slurm] FAILED: $*" >&2; exit 1; }
seconds_since() { local ns=$(( $(date +%s%N) - $1 )); printf "%d.%d" $(( ns / 1000000000 )) $(( ns / 100000000 % 10 )); }

[ -x "$cli" ] || fail "$cli is not built (make build/entropycam)"
[ -d "$shared/images/imagenet-dev" ] || fail "no images at $shared/images/imagenet-dev (set ENTROPYCAM_SHARED)"
[ "$(id -u)" = 0 ] || fail "must run as root (it installs packages and runs the Slurm daemons)"

# ---- 1. packages ----
missing=()
for p in slurmctld slurmd slurm-client munge; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    stage "installing ${missing[*]} (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
fi
stage "Slurm $(slurmctld -V | awk '{print $2}'), munge $(munged -V | awk '{print $1}' | cut -d- -f2)"

# ---- 2. a single-node cluster in a temporary folder ----
tmp=$(mktemp -d /tmp/entropycam-slurm.XXXXXX)
chmod 755 "$tmp"   # munged wants its socket's folders searchable by all
mkdir -p "$tmp/munge" "$tmp/run" "$tmp/state" "$tmp/spool" "$tmp/log" "$tmp/images"
chmod 700 "$tmp/munge"
pids=()
cleanup() {
    local rc=$?
    set +e
    if [ -n "${SLURM_CONF:-}" ] && [ -f "${SLURM_CONF}" ]; then
        local jobs
        jobs=$(squeue -h -o %A 2>/dev/null)
        if [ -n "$jobs" ]; then
            scancel $jobs 2>/dev/null
            for _ in $(seq 1 50); do [ -z "$(squeue -h 2>/dev/null)" ] && break; sleep 0.2; done
        fi
    fi
    # Stop the daemons by process id: slurmd, slurmctld, then munged (reverse order of start).
    local i
    for (( i=${#pids[@]}-1; i>=0; i-- )); do
        kill "${pids[$i]}" 2>/dev/null
        for _ in $(seq 1 50); do kill -0 "${pids[$i]}" 2>/dev/null || break; sleep 0.1; done
        kill -9 "${pids[$i]}" 2>/dev/null
    done
    if [ $rc -ne 0 ]; then
        echo "[test-slurm] logs kept in $tmp; the last lines of the controller and node logs:" >&2
        tail -n 15 "$tmp/log/slurmctld.log" "$tmp/log/slurmd.log" >&2 2>/dev/null
    else
        rm -rf "$tmp"
    fi
    exit $rc
}
trap cleanup EXIT
trap 'echo "[test-slurm] FAILED at line $LINENO: $BASH_COMMAND" >&2' ERR
trap 'exit 130' INT TERM

# Two free TCP ports on 127.0.0.1 for the controller and the node daemon.
port_free() { ! ss -ltnH 2>/dev/null | awk '{print $4}' | grep -q ":$1\$"; }
port=$(( 20000 + $$ % 20000 ))
while ! port_free "$port" || ! port_free $(( port + 1 )); do port=$(( port + 2 )); done

node=$(hostname -s)
dd if=/dev/urandom of="$tmp/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$tmp/munge/munge.key"
munged --key-file="$tmp/munge/munge.key" --socket="$tmp/run/munge.sock" --pid-file="$tmp/run/munged.pid" \
       --log-file="$tmp/log/munged.log" --seed-file="$tmp/munge/munged.seed"
pids+=("$(cat "$tmp/run/munged.pid")")

export SLURM_CONF="$tmp/slurm.conf"
cat > "$SLURM_CONF" <<EOF
# A one-node test cluster for Slurm 22.05 (Debian 12): no cgroups, no accounting, no systemd.
ClusterName=entropycam-test
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$(( port + 1 ))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$tmp/run/munge.sock
CredType=cred/munge
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/run/slurmctld.pid
SlurmdPidFile=$tmp/run/slurmd.pid
SlurmctldLogFile=$tmp/log/slurmctld.log
SlurmdLogFile=$tmp/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
MpiDefault=none
SwitchType=switch/none
ReturnToService=2
MinJobAge=3600
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=test Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
slurmctld -f "$SLURM_CONF"
for _ in $(seq 1 50); do [ -s "$tmp/run/slurmctld.pid" ] && break; sleep 0.1; done
pids+=("$(cat "$tmp/run/slurmctld.pid")")
slurmd -f "$SLURM_CONF" -N "$node"
for _ in $(seq 1 50); do [ -s "$tmp/run/slurmd.pid" ] && break; sleep 0.1; done
pids+=("$(cat "$tmp/run/slurmd.pid")")
for _ in $(seq 1 100); do
    state=$(sinfo -h -N -o %T 2>/dev/null || true)
    [ "$state" = idle ] && break
    sleep 0.3
done
[ "$state" = idle ] || fail "the node did not become idle (sinfo says '$state')"
stage "cluster up: node $node with $cpus CPUs, ports $port/$(( port + 1 )), daemons ${pids[*]} (munged, slurmctld, slurmd)"

# ---- 3. the reference: one process over the same images ----
all_images=("$shared"/images/imagenet-dev/*.JPEG)   # glob order: sorted in the C locale below
mapfile -t all_images < <(printf "%s\n" "${all_images[@]}" | LC_ALL=C sort)
for f in "${all_images[@]:0:$n_images}"; do ln -s "$f" "$tmp/images/"; done
[ "$(ls "$tmp/images" | wc -l)" = "$n_images" ] || fail "fewer than $n_images images in $shared/images/imagenet-dev"
model="$tmp/mobilenet_v2_1.0_224_quant.ecw"
"$cli" convert "$shared/models/mobilenet_v2_1.0_224_quant.tflite" "$model" \
       --labels "$shared/models/imagenet_labels.txt" >/dev/null
opts=(--model "$model" --steps "$steps")
# One OpenMP thread, as each array task below gets (--cpus-per-task=1): the last digit of a probability may
# differ between thread counts (sums in another order), and the comparisons here are byte for byte.
export OMP_NUM_THREADS=1
stage "reference: entropycam evaluate ${opts[*]} over $n_images images in one process"
t=$(date +%s%N)
"$cli" evaluate "${opts[@]}" --csv "$tmp/single.csv" "$tmp/images" >"$tmp/single.md" 2>"$tmp/single.log" ||
    { cat "$tmp/single.log" >&2; fail "the single-process evaluate failed"; }
stage "reference done in $(seconds_since "$t") s: $(( $(wc -l <"$tmp/single.csv") - 1 )) rows"

export ENTROPYCAM="$cli"
# Waits until none of the given jobs (or array jobs) is queued or running; fails after $timeout seconds.
wait_jobs() {
    local start=$SECONDS
    while [ -n "$(squeue -h -j "$1" 2>/dev/null)" ]; do
        [ $(( SECONDS - start )) -lt "$timeout" ] || fail "jobs $1 still queued after $timeout s: $(squeue -h -j "$1")"
        sleep 1
    done
}
job_state() { scontrol show job "$1" | grep -o 'JobState=[A-Z_]*' | cut -d= -f2 | sort -u | tr '\n' ' ' | sed 's/ $//'; }
sbatch_job() { sbatch --parsable --chdir="$tmp" --output="$tmp/log/slurm-%A_%a.out" "$@"; }
check_merge() {  # OUT_DIR: the merged CSV and table equal the single-process ones
    cmp -s "$1/summary.csv" "$tmp/single.csv" || { diff "$1/summary.csv" "$tmp/single.csv" | head >&2; fail "$1/summary.csv differs from the single-process CSV"; }
    cmp -s "$1/summary.md" "$tmp/single.md" || { diff "$1/summary.md" "$tmp/single.md" >&2; fail "$1/summary.md differs from the single-process table"; }
    local rows dups
    rows=$(tail -n +2 "$1/summary.csv" | wc -l)
    dups=$(tail -n +2 "$1/summary.csv" | cut -d, -f1,7 | sort | uniq -d | wc -l)
    [ "$rows" = $(( n_images * methods_per_image )) ] && [ "$dups" = 0 ] || fail "$rows rows, $dups duplicated"
    stage "merged $1: summary.csv ($rows rows, none duplicated) and summary.md are byte-identical to the single-process run"
}

# ---- 4. the array and the dependent summarize ----
out="$tmp/out1"
t=$(date +%s%N)
array=$(sbatch_job --array=0-$(( n_shards - 1 )) --cpus-per-task=1 deploy/slurm/audit.sbatch "$tmp/images" "$out" "${opts[@]}")
summary=$(sbatch_job --dependency=afterok:"$array" deploy/slurm/summarize.sbatch "$out")
stage "submitted array job $array (--array=0-$(( n_shards - 1 ))) and summarize job $summary (afterok:$array)"
wait_jobs "$array,$summary"
wall=$(seconds_since "$t")
[ "$(job_state "$array")" = COMPLETED ] || fail "array job $array ended $(job_state "$array")"
[ "$(job_state "$summary")" = COMPLETED ] || fail "summarize job $summary ended $(job_state "$summary")"
stage "array and summarize COMPLETED in $wall s (submit to merged table, $n_shards tasks of 1 CPU on $cpus CPUs)"
for i in $(seq 0 $(( n_shards - 1 ))); do
    grep -q "(shard $i/$n_shards, SLURM_ARRAY_TASK_ID=$i of SLURM_ARRAY_TASK_COUNT=$n_shards)" "$out/shard-$i.log" ||
        fail "shard-$i.log does not show shard $i/$n_shards from the array"
done
check_merge "$out"

# ---- 5. a task cancelled mid-run, then re-submitted ----
out="$tmp/out2"
victim=$(( n_shards - 1 ))   # starts last, after the CPUs free up: the longest window to catch it running
per_shard=$(( (n_images - victim + n_shards - 1) / n_shards ))
array=$(sbatch_job --array=0-$(( n_shards - 1 )) --cpus-per-task=1 deploy/slurm/audit.sbatch "$tmp/images" "$out" "${opts[@]}")
stage "submitted array job $array again; waiting for task $victim to write its first rows"
start=$SECONDS
while :; do
    lines=$( { wc -l <"$out/shard-$victim.csv"; } 2>/dev/null || echo 0)
    [ "$lines" -gt 1 ] && break
    [ $(( SECONDS - start )) -lt "$timeout" ] || fail "task $victim wrote no row in $timeout s"
    sleep 0.1
done
scancel "${array}_$victim"
wait_jobs "${array}_$victim"
rows_before=$(( $(wc -l <"$out/shard-$victim.csv") - 1 ))
[ "$rows_before" -lt $(( per_shard * methods_per_image )) ] ||
    fail "task $victim finished all its $rows_before rows before it could be cancelled (raise TEST_SLURM_STEPS)"
[ ! -e "$out/shard-$victim.done" ] || fail "a cancelled task left shard-$victim.done"
stage "cancelled task ${array}_$victim ($(job_state "${array}_$victim")) after $rows_before of its $(( per_shard * methods_per_image )) rows"
wait_jobs "$array"
if bash deploy/slurm/summarize.sbatch "$out" 2>"$tmp/refused.txt" >/dev/null; then
    fail "summarize merged while shard $victim was unfinished"
fi
stage "summarize refuses to merge meanwhile: $(cat "$tmp/refused.txt")"
resubmit=$(sbatch_job --array="$victim" --cpus-per-task=1 --export=ALL,ENTROPYCAM_SHARDS="$n_shards" \
           deploy/slurm/audit.sbatch "$tmp/images" "$out" "${opts[@]}")
summary=$(sbatch_job --dependency=afterok:"$resubmit" deploy/slurm/summarize.sbatch "$out")
stage "re-submitted index $victim as job $resubmit (ENTROPYCAM_SHARDS=$n_shards) and summarize job $summary (afterok:$resubmit)"
wait_jobs "$resubmit,$summary"
[ "$(job_state "$resubmit")" = COMPLETED ] || fail "re-submitted job $resubmit ended $(job_state "$resubmit")"
[ "$(job_state "$summary")" = COMPLETED ] || fail "summarize job $summary ended $(job_state "$summary")"
grep -q "(shard $victim/$n_shards, SLURM_ARRAY_TASK_ID=$victim with ENTROPYCAM_SHARDS=$n_shards)" "$out/shard-$victim.log" ||
    fail "the re-submitted task did not run shard $victim/$n_shards"
rows_after=$(( $(wc -l <"$out/shard-$victim.csv") - 1 ))
[ "$rows_after" = $(( per_shard * methods_per_image )) ] || fail "shard $victim has $rows_after rows after the resume"
stage "the re-submitted task resumed shard $victim: $rows_before rows kept, $(( rows_after - rows_before )) added"
check_merge "$out"
stage "PASSED (cluster run of $n_images images in $n_shards shards: $wall s)"
