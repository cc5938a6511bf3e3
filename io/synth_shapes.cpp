#include "io/synth_shapes.h"

#include <algorithm>
#include <cmath>

#include "nn/error.h"

namespace ec {

namespace {

const char* const kNames[kSynthClassCount] = {"disc", "square", "triangle", "cross", "ring", "star"};

struct Vec2 {
    double x, y;
};

// Even-odd rule: is p inside the polygon (vertices in order)?
bool inside_polygon(const std::vector<Vec2>& poly, Vec2 p) {
    bool in = false;
    for (size_t i = 0, j = poly.size() - 1; i < poly.size(); j = i++) {
        const Vec2 a = poly[i], b = poly[j];
        if ((a.y > p.y) != (b.y > p.y) && p.x < (b.x - a.x) * (p.y - a.y) / (b.y - a.y) + a.x) in = !in;
    }
    return in;
}

// A regular star (or polygon when inner == outer) with `points` tips on the unit circle, first tip up.
std::vector<Vec2> star_polygon(int points, double inner) {
    std::vector<Vec2> v;
    for (int k = 0; k < 2 * points; ++k) {
        const double a = -1.5707963267948966 + 3.141592653589793 * k / points;
        const double r = k % 2 ? inner : 1.0;
        v.push_back({r * std::cos(a), r * std::sin(a)});
    }
    return v;
}

// Is the point (u, v), in the object's own frame (unit radius), inside a shape of class `cls`? The shapes are
// sized so their areas are within a factor ~2 of each other: size alone does not give the class away.
bool inside_shape(int cls, Vec2 p, const std::vector<Vec2>& triangle, const std::vector<Vec2>& star) {
    const double r2 = p.x * p.x + p.y * p.y;
    switch (cls) {
        case 0: return r2 <= 0.85 * 0.85;
        case 1: return std::max(std::fabs(p.x), std::fabs(p.y)) <= 0.72;
        case 2: return inside_polygon(triangle, p);
        case 3: return (std::fabs(p.x) <= 0.3 && std::fabs(p.y) <= 1.0) || (std::fabs(p.y) <= 0.3 && std::fabs(p.x) <= 1.0);
        case 4: return r2 <= 1.0 && r2 >= 0.55 * 0.55;
        default: return inside_polygon(star, p);
    }
}

struct Colour {
    int r, g, b;
};

// A bright colour of any hue: each channel uniform in 0..255, one random channel raised to 170..255. Objects and
// clutter draw from this one distribution, so colour says nothing about which is which, nor about the class.
Colour bright_colour(SplitMix64& rng) {
    int c[3] = {rng.below(256), rng.below(256), rng.below(256)};
    const int k = rng.below(3);
    c[k] = std::max(c[k], 170 + rng.below(86));
    return {c[0], c[1], c[2]};
}

// A dark colour for the background: each channel 0..89.
Colour dark_colour(SplitMix64& rng) { return {rng.below(90), rng.below(90), rng.below(90)}; }

void put(ImageU8& im, int x, int y, Colour c) {
    uint8_t* px = &im.rgb[(size_t(y) * size_t(im.width) + size_t(x)) * 3];
    px[0] = uint8_t(c.r);
    px[1] = uint8_t(c.g);
    px[2] = uint8_t(c.b);
}

// Background: a linear gradient between two dark colours along a random direction.
void draw_background(ImageU8& im, SplitMix64& rng) {
    const Colour a = dark_colour(rng), b = dark_colour(rng);
    const double angle = rng.uniform(0, 6.283185307179586), dx = std::cos(angle), dy = std::sin(angle);
    const int n = im.width;
    for (int y = 0; y < n; ++y)
        for (int x = 0; x < n; ++x) {
            const double t = 0.5 + 0.7 * (((x + 0.5) / n - 0.5) * dx + ((y + 0.5) / n - 0.5) * dy);  // in [0.005, 0.995]
            put(im, x, y, {int(a.r + (b.r - a.r) * t), int(a.g + (b.g - a.g) * t), int(a.b + (b.b - a.b) * t)});
        }
}

// Clutter: thick line segments and elongated ellipses (aspect 2.5..4, never disc-like), bright colours.
void draw_clutter(ImageU8& im, SplitMix64& rng) {
    const int n = im.width;
    const int lines = 1 + rng.below(3), blobs = 1 + rng.below(3);
    for (int k = 0; k < lines; ++k) {
        const Colour c = bright_colour(rng);
        const Vec2 a{rng.uniform(0, n), rng.uniform(0, n)}, b{rng.uniform(0, n), rng.uniform(0, n)};
        const double half_width = rng.uniform(0.5, 0.03 * n + 0.5);
        const double len2 = std::max((b.x - a.x) * (b.x - a.x) + (b.y - a.y) * (b.y - a.y), 1e-9);
        for (int y = 0; y < n; ++y)
            for (int x = 0; x < n; ++x) {
                const Vec2 p{x + 0.5, y + 0.5};
                const double t = std::clamp(((p.x - a.x) * (b.x - a.x) + (p.y - a.y) * (b.y - a.y)) / len2, 0.0, 1.0);
                const double ex = p.x - (a.x + t * (b.x - a.x)), ey = p.y - (a.y + t * (b.y - a.y));
                if (ex * ex + ey * ey <= half_width * half_width) put(im, x, y, c);
            }
    }
    for (int k = 0; k < blobs; ++k) {
        const Colour c = bright_colour(rng);
        const double cx = rng.uniform(0, n), cy = rng.uniform(0, n), major = rng.uniform(0.08, 0.2) * n;
        const double minor = major / rng.uniform(2.5, 4.0), angle = rng.uniform(0, 3.141592653589793);
        const double ca = std::cos(angle), sa = std::sin(angle);
        for (int y = 0; y < n; ++y)
            for (int x = 0; x < n; ++x) {
                const double px = x + 0.5 - cx, py = y + 0.5 - cy;
                const double u = (ca * px + sa * py) / major, v = (-sa * px + ca * py) / minor;
                if (u * u + v * v <= 1.0) put(im, x, y, c);
            }
    }
}

}  // namespace

const char* synth_class_name(int cls) {
    if (cls < 0 || cls >= kSynthClassCount) throw Error("synthetic class " + std::to_string(cls) + " is not in 0..5");
    return kNames[cls];
}

std::vector<std::string> synth_class_names() { return std::vector<std::string>(kNames, kNames + kSynthClassCount); }

SynthSample make_synth_sample(int size, uint64_t seed, uint64_t index) {
    if (size < kSynthMinSize || size > kSynthMaxSize)
        throw Error("synthetic image size " + std::to_string(size) + " is not in " + std::to_string(kSynthMinSize) +
                    ".." + std::to_string(kSynthMaxSize));
    // One independent stream per sample: the seed and the index mixed through splitmix64 itself.
    SplitMix64 rng(SplitMix64(seed ^ 0x5851F42D4C957F2Dull).next() + index * 0x9E3779B97F4A7C15ull);
    rng.next();
    SynthSample s;
    s.cls = int(index % kSynthClassCount);
    s.image = ImageU8{size, size, std::vector<uint8_t>(size_t(size) * size_t(size) * 3)};
    s.mask.assign(size_t(size) * size_t(size), 0);
    draw_background(s.image, rng);
    draw_clutter(s.image, rng);

    // The object: radius 12..25 % of the side, anywhere it fits whole; a bright colour.
    const double radius = rng.uniform(0.12, 0.25) * size;
    const double cx = rng.uniform(radius + 1, size - radius - 1), cy = rng.uniform(radius + 1, size - radius - 1);
    const double angle = rng.uniform(0, 6.283185307179586), ca = std::cos(angle), sa = std::sin(angle);
    const Colour colour = bright_colour(rng);
    const std::vector<Vec2> triangle = star_polygon(3, 0.5), star = star_polygon(5, 0.45);
    s.box_x0 = s.box_y0 = size;
    s.box_x1 = s.box_y1 = -1;
    for (int y = 0; y < size; ++y)
        for (int x = 0; x < size; ++x) {
            const double px = x + 0.5 - cx, py = y + 0.5 - cy;
            const Vec2 local{(ca * px + sa * py) / radius, (-sa * px + ca * py) / radius};
            if (!inside_shape(s.cls, local, triangle, star)) continue;
            put(s.image, x, y, colour);
            s.mask[size_t(y) * size_t(size) + size_t(x)] = 1;
            s.box_x0 = std::min(s.box_x0, x), s.box_x1 = std::max(s.box_x1, x);
            s.box_y0 = std::min(s.box_y0, y), s.box_y1 = std::max(s.box_y1, y);
        }
    // Pixel noise over everything, object included (+-12 levels per channel).
    for (uint8_t& v : s.image.rgb) v = uint8_t(std::clamp(int(v) + rng.below(25) - 12, 0, 255));
    return s;
}

ImageU8 synth_mask_image(const SynthSample& s) {
    ImageU8 m{s.image.width, s.image.height, std::vector<uint8_t>(s.mask.size() * 3)};
    for (size_t p = 0; p < s.mask.size(); ++p) m.rgb[3 * p] = m.rgb[3 * p + 1] = m.rgb[3 * p + 2] = s.mask[p] ? 255 : 0;
    return m;
}

}  // namespace ec
