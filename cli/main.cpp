// entropycam: explain CNN decisions with class activation maps. Dispatches to the subcommands.
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>

#include "cli/args.h"
#include "cli/commands.h"
#include "nn/tensor.h"

using namespace ec::cli;

namespace {

// One line per subcommand (each defined in cli/cmd_<name>.cpp); the last entry ends the table.
const CommandInfo kCommands[] = {
    {"convert", cmd_convert, "convert a TFLite model into an entropycam weight file"},
    {"classify", cmd_classify, "top-K classes of images"},
    {"layers", cmd_layers, "list a model's tensors and the ones a CAM can target"},
    {"explain", cmd_explain, "CAM overlays, raw maps and the grid figure for images"},
    {"evaluate", cmd_evaluate, "faithfulness and localisation metrics of the CAMs and baselines"},
    {"summarize", cmd_summarize, "merge evaluate CSVs (e.g. shards) into one table"},
    {"sanity", cmd_sanity, "do the maps change when the model is randomised, or the class changes?"},
    {"bench", cmd_bench, "time model load, forward, backward and explain (median and minimum)"},
    {"report", cmd_report, "HTML audit report of images (and evaluate/sanity CSVs); --walkthrough: one image step by step"},
    {"synth", cmd_synth, "write the synthetic shapes benchmark (images, evidence masks, labels.csv)"},
    {"train", cmd_train, "train a vgg or gap CNN on a synth folder with the hand-written backward pass"},
    {"synth-grid", cmd_synth_grid, "explanations of synth images with the evidence mask outlined"},
    {nullptr, nullptr, nullptr},
};

void print_help(FILE* out) {
    std::fprintf(out,
                 "usage: entropycam COMMAND [OPTIONS] ...\n\n"
                 "Explain CNN decisions with class activation maps (Grad-CAM, HiResCAM, Respond-CAM,\n"
                 "Grad Entropy-CAM, Feature Entropy-CAM) on real pretrained ImageNet models.\n\ncommands:\n");
    for (const CommandInfo* c = kCommands; c->name; ++c) std::fprintf(out, "  %-10s %s\n", c->name, c->summary);
    std::fprintf(out,
                 "\n`entropycam COMMAND --help` describes a command.\n\n"
                 "exit codes:\n"
                 "  0  success\n"
                 "  1  bad input: a missing, corrupt or oversized file, unknown model, layer or class\n"
                 "  2  usage error: unknown option, missing or malformed value\n"
                 "  3  internal error (a bug; please report it)\n");
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help")) {
        print_help(argc < 2 ? stderr : stdout);
        return argc < 2 ? kExitUsage : kExitOk;
    }
    const CommandInfo* cmd = nullptr;
    for (const CommandInfo* c = kCommands; c->name; ++c)
        if (!std::strcmp(c->name, argv[1])) cmd = c;
    if (!cmd) {
        std::fprintf(stderr, "entropycam: unknown command '%s' (see entropycam --help)\n", argv[1]);
        return kExitUsage;
    }
    std::vector<std::string> args(argv + 2, argv + argc);
    try {
        return cmd->run(args);
    } catch (const UsageError& e) {
        std::fprintf(stderr, "entropycam %s: %s (see entropycam %s --help)\n", cmd->name, e.what(), cmd->name);
        return kExitUsage;
    } catch (const ec::Error& e) {
        std::fprintf(stderr, "entropycam %s: %s\n", cmd->name, e.what());
        return kExitBadInput;
    } catch (const std::bad_alloc&) {
        std::fprintf(stderr, "entropycam %s: out of memory\n", cmd->name);
        return kExitInternal;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "entropycam %s: internal error: %s\n", cmd->name, e.what());
        return kExitInternal;
    }
}
