// The subcommands of `entropycam`. Each takes its arguments (after the subcommand name), writes results to
// stdout or files and diagnostics to stderr, and returns an exit code from cli/args.h. They throw
// ec::cli::UsageError for bad flags and ec::Error for bad input; main() turns those into one-line messages.
#pragma once
#include <string>
#include <vector>

namespace ec::cli {

using Command = int (*)(const std::vector<std::string>& args);

struct CommandInfo {
    const char* name;
    Command run;
    const char* summary;
};

// Defined in cli/cmd_<name>.cpp; listed in cli/main.cpp.
int cmd_convert(const std::vector<std::string>& args);
int cmd_classify(const std::vector<std::string>& args);
int cmd_layers(const std::vector<std::string>& args);
int cmd_explain(const std::vector<std::string>& args);
int cmd_evaluate(const std::vector<std::string>& args);
int cmd_summarize(const std::vector<std::string>& args);
int cmd_bench(const std::vector<std::string>& args);
int cmd_sanity(const std::vector<std::string>& args);
int cmd_report(const std::vector<std::string>& args);
int cmd_synth(const std::vector<std::string>& args);
int cmd_train(const std::vector<std::string>& args);
int cmd_synth_grid(const std::vector<std::string>& args);

}  // namespace ec::cli
