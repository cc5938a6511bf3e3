#include "cam/eval/similarity.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "cam/postprocess.h"
#include "nn/error.h"

namespace ec {

std::vector<double> average_ranks(const std::vector<float>& v) {
    for (size_t i = 0; i < v.size(); ++i)
        if (std::isnan(v[i])) throw Error("rank correlation: value " + std::to_string(i) + " is NaN");
    std::vector<size_t> order(v.size());
    std::iota(order.begin(), order.end(), size_t(0));
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
    std::vector<double> rank(v.size());
    for (size_t i = 0; i < order.size();) {
        size_t j = i + 1;
        while (j < order.size() && v[order[j]] == v[order[i]]) ++j;
        // Positions i..j-1 (0-based) hold one value: each gets the mean of the 1-based ranks i+1..j.
        const double shared = 0.5 * double(i + 1 + j);
        for (size_t k = i; k < j; ++k) rank[order[k]] = shared;
        i = j;
    }
    return rank;
}

double pearson_correlation(const std::vector<double>& a, const std::vector<double>& b) {
    if (a.size() != b.size())
        throw Error("correlation of vectors of different sizes (" + std::to_string(a.size()) + " and " +
                    std::to_string(b.size()) + ")");
    const size_t n = a.size();
    if (n < 2) return std::nan("");
    const double ma = std::accumulate(a.begin(), a.end(), 0.0) / double(n);
    const double mb = std::accumulate(b.begin(), b.end(), 0.0) / double(n);
    double sab = 0, saa = 0, sbb = 0;
    for (size_t i = 0; i < n; ++i) {
        const double da = a[i] - ma, db = b[i] - mb;
        sab += da * db;
        saa += da * da;
        sbb += db * db;
    }
    if (saa == 0 || sbb == 0) return std::nan("");
    return std::clamp(sab / std::sqrt(saa * sbb), -1.0, 1.0);
}

double spearman_rank_correlation(const std::vector<float>& a, const std::vector<float>& b) {
    return pearson_correlation(average_ranks(a), average_ranks(b));
}

namespace {

// Summed-area table with a zero first row and column: t[(y + 1) * (w + 1) + x + 1] = sum of v over [0..y] x [0..x].
std::vector<double> summed_area(int h, int w, const std::vector<double>& v) {
    std::vector<double> t(size_t(h + 1) * size_t(w + 1), 0.0);
    for (int y = 0; y < h; ++y) {
        double row = 0;
        for (int x = 0; x < w; ++x) {
            row += v[size_t(y) * w + x];
            t[size_t(y + 1) * (w + 1) + x + 1] = t[size_t(y) * (w + 1) + x + 1] + row;
        }
    }
    return t;
}

double box_sum(const std::vector<double>& t, int w, int y0, int x0, int k) {
    const size_t s = size_t(w + 1);
    return t[(y0 + k) * s + x0 + k] - t[y0 * s + x0 + k] - t[(y0 + k) * s + x0] + t[y0 * s + x0];
}

}  // namespace

double ssim(const Heatmap& a, const Heatmap& b) {
    if (a.h != b.h || a.w != b.w)
        throw Error("SSIM of maps of different sizes (" + std::to_string(a.h) + "x" + std::to_string(a.w) + " and " +
                    std::to_string(b.h) + "x" + std::to_string(b.w) + ")");
    const int k = kSsimWindow;
    if (a.h < k || a.w < k) throw Error("SSIM needs a map of at least 7x7 pixels, got " + std::to_string(a.h) + "x" + std::to_string(a.w));
    const int h = a.h, w = a.w;
    const size_t n = size_t(h) * size_t(w);
    std::vector<double> x(n), y(n), xx(n), yy(n), xy(n);
    for (size_t i = 0; i < n; ++i) {
        x[i] = a.values[i];
        y[i] = b.values[i];
        xx[i] = x[i] * x[i];
        yy[i] = y[i] * y[i];
        xy[i] = x[i] * y[i];
    }
    const std::vector<double> tx = summed_area(h, w, x), ty = summed_area(h, w, y), txx = summed_area(h, w, xx),
                              tyy = summed_area(h, w, yy), txy = summed_area(h, w, xy);
    const double np = double(k) * k, cov_norm = np / (np - 1);  // sample covariance, as scikit-image's default
    const double c1 = 0.01 * 0.01, c2 = 0.03 * 0.03;             // (K1 L)^2, (K2 L)^2 with L = 1
    double sum = 0;
    for (int y0 = 0; y0 + k <= h; ++y0)
        for (int x0 = 0; x0 + k <= w; ++x0) {
            const double mx = box_sum(tx, w, y0, x0, k) / np, my = box_sum(ty, w, y0, x0, k) / np;
            const double vx = cov_norm * (box_sum(txx, w, y0, x0, k) / np - mx * mx);
            const double vy = cov_norm * (box_sum(tyy, w, y0, x0, k) / np - my * my);
            const double vxy = cov_norm * (box_sum(txy, w, y0, x0, k) / np - mx * my);
            sum += ((2 * mx * my + c1) * (2 * vxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2));
        }
    return sum / (double(h - k + 1) * double(w - k + 1));
}

namespace {

constexpr int kHogBins = 9, kHogCell = 8, kHogBlock = 3;

// Per cell, the mean over its pixels of the gradient magnitude in each orientation bin.
std::vector<double> hog_cell_histograms(const Heatmap& m, int cells_y, int cells_x) {
    std::vector<double> hist(size_t(cells_y) * cells_x * kHogBins, 0.0);
    for (int y = 0; y < cells_y * kHogCell; ++y)
        for (int x = 0; x < cells_x * kHogCell; ++x) {
            const double gx = (x > 0 && x + 1 < m.w) ? double(m.at(y, x + 1)) - m.at(y, x - 1) : 0.0;
            const double gy = (y > 0 && y + 1 < m.h) ? double(m.at(y + 1, x)) - m.at(y - 1, x) : 0.0;
            const double magnitude = std::hypot(gx, gy);
            if (magnitude == 0) continue;
            double degrees = std::atan2(gy, gx) * (180.0 / M_PI);
            if (degrees < 0) degrees += 180.0;
            const int bin = std::min(int(degrees / (180.0 / kHogBins)), kHogBins - 1);
            hist[(size_t(y / kHogCell) * cells_x + x / kHogCell) * kHogBins + bin] += magnitude;
        }
    for (double& v : hist) v /= double(kHogCell * kHogCell);
    return hist;
}

// L2-Hys (Dalal & Triggs): L2-normalise, clip at 0.2, L2-normalise again; eps^2 = 1e-10 as scikit-image.
void l2_hys(double* v, int n) {
    for (int pass = 0; pass < 2; ++pass) {
        double ss = 0;
        for (int i = 0; i < n; ++i) ss += v[i] * v[i];
        const double norm = std::sqrt(ss + 1e-10);
        for (int i = 0; i < n; ++i) v[i] = pass == 0 ? std::min(v[i] / norm, 0.2) : v[i] / norm;
    }
}

}  // namespace

std::vector<double> hog_descriptor(const Heatmap& map) {
    const int cells_y = map.h / kHogCell, cells_x = map.w / kHogCell;
    if (cells_y < kHogBlock || cells_x < kHogBlock) return {};
    const std::vector<double> hist = hog_cell_histograms(map, cells_y, cells_x);
    const int blocks_y = cells_y - kHogBlock + 1, blocks_x = cells_x - kHogBlock + 1;
    const int block_len = kHogBlock * kHogBlock * kHogBins;
    std::vector<double> out(size_t(blocks_y) * blocks_x * block_len);
    for (int by = 0; by < blocks_y; ++by)
        for (int bx = 0; bx < blocks_x; ++bx) {
            double* block = &out[(size_t(by) * blocks_x + bx) * block_len];
            int i = 0;
            for (int cy = by; cy < by + kHogBlock; ++cy)
                for (int cx = bx; cx < bx + kHogBlock; ++cx)
                    for (int b = 0; b < kHogBins; ++b) block[i++] = hist[(size_t(cy) * cells_x + cx) * kHogBins + b];
            l2_hys(block, block_len);
        }
    return out;
}

MapFeatures map_features(const Heatmap& raw, int out_h, int out_w) {
    MapFeatures f;
    const Heatmap up = upsample_bilinear(raw, out_h, out_w);
    std::vector<float> magnitude(up.values.size());
    for (size_t i = 0; i < magnitude.size(); ++i) magnitude[i] = std::fabs(up.values[i]);
    f.signed_ranks = average_ranks(up.values);
    f.abs_ranks = average_ranks(magnitude);
    f.display = postprocess_cam(raw, out_h, out_w);
    f.hog = hog_descriptor(f.display);
    return f;
}

MapSimilarity compare_maps(const MapFeatures& a, const MapFeatures& b) {
    MapSimilarity s;
    s.spearman_abs = pearson_correlation(a.abs_ranks, b.abs_ranks);
    s.spearman = pearson_correlation(a.signed_ranks, b.signed_ranks);
    s.ssim = (a.display.h >= kSsimWindow && a.display.w >= kSsimWindow) ? ssim(a.display, b.display) : std::nan("");
    s.hog = a.hog.empty() ? std::nan("") : pearson_correlation(a.hog, b.hog);
    return s;
}

}  // namespace ec
