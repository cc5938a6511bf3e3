// The per-image cost of the CAM methods given A and G (MobileNetV2 layer3 shape, 7 x 7 x 960; random values),
// and of ROAD's noisy linear imputation at 224 x 224 x 3 (a CAM-like blob mask, 50 % and 90 % removed), which
// dominates a ROAD evaluation (18 imputations per map at the default percentages). Score-CAM is not here: its
// cost is one forward pass per non-constant channel (bench_model.cpp's forward times the channel count).
//   make bench BENCH_ARGS="--benchmark_filter=CamMethod|RoadImpute"
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>

#include "cam/cam_methods.h"
#include "cam/eval/road.h"

namespace {

ec::Tensor random_tensor(int h, int w, int c, float lo, float hi, uint32_t seed) {
    std::mt19937 gen(seed);
    std::uniform_real_distribution<float> dist(lo, hi);
    ec::Tensor t(ec::Shape{1, h, w, c});
    for (float& v : t.data) v = dist(gen);
    return t;
}

void cam_method(benchmark::State& state, ec::CamMethod m) {
    const ec::Tensor act = random_tensor(7, 7, 960, 0.0f, 6.0f, 1), grad = random_tensor(7, 7, 960, -1.0f, 1.0f, 2);
    const ec::FeatureMapView a = ec::image_view(act, 0), g = ec::image_view(grad, 0);
    for (auto _ : state) benchmark::DoNotOptimize(ec::compute_cam(m, a, g).raw.values.data());
}

void road_impute(benchmark::State& state) {
    const int percent = int(state.range(0));
    const ec::Tensor image = random_tensor(224, 224, 3, -1.0f, 1.0f, 3);
    ec::Heatmap blob(224, 224);
    for (int y = 0; y < 224; ++y)
        for (int x = 0; x < 224; ++x) blob.at(y, x) = float(-std::hypot(y - 100.0, x - 130.0) + 3.0 * std::sin(x * 0.2));
    const std::vector<uint8_t> removed =
        ec::road_removal_mask(ec::road_pixel_order(blob, ec::kRoadTieJitter, 1), percent, true);
    uint64_t seed = 0;
    for (auto _ : state) benchmark::DoNotOptimize(ec::noisy_linear_impute(image, removed, 0.02, seed++).data.data());
}

}  // namespace

BENCHMARK_CAPTURE(cam_method, CamMethod_gradcam, ec::CamMethod::GradCam)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(cam_method, CamMethod_gradcampp, ec::CamMethod::GradCamPlusPlus)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(cam_method, CamMethod_xgradcam, ec::CamMethod::XGradCam)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(cam_method, CamMethod_layercam, ec::CamMethod::LayerCam)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(cam_method, CamMethod_eigencam, ec::CamMethod::EigenCam)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(cam_method, CamMethod_signedgradentropycam, ec::CamMethod::SignedGradEntropyCam)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(cam_method, CamMethod_posgradentropycam, ec::CamMethod::PosGradEntropyCam)->Unit(benchmark::kMicrosecond);
BENCHMARK(road_impute)->Name("RoadImpute_224x224x3")->Arg(50)->Arg(90)->Unit(benchmark::kMillisecond)->UseRealTime();
