#include "cam/eval/shard.h"

#include <cstdlib>

#include "nn/error.h"

namespace ec {
namespace {

const char* kAutoHelp =
    "a Slurm job array (sbatch --array=0-(N-1): SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_COUNT) or a Kubernetes "
    "Indexed Job (JOB_COMPLETION_INDEX, with the shard count in ENTROPYCAM_SHARDS)";

// A whole number in [lo, hi] written with digits only (no sign, no spaces); nullopt otherwise.
std::optional<long> whole_number(const std::string& text, long lo, long hi) {
    if (text.empty() || text.size() > 9 || text.find_first_not_of("0123456789") != std::string::npos) return {};
    const long v = std::strtol(text.c_str(), nullptr, 10);
    if (v < lo || v > hi) return {};
    return v;
}

// The variable `name` as a number in [lo, hi]; Error naming it and its value when malformed.
long env_number(const std::string& name, const std::string& value, long lo, long hi) {
    const std::optional<long> v = whole_number(value, lo, hi);
    if (!v)
        throw Error("--shard auto: " + name + "='" + value + "' is not a whole number from " + std::to_string(lo) +
                    " to " + std::to_string(hi));
    return *v;
}

long optional_env_number(const EnvLookup& env, const std::string& name, long fallback, long lo, long hi) {
    const std::optional<std::string> value = env(name);
    return value ? env_number(name, *value, lo, hi) : fallback;
}

Shard checked(long index, long count, const std::string& origin) {
    if (index >= count)
        throw Error("--shard auto: " + origin + " gives shard index " + std::to_string(index) + ", but there are only " +
                    std::to_string(count) + " shards (0.." + std::to_string(count - 1) + ")");
    return Shard{int(index), int(count), origin};
}

Shard slurm_shard(const EnvLookup& env, const std::string& id_text) {
    const long id = env_number("SLURM_ARRAY_TASK_ID", id_text, 0, 1L << 30);
    std::string origin = "SLURM_ARRAY_TASK_ID=" + id_text;
    if (const std::optional<std::string> shards = env("ENTROPYCAM_SHARDS")) {
        const long count = env_number("ENTROPYCAM_SHARDS", *shards, 1, kMaxShards);
        return checked(id, count, origin + " with ENTROPYCAM_SHARDS=" + *shards);
    }
    const std::optional<std::string> count_text = env("SLURM_ARRAY_TASK_COUNT");
    if (!count_text)
        throw Error("--shard auto: SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not; set ENTROPYCAM_SHARDS "
                    "to the number of shards");
    const long count = env_number("SLURM_ARRAY_TASK_COUNT", *count_text, 1, kMaxShards);
    const long min = optional_env_number(env, "SLURM_ARRAY_TASK_MIN", 0, 0, 1L << 30);
    const long step = optional_env_number(env, "SLURM_ARRAY_TASK_STEP", 1, 1, 1L << 30);
    const long max = optional_env_number(env, "SLURM_ARRAY_TASK_MAX", min + (count - 1) * step, 0, 1L << 30);
    // A list such as --array=0,2,7 has no index arithmetic: MIN + (COUNT - 1) * STEP is not its MAX.
    if (max != min + (count - 1) * step)
        throw Error("--shard auto: the Slurm array is not one range (" + std::to_string(count) + " tasks from " +
                    std::to_string(min) + " to " + std::to_string(max) + " in steps of " + std::to_string(step) +
                    "); submit it as --array=0-(N-1), or set ENTROPYCAM_SHARDS=N to take the array ID as the shard");
    if (id < min || (id - min) % step != 0)
        throw Error("--shard auto: SLURM_ARRAY_TASK_ID=" + id_text + " is not in the array " + std::to_string(min) + "-" +
                    std::to_string(max) + ":" + std::to_string(step));
    if (min != 0 || step != 1) origin += " (min " + std::to_string(min) + ", step " + std::to_string(step) + ")";
    return checked((id - min) / step, count, origin + " of SLURM_ARRAY_TASK_COUNT=" + *count_text);
}

Shard kubernetes_shard(const EnvLookup& env, const std::string& index_text) {
    const long index = env_number("JOB_COMPLETION_INDEX", index_text, 0, kMaxShards - 1);
    const std::optional<std::string> shards = env("ENTROPYCAM_SHARDS");
    if (!shards)
        throw Error("--shard auto: JOB_COMPLETION_INDEX is set (a Kubernetes Indexed Job) but ENTROPYCAM_SHARDS is not; "
                    "set it to the Job's completions");
    const long count = env_number("ENTROPYCAM_SHARDS", *shards, 1, kMaxShards);
    return checked(index, count, "JOB_COMPLETION_INDEX=" + index_text + " of ENTROPYCAM_SHARDS=" + *shards);
}

}  // namespace

EnvLookup process_environment() {
    return [](const std::string& name) -> std::optional<std::string> {
        const char* v = std::getenv(name.c_str());
        if (!v) return std::nullopt;
        return std::string(v);
    };
}

Shard parse_shard(const std::string& text) {
    const size_t slash = text.find('/');
    const std::optional<long> count = slash == std::string::npos ? std::nullopt
                                                                 : whole_number(text.substr(slash + 1), 1, kMaxShards);
    const std::optional<long> index = count ? whole_number(text.substr(0, slash), 0, *count - 1) : std::nullopt;
    if (!index)
        throw Error("--shard takes I/N with 0 <= I < N <= " + std::to_string(kMaxShards) + ", or auto; got '" + text + "'");
    return Shard{int(*index), int(*count), "--shard " + text};
}

Shard shard_from_environment(const EnvLookup& env) {
    if (const std::optional<std::string> id = env("SLURM_ARRAY_TASK_ID")) return slurm_shard(env, *id);
    if (const std::optional<std::string> index = env("JOB_COMPLETION_INDEX")) return kubernetes_shard(env, *index);
    if (env("SLURM_JOB_ID"))
        throw Error("--shard auto: this Slurm job is not a job array (SLURM_ARRAY_TASK_ID is not set); submit it with "
                    "sbatch --array=0-(N-1)");
    throw Error(std::string("--shard auto: no shard in the environment; it is set by ") + kAutoHelp);
}

Shard resolve_shard(const std::string& text, const EnvLookup& env) {
    return text == "auto" ? shard_from_environment(env) : parse_shard(text);
}

}  // namespace ec
