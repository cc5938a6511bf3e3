// Which part of an input list one process evaluates: `--shard I/N`, or `--shard auto`, where a cluster's
// scheduler says it (a Slurm job array, a Kubernetes Indexed Job). The split is round-robin over the input
// list in its sorted order: shard I takes the inputs at 0-based positions I, I + N, I + 2N, ... (in_shard).
// The list is the same on every machine (folders are expanded to their image files sorted by byte value, not
// by locale), so an input goes to the same shard whatever the machine; adding or removing inputs moves the
// ones after it. The environment is read through an injected lookup, so tests need no setenv.
#pragma once
#include <cstddef>
#include <functional>
#include <optional>
#include <string>

namespace ec {

struct Shard {
    int index = 0;       // 0-based, < count
    int count = 1;
    std::string origin;  // where it came from, for the log: "--shard 1/4", "SLURM_ARRAY_TASK_ID=3 (min 1) ..."
};

constexpr int kMaxShards = 1000000;

// The value of an environment variable, or nullopt when it is not set (an empty value is set, and malformed).
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
// The lookup of this process's environment (std::getenv).
EnvLookup process_environment();

// "I/N" with 0 <= I < N <= kMaxShards. Error naming the text otherwise.
Shard parse_shard(const std::string& text);

// The shard of a cluster task, by the first of these that is set:
//  1. Slurm job array: SLURM_ARRAY_TASK_ID. Index = (ID - SLURM_ARRAY_TASK_MIN) / SLURM_ARRAY_TASK_STEP (MIN 0
//     and STEP 1 when absent: `--array=1-4` gives shards 0..3), count = SLURM_ARRAY_TASK_COUNT. An array that
//     is not one range (`--array=0,2,7`) is refused. When ENTROPYCAM_SHARDS is set, it is the audit's count
//     and the array ID is taken as the 0-based index: that is how single indices of an audit submitted as
//     `--array=0-(N-1)` are re-submitted (`sbatch --array=2 --export=ALL,ENTROPYCAM_SHARDS=N ...`), since
//     Slurm then describes only the new, one-task array.
//  2. Kubernetes Indexed Job: JOB_COMPLETION_INDEX (0-based), count = ENTROPYCAM_SHARDS (the Job's completions;
//     Kubernetes does not expose it).
// Error when none is set, when a value is not a whole number, or when the index is out of range.
Shard shard_from_environment(const EnvLookup& env);

// "auto" -> shard_from_environment(env); anything else -> parse_shard(text).
Shard resolve_shard(const std::string& text, const EnvLookup& env);

// True when the input at 0-based `position` of the full, sorted list belongs to `shard`.
inline bool in_shard(const Shard& shard, size_t position) {
    return position % size_t(shard.count) == size_t(shard.index);
}

}  // namespace ec
