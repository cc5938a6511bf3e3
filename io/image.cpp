#include "io/image.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <memory>

#define STBI_NO_STDIO  // as in io/stb_image_impl.cpp: decoding is from memory only
#include <stb_image.h>

#include "nn/file_util.h"
#include "io/npy.h"

namespace ec {
namespace {

std::string dims_text(int64_t w, int64_t h) { return std::to_string(w) + " x " + std::to_string(h); }

// Refuses sizes before anything is allocated for them.
void check_image_limits(const std::string& name, int64_t w, int64_t h) {
    if (w <= 0 || h <= 0) throw Error(name + ": zero-sized image (" + dims_text(w, h) + ")");
    if (w > kMaxImageSide || h > kMaxImageSide)
        throw Error(name + ": " + dims_text(w, h) + " image exceeds the limit of " + std::to_string(kMaxImageSide) +
                    " pixels per side");
    if (w * h > kMaxImagePixels)
        throw Error(name + ": " + dims_text(w, h) + " image exceeds the limit of " + std::to_string(kMaxImagePixels) +
                    " pixels");
}

// Format by magic bytes, for messages ("corrupt PNG header" rather than "not an image"). TGA has no magic.
std::string format_from_magic(const uint8_t* b, size_t n) {
    static const uint8_t png[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (n >= 8 && std::memcmp(b, png, 8) == 0) return "PNG";
    if (n >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) return "JPEG";
    if (n >= 6 && (std::memcmp(b, "GIF87a", 6) == 0 || std::memcmp(b, "GIF89a", 6) == 0)) return "GIF";
    if (n >= 2 && b[0] == 'B' && b[1] == 'M') return "BMP";
    return "";
}

uint32_t be16(const uint8_t* p) { return uint32_t(p[0]) << 8 | p[1]; }
uint32_t be32(const uint8_t* p) { return be16(p) << 16 | be16(p + 2); }

// Size claimed by a PNG or JPEG header, read directly. Needed because stbi_info itself refuses sizes whose
// byte count overflows its int arithmetic (e.g. 30000 x 30000) and then only says "unknown image type".
// Returns false when the header cannot be read this way; stbi_info then decides.
// For a JPEG, *components is the frame's colour component count when the header holds it (else left alone).
bool claimed_size(const std::string& format, const uint8_t* b, size_t n, int64_t* w, int64_t* h, int* components) {
    if (format == "PNG") {  // signature, then the IHDR chunk: length, "IHDR", width, height (big-endian)
        if (n < 24 || std::memcmp(b + 12, "IHDR", 4) != 0) return false;
        *w = be32(b + 16);
        *h = be32(b + 20);
        return true;
    }
    if (format == "JPEG") {  // walk the marker segments after SOI up to the first frame header (SOFn)
        size_t i = 2;
        while (i + 4 <= n) {
            if (b[i] != 0xFF) return false;
            uint8_t marker = b[i + 1];
            if (marker == 0xFF) { ++i; continue; }                           // fill byte
            i += 2;
            if (marker == 0xD9) return false;                                     // end of image, no frame
            if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) continue;  // no length field
            size_t length = be16(b + i);
            bool frame = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
            if (frame) {  // length, precision, height, width
                if (i + 7 > n) return false;
                *h = be16(b + i + 3);
                *w = be16(b + i + 5);
                if (i + 8 <= n) *components = b[i + 7];
                return true;
            }
            if (length < 2) return false;
            i += length;
        }
    }
    return false;
}

// The Huffman tables of a JPEG hold at most 256 codes. The stb_image packaged with Debian (2.27) does not check
// that before it builds a table from the 16 code counts, so a table declaring more writes past its 257-byte
// size array (a memory-safety bug found by the fuzzer; upstream checks it since 2.28). Every DHT segment stb
// could reach is checked first, with the counts read as stb reads them. Like stb, bytes that are not a marker
// are skipped (stb tolerates junk before the frame header; in scan data, 0xFF 0x00 and restarts are not markers).
void check_jpeg_huffman_tables(const uint8_t* b, size_t n, const std::string& name) {
    // stb's JPEG test: 0xFF, any number of 0xFF fill bytes, then SOI (0xD8).
    size_t i = 0;
    while (i < n && b[i] == 0xFF) ++i;
    if (i == 0 || i >= n || b[i] != 0xD8) return;
    ++i;
    while (i + 1 < n) {
        const uint8_t marker = b[i + 1];
        if (b[i] != 0xFF || marker == 0xFF) { ++i; continue; }                                     // junk, fill byte
        if (marker == 0x00 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) { i += 2; continue; }  // no length
        if (marker == 0xD9 || i + 4 > n) return;                                                   // end of image
        const size_t length = be16(b + i + 2);
        if (marker == 0xC4) {  // DHT: per table, a class/id byte, 16 code counts, then the codes' values
            int64_t left = int64_t(length) - 2;
            size_t p = i + 4;
            while (left > 0) {
                int codes = 0;
                for (size_t k = 1; k <= 16; ++k) codes += p + k < n ? b[p + k] : 0;  // stb reads 0 past the end
                if (codes > 256)
                    throw Error(name + ": corrupt JPEG header (a Huffman table declares " + std::to_string(codes) +
                                " codes, at most 256)");
                left -= 17 + codes;
                p += 17 + size_t(codes);
            }
        }
        i += 2 + length;  // the segment; scan data after SOS is then walked byte by byte
    }
}

std::string stb_reason() {
    const char* r = stbi_failure_reason();
    std::string reason = r ? r : "unknown";
    if (reason == "outofmem") return "stb_image: a buffer above the decoder's allocation limit was needed";
    // stb writes an unknown critical PNG chunk's 4 type bytes (any bytes: a line feed, or a NUL that cuts the
    // string short) into ONE static buffer shared by all threads: name the problem without showing them. Every
    // other reason stb gives is a literal of 5 or more characters.
    if (reason.size() < 5 || reason.find("PNG chunk not known") != std::string::npos)
        return "stb_image: unknown critical PNG chunk";
    for (char& c : reason)  // stb's reasons are fixed strings; keep the message one line whatever happens
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
    return "stb_image: " + reason;
}

struct StbFree {
    void operator()(stbi_uc* p) const { stbi_image_free(p); }
};

}  // namespace

ImageInfo read_image_info_memory(const uint8_t* bytes, size_t size, const std::string& name) {
    if (size == 0) throw Error(name + ": empty file, not an image");
    if (int64_t(size) > kMaxImageFileBytes)
        throw Error(name + ": " + std::to_string(size) + " bytes exceeds the limit of " +
                    std::to_string(kMaxImageFileBytes) + " bytes for an image file");
    ImageInfo info;
    info.format = format_from_magic(bytes, size);
    int64_t w = 0, h = 0;
    int components = 0;
    if (claimed_size(info.format, bytes, size, &w, &h, &components)) check_image_limits(name, w, h);
    // stb reads 1 (grey), 3 (YCbCr/RGB) and 4 (CMYK/YCCK, converted to RGB) components; its own message for
    // others is only "unknown image type".
    if (info.format == "JPEG" && components != 0 && components != 1 && components != 3 && components != 4)
        throw Error(name + ": unsupported JPEG with " + std::to_string(components) +
                    " colour components (1 grey, 3 colour or 4 CMYK/YCCK are read)");
    check_jpeg_huffman_tables(bytes, size, name);
    if (!stbi_info_from_memory(bytes, int(size), &info.width, &info.height, &info.channels)) {
        if (info.format.empty())
            throw Error(name + ": not an image or unsupported format (JPEG, PNG, BMP, GIF and TGA are read)");
        throw Error(name + ": corrupt " + info.format + " header (" + stb_reason() + ")");
    }
    if (info.format.empty()) info.format = "TGA";  // the only format stb accepts without a magic number
    check_image_limits(name, info.width, info.height);
    return info;
}

ImageU8 decode_image_memory(const uint8_t* bytes, size_t size, const std::string& name) {
    ImageInfo info = read_image_info_memory(bytes, size, name);  // throws before any large allocation
    int w = 0, h = 0, stored_channels = 0;
    // req_comp = 3: stb replicates grey, drops alpha and reduces 16-bit samples to 8 bits (v >> 8).
    std::unique_ptr<stbi_uc, StbFree> pixels(stbi_load_from_memory(bytes, int(size), &w, &h, &stored_channels, 3));
    if (!pixels) throw Error(name + ": corrupt or truncated " + info.format + " data (" + stb_reason() + ")");
    if (w != info.width || h != info.height)
        throw Error(name + ": corrupt " + info.format + " data (decoded " + dims_text(w, h) + ", header says " +
                    dims_text(info.width, info.height) + ")");
    ImageU8 image;
    image.width = w;
    image.height = h;
    image.rgb.assign(pixels.get(), pixels.get() + size_t(w) * size_t(h) * 3);
    return image;
}

ImageU8 decode_image(const std::string& path) {
    std::vector<uint8_t> bytes = read_file_bytes(path, kMaxImageFileBytes);
    return decode_image_memory(bytes.data(), bytes.size(), path);
}

namespace {

// Where output index dst samples the input along one axis (reference README, "Preprocessing used", step 2).
struct AxisSample {
    int i0, i1;
    double f;
};

// The ratio in / out is rounded first and then multiplied, as OpenCV and the reference do: ((dst + 0.5) * in) / out
// lands on different doubles, which moves about 40 of the 150528 values of a 224 x 224 image by one level.
std::vector<AxisSample> axis_samples(int in, int out) {
    const double ratio = double(in) / double(out);
    std::vector<AxisSample> s(static_cast<size_t>(out));
    for (int dst = 0; dst < out; ++dst) {
        volatile double scaled = (dst + 0.5) * ratio;  // volatile: no fused multiply-add (see lerp below)
        double src = std::max(scaled - 0.5, 0.0);
        int i0 = int(std::floor(src));
        s[size_t(dst)] = {i0, std::min(i0 + 1, in - 1), src - i0};
    }
    return s;
}

// a * (1 - f) + b * f with each product rounded separately, as NumPy evaluates it. The volatile keeps the
// compiler from fusing a multiply and the add into one FMA (-march=native allows it), which would change the
// last bit and so, at an exact .5, the rounded u8.
double lerp(double a, double b, double f) {
    volatile double wa = a * (1.0 - f);
    volatile double wb = b * f;
    return wa + wb;
}

}  // namespace

ImageU8 resize_bilinear_u8(const ImageU8& in, int out_w, int out_h) {
    if (in.width <= 0 || in.height <= 0 || in.rgb.size() != size_t(in.width) * size_t(in.height) * 3)
        throw Error("resize: input image is empty or its buffer does not match " + dims_text(in.width, in.height));
    check_image_limits("resize output", out_w, out_h);
    std::vector<AxisSample> xs = axis_samples(in.width, out_w), ys = axis_samples(in.height, out_h);
    ImageU8 out;
    out.width = out_w;
    out.height = out_h;
    out.rgb.resize(size_t(out_w) * size_t(out_h) * 3);
    const size_t row = size_t(in.width) * 3;
    for (int y = 0; y < out_h; ++y) {
        const AxisSample& sy = ys[size_t(y)];
        const uint8_t* r0 = in.rgb.data() + size_t(sy.i0) * row;
        const uint8_t* r1 = in.rgb.data() + size_t(sy.i1) * row;
        uint8_t* o = out.rgb.data() + size_t(y) * size_t(out_w) * 3;
        for (int x = 0; x < out_w; ++x) {
            const AxisSample& sx = xs[size_t(x)];
            for (int c = 0; c < 3; ++c) {
                double top = lerp(r0[sx.i0 * 3 + c], r0[sx.i1 * 3 + c], sx.f);
                double bottom = lerp(r1[sx.i0 * 3 + c], r1[sx.i1 * 3 + c], sx.f);
                double v = std::floor(lerp(top, bottom, sy.f) + 0.5);
                o[size_t(x) * 3 + c] = uint8_t(std::clamp(v, 0.0, 255.0));
            }
        }
    }
    return out;
}

namespace {

void check_preprocessing(const Preprocessing& pre) {
    if (pre.width < 1 || pre.height < 1 || pre.width > kMaxImageSide || pre.height > kMaxImageSide)
        throw Error("preprocessing: input size " + dims_text(pre.width, pre.height) + " out of range");
    if (!std::isfinite(pre.scale) || pre.scale == 0 || !std::isfinite(pre.offset))
        throw Error("preprocessing: scale must be finite and non-zero, offset finite");
}

}  // namespace

Tensor image_to_input(const ImageU8& image, const Preprocessing& pre) {
    check_preprocessing(pre);
    if (image.width != pre.width || image.height != pre.height ||
        image.rgb.size() != size_t(image.width) * size_t(image.height) * 3)
        throw Error("image_to_input: image is " + dims_text(image.width, image.height) + ", the input needs " +
                    dims_text(pre.width, pre.height));
    // The reference computes float32(u8) / 127.5 - 1 in float32; float(u8 * scale) in double is the same
    // correctly rounded quotient for all 256 values (tests check this), then the offset is added in float.
    float table[256];
    for (int u = 0; u < 256; ++u) table[u] = float(double(u) * pre.scale) + pre.offset;
    Tensor t(Shape{1, pre.height, pre.width, 3});
    for (size_t i = 0; i < image.rgb.size(); ++i) t.data[i] = table[image.rgb[i]];
    return t;
}

ImageU8 input_to_image(const Tensor& input, const Preprocessing& pre) {
    check_preprocessing(pre);
    if (input.shape != Shape{1, pre.height, pre.width, 3})
        throw Error("input_to_image: input has shape " + input.shape.str() + ", expected " +
                    Shape{1, pre.height, pre.width, 3}.str());
    ImageU8 image;
    image.width = pre.width;
    image.height = pre.height;
    image.rgb.resize(input.data.size());
    for (size_t i = 0; i < input.data.size(); ++i) {
        double v = std::floor((double(input.data[i]) - pre.offset) / pre.scale + 0.5);
        image.rgb[i] = std::isfinite(v) ? uint8_t(std::clamp(v, 0.0, 255.0)) : 0;
    }
    return image;
}

namespace {

bool has_npy_extension(const std::string& path) {
    if (path.size() < 4) return false;
    std::string ext = path.substr(path.size() - 4);
    for (char& ch : ext) ch = char(std::tolower(static_cast<unsigned char>(ch)));
    return ext == ".npy";
}

LoadedInput input_from_image(const ImageU8& image, const Preprocessing& pre) {
    LoadedInput loaded;
    loaded.source_width = image.width;
    loaded.source_height = image.height;
    loaded.display = (image.width == pre.width && image.height == pre.height)
                         ? image
                         : resize_bilinear_u8(image, pre.width, pre.height);
    loaded.input = image_to_input(loaded.display, pre);
    return loaded;
}

LoadedInput input_from_npy(const std::string& path, const std::vector<uint8_t>& bytes, const Preprocessing& pre) {
    NpyArray a;
    try {
        a = parse_npy(bytes.data(), bytes.size());
    } catch (const Error& e) {
        throw Error(path + ": " + e.what());
    }
    std::string shape = "[";
    for (size_t i = 0; i < a.shape.size(); ++i) shape += (i ? "," : "") + std::to_string(a.shape[i]);
    shape += "]";
    const std::vector<int64_t>& s = a.shape;
    if (a.dtype == "|u1" || a.dtype == "<u1") {  // a decoded image: [1,]h,w,3
        bool hwc = s.size() == 3 || (s.size() == 4 && s[0] == 1);
        if (!hwc || s.back() != 3)
            throw Error(path + ": uint8 .npy image has shape " + shape + ", expected [1,h,w,3] or [h,w,3]");
        int64_t h = s[s.size() - 3], w = s[s.size() - 2];
        check_image_limits(path, w, h);
        ImageU8 image;
        image.width = int(w);
        image.height = int(h);
        image.rgb.assign(a.data.begin(), a.data.end());  // values 0..255, exact in float
        return input_from_image(image, pre);
    }
    if (a.dtype != "<f4" && a.dtype != "<f8")
        throw Error(path + ": .npy input of dtype '" + a.dtype + "': float32 (preprocessed) or uint8 (image) expected");
    std::string want = "[1," + std::to_string(pre.height) + "," + std::to_string(pre.width) + ",3]";
    if (shape != want) throw Error(path + ": .npy input has shape " + shape + ", the model needs " + want);
    for (size_t i = 0; i < a.data.size(); ++i)
        if (!std::isfinite(a.data[i]))
            throw Error(path + ": .npy input has a non-finite value (" + std::to_string(a.data[i]) + ") at element " +
                        std::to_string(i));
    LoadedInput loaded;
    loaded.input = Tensor(Shape{1, pre.height, pre.width, 3}, std::move(a.data));
    loaded.display = input_to_image(loaded.input, pre);
    loaded.source_width = pre.width;
    loaded.source_height = pre.height;
    return loaded;
}

}  // namespace

LoadedInput load_input(const std::string& path, const Preprocessing& pre) {
    check_preprocessing(pre);
    std::vector<uint8_t> bytes = read_file_bytes(path, kMaxImageFileBytes);
    bool npy_magic = bytes.size() >= 6 && std::memcmp(bytes.data(), "\x93NUMPY", 6) == 0;
    if (npy_magic || has_npy_extension(path)) return input_from_npy(path, bytes, pre);
    return input_from_image(decode_image_memory(bytes.data(), bytes.size(), path), pre);
}

}  // namespace ec
