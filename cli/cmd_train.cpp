// `entropycam train`: trains a vgg or gap classifier (weights/shape_classifier.h) on a folder in the layout of
// `entropycam synth` with the hand-written backward pass (nn/train.h), writes the .ecw weight file, a CSV log
// per epoch and a PNG of the training curves, and checks that the written file gives bit-identical logits.
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "cam/render/plot.h"
#include "cam/render/render.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "io/png_write.h"
#include "io/synth_dataset.h"
#include "nn/file_util.h"
#include "weights/shape_classifier.h"

namespace ec::cli {
namespace {

const char* kUsage =
    "usage: entropycam train --data DIR --arch vgg|gap --out MODEL.ecw [--epochs E] [--batch B] [--lr L]\n"
    "         [--seed X] [--threads T] [--log FILE.csv] [--plot FILE.png]\n"
    "Trains a small CNN on DIR/train (the layout `entropycam synth` writes), tests it on DIR/test after every\n"
    "epoch, and writes an entropycam weight file with the labels and preprocessing (x = u8 / 127.5 - 1), which\n"
    "classify, explain and evaluate load with --model MODEL.ecw. SGD with momentum 0.9, weight decay 5e-4 on\n"
    "weights, linear warm-up over 100 steps then cosine decay, He initialisation, data shuffled every epoch.\n"
    "  --arch       vgg: 4 conv3x3-ReLU blocks with 2x2 max pooling, flatten, FC 128 + ReLU, FC (logits)\n"
    "               gap: the same convs, global average pooling, one FC (logits)\n"
    "  --epochs E   default 7         --batch B   default 16\n"
    "  --lr L       peak learning rate, default 0.02\n"
    "  --seed X     initialisation and shuffling, default 1 (same seed and data: same weights)\n"
    "  --threads T  OpenMP threads, default 1 (or OMP_NUM_THREADS when set): a batch of 16 small images splits\n"
    "               badly over threads, and on a busy machine two threads wait on each other most of the time\n"
    "  --log FILE   per-epoch CSV (default MODEL.csv)   --plot FILE   curves PNG (default MODEL.png; 2+ epochs)\n";

std::string strip_ecw(const std::string& path) {
    return path.size() > 4 && path.compare(path.size() - 4, 4, ".ecw") == 0 ? path.substr(0, path.size() - 4) : path;
}

float parse_lr(const std::string& text) {
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    if (text.empty() || *end || !(v > 0.0 && v <= 10.0)) throw UsageError("--lr takes a number in (0, 10], got '" + text + "'");
    return float(v);
}

std::string duration(double seconds) {
    char buf[32];
    const long s = std::lround(seconds);
    if (s >= 60) std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
    else std::snprintf(buf, sizeof buf, "%lds", s);
    return buf;
}

std::string log_csv(const std::vector<EpochStats>& h, int train_count) {
    std::string out = "epoch,learning_rate,train_loss,train_accuracy,test_loss,test_accuracy,seconds,images_per_second\n";
    for (const EpochStats& e : h) {
        char line[256];
        std::snprintf(line, sizeof line, "%d,%.6g,%.6f,%.6f,%.6f,%.6f,%.3f,%.1f\n", e.epoch, e.learning_rate, e.train_loss,
                      e.train_accuracy, e.test_loss, e.test_accuracy, e.seconds, train_count / e.seconds);
        out += line;
    }
    return out;
}

// Two panels side by side: loss and accuracy (percent), train and test, per epoch (needs 2 epochs or more).
ImageU8 curves_png(const std::vector<EpochStats>& h, const std::string& title) {
    LinePlot loss, acc;
    PlotSeries train_loss{"train", plot_color(0), {}}, test_loss{"test", plot_color(3), {}};
    PlotSeries train_acc = train_loss, test_acc = test_loss;
    double max_loss = 0;
    for (const EpochStats& e : h) {
        loss.x_ticks.push_back(std::to_string(e.epoch));
        train_loss.y.push_back(e.train_loss), test_loss.y.push_back(e.test_loss);
        train_acc.y.push_back(100 * e.train_accuracy), test_acc.y.push_back(100 * e.test_accuracy);
        max_loss = std::max({max_loss, double(e.train_loss), double(e.test_loss)});
    }
    acc.x_ticks = loss.x_ticks;
    loss.title = title + ": loss", acc.title = title + ": accuracy %";
    loss.y_label = "loss", acc.y_label = "%";
    loss.y_max = std::max(0.5, std::ceil(2 * max_loss) / 2), loss.y_step = loss.y_max / 5;
    acc.y_max = 100, acc.y_step = 20;
    loss.series = {train_loss, test_loss}, acc.series = {train_acc, test_acc};
    loss.width = acc.width = 640, loss.height = acc.height = 400;
    const ImageU8 left = render_line_plot(loss), right = render_line_plot(acc);
    ImageU8 both = make_image(left.width + right.width, left.height, Rgb8{255, 255, 255});
    blit(both, left, 0, 0);
    blit(both, right, left.width, 0);
    return both;
}

// Logits of the first few test images from the trained graph and from the written file must be bit-identical.
void check_round_trip(const Model& trained, const std::string& path, const TrainSet& test) {
    const int n = std::min(test.count, 16), per = test.height * test.width * test.channels;
    Tensor input(Shape{n, test.height, test.width, test.channels});
    for (int64_t k = 0; k < int64_t(n) * per; ++k)
        input[k] = float(double(test.pixels[size_t(k)]) * trained.preprocessing.scale) + trained.preprocessing.offset;
    check_weight_file_round_trip(trained, path, input);
}

}  // namespace

int cmd_train(const std::vector<std::string>& argv) {
    Args a = parse_args(argv, {"--data", "--arch", "--epochs", "--batch", "--lr", "--seed", "--threads", "--out", "--log", "--plot"},
                        {"--help"});
    if (a.has("--help")) { std::fputs(kUsage, stdout); return kExitOk; }
    if (!a.positional.empty()) throw UsageError("unexpected argument '" + a.positional[0] + "'");
    for (const char* f : {"--data", "--arch", "--out"})
        if (!a.has(f)) throw UsageError(std::string(f) + " is required");
    ClassifierArch arch;
    try { arch = parse_classifier_arch(a.get("--arch")); } catch (const Error& e) { throw UsageError(e.what()); }
    TrainOptions opt;
    opt.epochs = a.get_int("--epochs", 7, 1, 10000);
    opt.batch = a.get_int("--batch", 16, 1, 4096);
    opt.learning_rate = parse_lr(a.get("--lr", "0.02"));
    opt.seed = uint64_t(a.get_int("--seed", 1, 0, 1 << 30));
    // One thread unless asked: on the shared 2-core machine two threads trained at 2 images/s, one at 135 (README).
    if (a.has("--threads")) omp_set_num_threads(a.get_int("--threads", 1, 1, 1024));
    else if (!std::getenv("OMP_NUM_THREADS")) omp_set_num_threads(1);
    const std::string out = a.get("--out"), base = strip_ecw(out);
    const std::string log_path = a.get("--log", base + ".csv"), plot_path = a.get("--plot", base + ".png");

    const std::string data = a.get("--data");
    const LabelledSplit train = read_labelled_split(data, "train"), test = read_labelled_split(data, "test");
    if (train.set.height != test.set.height || train.set.width != test.set.width || train.set.height != train.set.width)
        throw Error(data + ": train and test images must be square and of one size");
    Model model = build_shape_classifier(arch, train.set.width, train.classes, opt.seed);
    Graph g = model.graph;  // the training graph: the model plus a target input and the loss
    TrainGraph tg;
    tg.image = g.inputs[0];
    tg.logits = model.logits;
    tg.target = add_input(g, "target", Shape{1, int(train.classes.size())});
    tg.loss = softmax_cross_entropy(g, "loss", tg.logits, tg.target);
    std::fprintf(stderr, "entropycam train: %s on %d train / %d test images of %dx%d, %zu classes, %d epochs of batch %d, %d "
                 "thread%s\n", classifier_arch_name(arch), train.set.count, test.set.count, train.set.width, train.set.height,
                 train.classes.size(), opt.epochs, opt.batch, omp_get_max_threads(), omp_get_max_threads() == 1 ? "" : "s");

    const bool tty = ::isatty(2);
    const auto start = std::chrono::steady_clock::now();
    auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
    double last_print = -1;
    TrainCallbacks cb;
    cb.on_step = [&](const StepProgress& p) {
        const double t = elapsed();
        if (t - last_print < (tty ? 0.5 : 10.0) && p.step != p.total_steps) return;
        last_print = t;
        std::fprintf(stderr, "%sepoch %d/%d  step %lld/%lld  loss %.4f  acc %.1f %%  %.0f img/s  ETA %s%s", tty ? "\r\033[K" : "",
                     p.epoch, opt.epochs, (long long)p.step, (long long)p.total_steps, p.loss, 100 * p.accuracy,
                     double(p.step) * opt.batch / t, duration(t / double(p.step) * double(p.total_steps - p.step)).c_str(),
                     tty ? "" : "\n");
    };
    std::vector<EpochStats> history;
    cb.on_epoch = [&](const EpochStats& e) {
        history.push_back(e);
        std::fprintf(stderr, "%sepoch %d: lr %.4g  train loss %.4f acc %.2f %%  test loss %.4f acc %.2f %%  (%.1f s, %.0f img/s)\n",
                     tty ? "\r\033[K" : "", e.epoch, e.learning_rate, e.train_loss, 100 * e.train_accuracy, e.test_loss,
                     100 * e.test_accuracy, e.seconds, train.set.count / e.seconds);
        write_file_atomic(log_path, log_csv(history, train.set.count));
    };
    train_classifier(g, tg, train.set, &test.set, model.preprocessing, opt, cb);
    const double seconds = elapsed();
    for (size_t i = 0; i < model.graph.params.size(); ++i)  // the same shapes: through mutable_data (Param::version)
        std::copy(g.params[i].owned.begin(), g.params[i].owned.end(), model.graph.params[i].mutable_data());
    save_model(model, out);
    check_round_trip(model, out, test.set);
    const bool plot = history.size() >= 2;  // a curve needs two epochs; one epoch used to fail here, after training
    if (plot) write_png(plot_path, curves_png(history, model.name));
    const EpochStats& last = history.back();
    std::printf("%s: %s, test accuracy %.2f %% (%d images), train accuracy %.2f %%, %.1f s (%.0f training images/s "
                "incl. testing), log %s, %s%s\n",
                out.c_str(), model.name.c_str(), 100 * last.test_accuracy, test.set.count, 100 * last.train_accuracy,
                seconds, double(train.set.count) * opt.epochs / seconds, log_path.c_str(), plot ? "plot " : "no plot (one epoch)",
                plot ? plot_path.c_str() : "");
    return kExitOk;
}

}  // namespace ec::cli
