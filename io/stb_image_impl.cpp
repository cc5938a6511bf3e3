// The one translation unit that compiles stb_image (headers from /usr/include/stb). Hardened for untrusted files:
// - only the formats we document are compiled in (JPEG, PNG, BMP, GIF, TGA; no PSD/HDR/PIC/PNM parsers),
// - no stdio entry points: callers read the file themselves with a size limit (io/image.cpp) and decode from memory,
// - every allocation stb makes goes through capped_malloc/capped_realloc, which refuse any single block larger
//   than kMaxStbAllocationBytes. The dimension checks in io/image.cpp already bound what a well-formed file needs;
//   the cap bounds what a malformed one can ask for, e.g. a PNG whose zlib stream inflates far past the size its
//   header implies (stb grows that buffer by doubling, up to 2 GiB, without looking at the header).
// stb keeps its failure reason in a thread-local, and we never call its global setters (flip, unpremultiply,
// iphone conversion), so decoding is safe from several threads.
#include <cstddef>
#include <cstdlib>

#include "io/image.h"

namespace {

// Largest legitimate single block for an image within the limits: a 16-bit RGBA PNG of kMaxImagePixels keeps
// 8 bytes per pixel (+1 filter byte per row) both as inflated data and as decoded output. The slack covers row
// padding and the JPEG decoder's MCU-aligned planes. An interlaced 16-bit PNG above ~32 Mi pixels can exceed it
// (stb doubles its inflate buffer), and is then refused as "out of memory": an accepted limitation.
constexpr size_t kMaxStbAllocationBytes = size_t(8 * ec::kMaxImagePixels) + (size_t(1) << 20);

void* capped_malloc(size_t bytes) {
    return bytes > kMaxStbAllocationBytes ? nullptr : std::malloc(bytes);
}

void* capped_realloc(void* p, size_t bytes) {
    // On refusal the old block stays owned by stb, which frees it on its error path.
    return bytes > kMaxStbAllocationBytes ? nullptr : std::realloc(p, bytes);
}

}  // namespace

#define STBI_MALLOC(bytes) capped_malloc(bytes)
#define STBI_REALLOC(p, bytes) capped_realloc(p, bytes)
#define STBI_FREE(p) std::free(p)
// stb's own per-side cap. Kept well above kMaxImageSide so that io/image.cpp's header check, which names the
// limit in its message, is what refuses a large image; this only bounds stb's size arithmetic as a backstop.
#define STBI_MAX_DIMENSIONS (1 << 20)
#define STBI_NO_STDIO
#define STBI_ONLY_JPEG
#define STBI_ONLY_PNG
#define STBI_ONLY_BMP
#define STBI_ONLY_GIF
#define STBI_ONLY_TGA
#define STB_IMAGE_IMPLEMENTATION
#include <stb_image.h>

static_assert(ec::kMaxImageSide < STBI_MAX_DIMENSIONS, "the header check in image.cpp must refuse first");
