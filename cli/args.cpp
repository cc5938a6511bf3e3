#include "cli/args.h"

#include <cerrno>
#include <cstdlib>

namespace ec::cli {

std::string Args::get(const std::string& flag, const std::string& fallback) const {
    auto it = values.find(flag);
    return it == values.end() ? fallback : it->second;
}

int Args::get_int(const std::string& flag, int fallback, int lo, int hi) const {
    auto it = values.find(flag);
    if (it == values.end()) return fallback;
    const std::string& s = it->second;
    char* end = nullptr;
    errno = 0;
    long v = std::strtol(s.c_str(), &end, 10);
    if (s.empty() || *end != '\0' || errno == ERANGE || v < lo || v > hi)
        throw UsageError(flag + " takes a whole number from " + std::to_string(lo) + " to " + std::to_string(hi) +
                         ", got '" + s + "'");
    return int(v);
}

Args parse_args(const std::vector<std::string>& argv, const std::set<std::string>& value_flags,
                const std::set<std::string>& switch_flags) {
    Args a;
    bool only_positional = false;
    for (size_t i = 0; i < argv.size(); ++i) {
        const std::string& arg = argv[i];
        if (only_positional || arg.size() < 2 || arg[0] != '-' || arg == "-") {
            a.positional.push_back(arg);
            continue;
        }
        if (arg == "--") { only_positional = true; continue; }
        std::string flag = arg, value;
        bool inline_value = false;
        size_t eq = arg.find('=');
        if (eq != std::string::npos) { flag = arg.substr(0, eq); value = arg.substr(eq + 1); inline_value = true; }
        if (value_flags.count(flag)) {
            if (!inline_value) {
                if (i + 1 >= argv.size()) throw UsageError(flag + " needs a value");
                value = argv[++i];
            }
            if (a.values.count(flag)) throw UsageError(flag + " given twice");
            a.values[flag] = value;
        } else if (switch_flags.count(flag)) {
            if (inline_value) throw UsageError(flag + " takes no value");
            a.switches.insert(flag);
        } else {
            throw UsageError("unknown option " + flag);
        }
    }
    return a;
}

std::vector<std::string> split_list(const std::string& text, const std::string& what) {
    std::vector<std::string> parts;
    size_t start = 0;
    while (true) {
        size_t comma = text.find(',', start);
        std::string part = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (part.empty()) throw UsageError(what + " has an empty item in '" + text + "'");
        parts.push_back(part);
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return parts;
}

}  // namespace ec::cli
