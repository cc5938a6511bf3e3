// What the long-running commands share: `--shard I/N|auto` (every N-th input from the I-th, 0-based: see
// cam/eval/shard.h) and a progress line with an ETA on stderr.
#pragma once
#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "cam/eval/shard.h"

namespace ec::cli {

// `--shard I/N` or `--shard auto` (cam/eval/shard.h: from a Slurm job array or a Kubernetes Indexed Job);
// a bad value or a missing scheduler variable is a UsageError.
Shard shard_option(const std::string& text);
// The positions in a list of `total` inputs that the shard evaluates: index, index + count, ...
std::vector<size_t> shard_positions(const Shard& shard, size_t total);

// "42s", "3m05s", "1h02m".
std::string format_duration(double seconds);

// Progress with an ETA on stderr once the run has taken more than a second: one updating line on a terminal,
// otherwise a line per input.
struct ProgressLine {
    std::string what;  // e.g. "sanity"
    std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
    bool printed = false;
    size_t evaluated = 0;  // update() calls in this run: the rate ignores inputs a --resume skipped
    // `done` of `total` inputs are finished, the last one `name`; one input was processed since the last call.
    void update(size_t done, size_t total, const std::string& name);
    void finish();
};

}  // namespace ec::cli
