#include "cli/shard_progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>

#include "cli/args.h"
#include "nn/error.h"

namespace ec::cli {

Shard shard_option(const std::string& text) {
    try { return resolve_shard(text, process_environment()); } catch (const Error& e) { throw UsageError(e.what()); }
}

std::vector<size_t> shard_positions(const Shard& shard, size_t total) {
    std::vector<size_t> out;
    for (size_t i = 0; i < total; ++i)
        if (in_shard(shard, i)) out.push_back(i);
    return out;
}

std::string format_duration(double seconds) {
    char buf[32];
    const long s = std::lround(seconds);
    if (s >= 3600) std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, s / 60 % 60);
    else if (s >= 60) std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
    else std::snprintf(buf, sizeof buf, "%lds", s);
    return buf;
}

void ProgressLine::update(size_t done, size_t total, const std::string& name) {
    ++evaluated;
    const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (t < 1.0 && !printed) return;
    printed = true;
    const bool tty = ::isatty(2);
    const double eta = t / double(evaluated) * double(total - done);
    std::fprintf(stderr, "%s%s: %zu/%zu inputs, %s elapsed, ETA %s (%s)%s", tty ? "\r\033[K" : "", what.c_str(), done,
                 total, format_duration(t).c_str(), format_duration(eta).c_str(), name.c_str(), tty ? "" : "\n");
    std::fflush(stderr);
}

void ProgressLine::finish() {
    if (printed && ::isatty(2)) std::fputc('\n', stderr);
}

}  // namespace ec::cli
