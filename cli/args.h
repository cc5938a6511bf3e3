// A small, strict command-line parser shared by the subcommands: `--flag value`, `--flag=value`, boolean
// `--switch`, and positional arguments. Unknown flags and missing or malformed values are usage errors.
#pragma once
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace ec::cli {

// Exit codes, documented in `entropycam --help` and the README.
constexpr int kExitOk = 0;
constexpr int kExitBadInput = 1;   // a file, model, layer or class that cannot be used
constexpr int kExitUsage = 2;      // a bad flag or argument
constexpr int kExitInternal = 3;   // a bug: please report it

struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct Args {
    std::map<std::string, std::string> values;  // flags that take a value
    std::set<std::string> switches;             // boolean flags given
    std::vector<std::string> positional;

    bool has(const std::string& flag) const { return values.count(flag) || switches.count(flag); }
    std::string get(const std::string& flag, const std::string& fallback = "") const;
    // Integer flag in [lo, hi]; UsageError naming the flag otherwise.
    int get_int(const std::string& flag, int fallback, int lo, int hi) const;
};

// value_flags take a value, switch_flags do not; both are written with their dashes, e.g. "--top".
Args parse_args(const std::vector<std::string>& argv, const std::set<std::string>& value_flags,
                const std::set<std::string>& switch_flags);

// Splits "a,b,c" into its parts (empty parts are a UsageError naming `what`).
std::vector<std::string> split_list(const std::string& text, const std::string& what);

}  // namespace ec::cli
