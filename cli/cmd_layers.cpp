// `entropycam layers`: every tensor of a model (name, producing op, shape), marking the ones a CAM can target,
// the default CAM target and the logits.
#include <cstdio>

#include "api/network.h"
#include "cam/explain.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "io/json.h"

namespace ec::cli {
namespace {

const char* kUsage =
    "usage: entropycam layers [--model M] [--json]\n"
    "Lists every tensor of the model in execution order: name, producing op, shape (NHWC, batch 1).\n"
    "Marks: 'cam' = 4-D with a spatial extent (a possible --layer for explain), 'default' = the default CAM\n"
    "target, 'logits' = the pre-softmax scores.\n"
    "  --model M  model name (build/weights/M.ecw) or .ecw file; default mobilenet_v2_1.0_224_quant\n"
    "  --json     one JSON document instead of the table\n";

bool can_be_cam_target(const Graph& g, int t) {
    try { check_cam_target(g, t); return true; } catch (const Error&) { return false; }
}

}  // namespace

int cmd_layers(const std::vector<std::string>& argv) {
    Args a = parse_args(argv, {"--model"}, {"--json", "--help"});
    if (a.has("--help")) { std::fputs(kUsage, stdout); return kExitOk; }
    if (!a.positional.empty()) throw UsageError("unexpected argument '" + a.positional[0] + "'");
    Model model = open_model(a.get("--model", "mobilenet_v2_1.0_224_quant"), TfliteSpecs::Refuse);
    const Graph& g = model.graph;
    // The default target is the CAM module's rule (cam/explain.h); a graph without one has no default.
    int default_target = -1;
    try { default_target = default_cam_target(g, model.logits); } catch (const Error&) {}

    std::vector<std::string> rows;
    if (!a.has("--json")) std::printf("%-4s %-14s %-20s %-14s %s\n", "id", "op", "shape", "marks", "name");
    for (size_t t = 0; t < g.tensors.size(); ++t) {
        const TensorInfo& info = g.tensors[t];
        const std::string op = info.producer < 0 ? "Input" : op_name(g.nodes[size_t(info.producer)].op);
        const bool cam = can_be_cam_target(g, int(t));
        std::string marks = cam ? "cam" : "";
        if (int(t) == default_target) marks += ",default";
        if (int(t) == model.logits) marks += marks.empty() ? "logits" : ",logits";
        if (a.has("--json")) {
            std::vector<std::string> dims;
            for (int d = 0; d < info.shape.rank; ++d) dims.push_back(json_number(info.shape[d]));
            rows.push_back(JsonObject()
                               .add("name", json_string(info.name))
                               .add("op", json_string(op))
                               .add("shape", json_array(dims))
                               .add("cam_target", cam ? "true" : "false")
                               .str());
        } else {
            std::printf("%-4zu %-14s %-20s %-14s %s\n", t, op.c_str(), info.shape.str().c_str(), marks.c_str(), info.name.c_str());
        }
    }
    if (a.has("--json")) {
        JsonObject doc;
        doc.add("model", json_string(model.name));
        doc.add("logits", json_string(g.tensors[size_t(model.logits)].name));
        doc.add("default_cam_target", default_target < 0 ? "null" : json_string(g.tensors[size_t(default_target)].name));
        doc.add("tensors", json_array(rows));
        std::printf("%s\n", doc.str().c_str());
    }
    return kExitOk;
}

}  // namespace ec::cli
