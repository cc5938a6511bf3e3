// `entropycam convert`: a TFLite model -> an .ecw weight file (weights/FORMAT.md). The written file is loaded
// back and checked to hold the same graph before the command reports success.
#include <cstdio>

#include "cli/args.h"
#include "cli/commands.h"
#include "weights/model.h"

namespace ec::cli {
namespace {

const char* kUsage =
    "usage: entropycam convert MODEL.tflite OUT.ecw [--labels FILE]\n"
    "Imports a TFLite MobileNet (weights dequantized to float32) and writes entropycam's weight file, which\n"
    "`classify`, `layers` and `explain` load with --model OUT.ecw (or by name from build/weights/).\n"
    "  --labels FILE  one label per line, one per model output (e.g. imagenet_labels.txt)\n";

}  // namespace

int cmd_convert(const std::vector<std::string>& argv) {
    Args a = parse_args(argv, {"--labels"}, {"--help"});
    if (a.has("--help")) { std::fputs(kUsage, stdout); return kExitOk; }
    if (a.positional.size() != 2) throw UsageError("needs MODEL.tflite and OUT.ecw");
    const std::string& in = a.positional[0];
    const std::string& out = a.positional[1];

    Model model = import_tflite(in, a.get("--labels"));
    save_model(model, out);
    Model back = load_model(out);
    if (back.graph.tensors.size() != model.graph.tensors.size() || back.graph.params.size() != model.graph.params.size())
        throw Error(out + ": the written file does not load back to the same graph");

    int64_t floats = 0;
    for (const Param& p : model.graph.params) floats += p.shape.numel();
    std::printf("%s: %s, %zu nodes, %zu parameters (%.1f MB float32), %zu labels, input %dx%d, logits '%s'\n",
                out.c_str(), model.name.c_str(), model.graph.nodes.size(), model.graph.params.size(),
                double(floats) * 4 / 1e6, model.labels.size(), model.preprocessing.width, model.preprocessing.height,
                model.graph.tensors[size_t(model.logits)].name.c_str());
    return kExitOk;
}

}  // namespace ec::cli
