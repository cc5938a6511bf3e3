// `entropycam classify`: the top-K classes of each input image, as text or one JSON document.
#include <cstdio>

#include "api/network.h"
#include "cam/pipeline.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/paths.h"
#include "io/image.h"
#include "io/json.h"

namespace ec::cli {
namespace {

const char* kUsage =
    "usage: entropycam classify [--model M] [--top K] [--json] INPUT...\n"
    "Prints the K most likely classes of each input (an image, a folder of images, or a .npy input).\n"
    "  --model M  model name (build/weights/M.ecw) or .ecw file; default mobilenet_v2_1.0_224_quant\n"
    "  --top K    how many classes per input (default 5)\n"
    "  --json     one JSON document: {\"model\", \"inputs\": [{\"file\", \"top\": [{\"index\", \"label\", \"logit\", \"prob\"}]}]}\n";

}  // namespace

int cmd_classify(const std::vector<std::string>& argv) {
    Args a = parse_args(argv, {"--model", "--top"}, {"--json", "--help"});
    if (a.has("--help")) { std::fputs(kUsage, stdout); return kExitOk; }
    if (a.positional.empty()) throw UsageError("no INPUT given");
    const int top = a.get_int("--top", 5, 1, 100000);
    const bool json = a.has("--json");

    const Model model = open_model(a.get("--model", "mobilenet_v2_1.0_224_quant"), TfliteSpecs::Refuse);
    const Network net = network_of(model);
    const std::vector<std::string> inputs = expand_inputs(a.positional);
    if (inputs.empty()) throw Error("no image files in " + a.positional[0]);

    Session session;
    std::vector<std::string> docs;
    for (const std::string& path : inputs) {
        const LoadedInput in = load_input(path, model.preprocessing);
        // Probabilities are printed at float precision, as they always were.
        const std::vector<Prediction> best = classify_input(net, session, in.input, top);
        if (json) {
            std::vector<std::string> items;
            for (const Prediction& p : best)
                items.push_back(JsonObject()
                                    .add("index", json_number(p.index))
                                    .add("label", json_string(label_of(model, p.index)))
                                    .add("logit", json_number(p.logit))
                                    .add("prob", json_number(float(p.prob)))
                                    .str());
            docs.push_back(JsonObject().add("file", json_string(path)).add("top", json_array(items)).str());
        } else {
            std::printf("%s\n", path.c_str());
            for (size_t r = 0; r < best.size(); ++r)
                std::printf("  %zu. %6.4f  %s [%d]\n", r + 1, double(float(best[r].prob)), label_of(model, best[r].index).c_str(),
                            best[r].index);
        }
    }
    if (json)
        std::printf("%s\n", JsonObject().add("model", json_string(model.name)).add("inputs", json_array(docs)).str().c_str());
    return kExitOk;
}

}  // namespace ec::cli
