#pragma once
// Images in and out: 8-bit RGB pictures for the detector's command line and
// tests. Decoding and encoding are Debian's header-only stb (stb_image,
// stb_image_write), compiled into this header as `static` functions so the
// library stays header-only and never clashes with another copy of stb at
// link time. Input files come from users, so everything stb is given has
// been bounded first (size, dimensions) and every failure becomes a
// riformer::Error naming the file: a corrupt picture must never crash the
// program. Only the JPEG, PNG and BMP decoders are compiled in: they are
// what the command line accepts, and stb's other decoders (GIF, TGA, PSD,
// HDR, PNM, PIC) have had most of its security bugs. JPEG EXIF orientation
// is applied, as OpenCV's imread (YOLOv5's loader) does, so phone photos
// reach the network upright exactly as in YOLOv5.

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "riformer/core/error.hpp"
#include "riformer/io/file.hpp"

// stb_image.h declares its functions once per translation unit; if it was
// already included without our configuration, our static implementation
// would conflict with those declarations.
#if defined(STBI_INCLUDE_STB_IMAGE_H) && !defined(RIFORMER_STB_IMAGE_INCLUDED)
#error "include riformer/io/image.hpp before (or instead of) stb_image.h: it compiles its own static copy of stb_image"
#endif
#if defined(INCLUDE_STB_IMAGE_WRITE_H) && !defined(RIFORMER_STB_IMAGE_INCLUDED)
#error "include riformer/io/image.hpp before (or instead of) stb_image_write.h: it compiles its own static copy"
#endif

#ifndef RIFORMER_STB_IMAGE_INCLUDED
#define RIFORMER_STB_IMAGE_INCLUDED
#if defined(__GNUC__)
#pragma GCC diagnostic push
#if defined(__clang__)
#pragma GCC diagnostic ignored "-Wunknown-warning-option"  // the GCC-only names below
#endif
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wsign-conversion"
#pragma GCC diagnostic ignored "-Wdouble-promotion"
#pragma GCC diagnostic ignored "-Wold-style-cast"
#pragma GCC diagnostic ignored "-Wuseless-cast"
#pragma GCC diagnostic ignored "-Wcast-qual"
#pragma GCC diagnostic ignored "-Wcast-align"
#pragma GCC diagnostic ignored "-Wzero-as-null-pointer-constant"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wstrict-aliasing"
#pragma GCC diagnostic ignored "-Wpedantic"
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#endif
#endif
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_NO_STDIO  // files are read by us (bounded, with errors naming them), stb only sees memory
#define STBI_ONLY_JPEG
#define STBI_ONLY_PNG
#define STBI_ONLY_BMP
// Each side at most 65535 (JPEG's own limit): a corrupt header claiming 16M
// pixels per side is refused by stb itself with "too large".
#define STBI_MAX_DIMENSIONS (1 << 16)
#include <stb/stb_image.h>
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO
#include <stb/stb_image_write.h>
// A later #include of either header in this translation unit then adds nothing.
#undef STB_IMAGE_IMPLEMENTATION
#undef STB_IMAGE_WRITE_IMPLEMENTATION
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
#endif

namespace riformer {

// An 8-bit RGB picture, rows top to bottom, pixels interleaved R, G, B.
struct Image {
  int width = 0, height = 0;
  std::vector<std::uint8_t> rgb;  // height * width * 3
};

namespace image_detail {

// Decoded pictures are limited to 2^28 pixels (e.g. 16384 x 16384, 768 MB as
// RGB): more than any camera, and the allocation a forged header can cause.
inline constexpr std::uint64_t max_pixels = std::uint64_t{1} << 28;
// stb takes the encoded size as an int.
inline constexpr std::uint64_t max_file_bytes = std::uint64_t{1} << 30;

[[nodiscard]] inline std::string lower_extension(const std::filesystem::path& p) {
  std::string ext = p.extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

// Throws unless `img` is a consistent picture; `what` names it in the message.
inline void check_image(const Image& img, std::string_view what) {
  require(img.width > 0 && img.height > 0, what, ": image has size ", img.width, "x", img.height,
          ", expected positive width and height");
  const std::uint64_t expected = static_cast<std::uint64_t>(img.width) * static_cast<std::uint64_t>(img.height) * 3;
  require(img.rgb.size() == expected, what, ": image of ", img.width, "x", img.height, " needs ", expected,
          " bytes of RGB, has ", img.rgb.size());
}

// --- EXIF orientation (JPEG APP1 "Exif" segment, IFD0 tag 0x0112) ---------------

// Bounded big/little-endian reads from a byte range: false instead of reading out of range.
struct ByteReader {
  const std::uint8_t* data;
  std::size_t size;
  bool little;
  [[nodiscard]] bool u16(std::size_t at, unsigned& out) const {
    if (at > size || size - at < 2) return false;
    out = little ? unsigned(data[at]) | unsigned(data[at + 1]) << 8 : unsigned(data[at]) << 8 | unsigned(data[at + 1]);
    return true;
  }
  [[nodiscard]] bool u32(std::size_t at, std::uint32_t& out) const {
    unsigned a = 0, b = 0;
    if (!u16(at, a) || !u16(at + 2, b)) return false;
    out = little ? (std::uint32_t{b} << 16 | a) : (std::uint32_t{a} << 16 | b);
    return true;
  }
};

// The orientation (1..8) stored in a TIFF structure (the payload of an Exif segment), 1 if absent.
[[nodiscard]] inline int tiff_orientation(const std::uint8_t* tiff, std::size_t size) {
  if (size < 8) return 1;
  ByteReader r{tiff, size, false};
  if (tiff[0] == 'I' && tiff[1] == 'I') r.little = true;
  else if (!(tiff[0] == 'M' && tiff[1] == 'M')) return 1;
  unsigned magic = 0, count = 0;
  std::uint32_t ifd = 0;
  if (!r.u16(2, magic) || magic != 42 || !r.u32(4, ifd) || !r.u16(ifd, count)) return 1;
  for (unsigned i = 0; i < count; ++i) {
    const std::size_t entry = std::size_t{ifd} + 2 + std::size_t{i} * 12;
    unsigned tag = 0, type = 0, value = 0;
    std::uint32_t n = 0;
    if (!r.u16(entry, tag) || !r.u16(entry + 2, type) || !r.u32(entry + 4, n) || !r.u16(entry + 8, value)) return 1;
    if (tag == 0x0112) return (type == 3 && n == 1 && value >= 1 && value <= 8) ? static_cast<int>(value) : 1;
  }
  return 1;
}

// The EXIF orientation of a JPEG file's bytes (1 = upright, also for non-JPEG data or no EXIF).
// Walks the marker segments before the first scan; never reads out of bounds.
[[nodiscard]] inline int jpeg_exif_orientation(const std::uint8_t* data, std::size_t size) {
  if (size < 4 || data[0] != 0xFF || data[1] != 0xD8) return 1;
  std::size_t p = 2;
  while (p + 4 <= size) {
    if (data[p] != 0xFF) return 1;
    const unsigned marker = data[p + 1];
    if (marker == 0xFF) {  // fill byte
      ++p;
      continue;
    }
    if (marker == 0xD9 || marker == 0xDA) return 1;  // end of image / start of scan: no EXIF before the data
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) {  // standalone markers
      p += 2;
      continue;
    }
    const std::size_t length = std::size_t{data[p + 2]} << 8 | data[p + 3];  // includes its own 2 bytes
    if (length < 2 || length > size - p - 2) return 1;
    const std::uint8_t* seg = data + p + 4;
    const std::size_t seg_size = length - 2;
    static constexpr std::uint8_t exif[6] = {'E', 'x', 'i', 'f', 0, 0};
    if (marker == 0xE1 && seg_size >= 6 && std::equal(exif, exif + 6, seg)) return tiff_orientation(seg + 6, seg_size - 6);
    p += 2 + length;
  }
  return 1;
}

// Turns the stored picture upright for EXIF orientation 2..8, as OpenCV's imread does.
[[nodiscard]] inline Image apply_orientation(Image in, int orientation) {
  if (orientation < 2 || orientation > 8) return in;
  const bool swap = orientation >= 5;  // 5..8 transpose the axes
  Image out;
  out.width = swap ? in.height : in.width;
  out.height = swap ? in.width : in.height;
  out.rgb.resize(in.rgb.size());
  const int w = in.width, h = in.height;
  for (int oy = 0; oy < out.height; ++oy) {
    for (int ox = 0; ox < out.width; ++ox) {
      int ix = ox, iy = oy;
      switch (orientation) {
        case 2: ix = w - 1 - ox; break;                       // mirror left-right
        case 3: ix = w - 1 - ox; iy = h - 1 - oy; break;      // rotate 180
        case 4: iy = h - 1 - oy; break;                       // mirror top-bottom
        case 5: ix = oy; iy = ox; break;                      // transpose
        case 6: ix = oy; iy = h - 1 - ox; break;              // rotate 90 clockwise
        case 7: ix = w - 1 - oy; iy = h - 1 - ox; break;      // transverse
        case 8: ix = w - 1 - oy; iy = ox; break;              // rotate 90 counter-clockwise
        default: break;
      }
      const std::size_t src = (static_cast<std::size_t>(iy) * w + ix) * 3;
      const std::size_t dst = (static_cast<std::size_t>(oy) * out.width + ox) * 3;
      std::copy_n(in.rgb.data() + src, 3, out.rgb.data() + dst);
    }
  }
  return out;
}

// --- A guard for a bug of Debian 12's stb_image (2.27) --------------------------
//
// stb_image trusts the code counts of a JPEG Huffman table (DHT): a corrupt table
// with more than 256 codes writes past its arrays inside the decoder state
// (stbi__build_huffman; fixed upstream in 2.28), which can overwrite the decoder's
// buffer pointers. This walks the markers exactly as stb_image reads them and
// reports whether any DHT segment it would process holds such a table; those
// files are refused before stb sees them. Where stb would stop with an error
// anyway, the walk stops too (returns false).
[[nodiscard]] inline bool jpeg_has_oversized_huffman_table(const std::uint8_t* d, std::size_t n) {
  std::size_t p = 0;
  const auto get8 = [&]() -> unsigned { return p < n ? d[p++] : 0u; };  // stb reads 0 past the end
  const auto get16 = [&]() -> unsigned {
    const unsigned hi = get8();
    return hi << 8 | get8();
  };
  const auto skip = [&](std::size_t k) { p = k > n - p ? n : p + k; };
  const auto marker = [&]() -> unsigned {  // after an 0xFF: skip fill bytes
    unsigned m = get8();
    while (m == 0xFF) m = get8();
    return m;
  };
  if (get8() != 0xFF || marker() != 0xD8) return false;  // not a JPEG to stb_image
  while (p < n) {
    if (get8() != 0xFF) continue;  // junk between segments: stb skips it (or fails)
    const unsigned m = marker();
    if (m == 0xD9) return false;  // end of image
    if (m == 0xC4) {              // DHT, table by table as stb_image reads it
      int left = static_cast<int>(get16()) - 2;
      while (left > 0) {
        const unsigned q = get8();
        if ((q >> 4) > 1 || (q & 15) > 3) return false;  // stb: "bad DHT header"
        unsigned codes = 0;
        for (int i = 0; i < 16; ++i) codes += get8();
        if (codes > 256) return true;
        skip(codes);
        left -= 17 + static_cast<int>(codes);
      }
      if (left != 0) return false;  // stb fails on the length mismatch
    } else if (m == 0xDA) {         // start of scan: header, then entropy-coded data
      const unsigned length = get16();
      if (length < 2) return false;
      skip(length - 2);
      // stb's decoder stops at the first marker that is not a restart (FF 00 is a stuffed
      // data byte); if it stops earlier, it fails or finds that same marker.
      while (p < n) {
        if (get8() != 0xFF) continue;
        const unsigned c = marker();
        if (c == 0 || (c >= 0xD0 && c <= 0xD7)) continue;
        p -= 2;  // back to "FF c": the outer loop reads it
        break;
      }
    } else if (m == 0xDD || m == 0xDC) {  // DRI, DNL: fixed 4 bytes
      skip(4);
    } else if (m == 0xC0 || m == 0xC1 || m == 0xC2 || m == 0xDB || (m >= 0xE0 && m <= 0xEF) || m == 0xFE) {
      const unsigned length = get16();  // frame header, DQT, APPn, COM: skipped by length
      if (length < 2) return false;
      skip(length - 2);
    } else {
      return false;  // stb: "unknown marker"
    }
  }
  return false;
}

// stb_image copies an IDAT chunk with memcpy into a buffer it allocates on the first
// non-empty one, so an empty IDAT before that passes memcpy a null pointer (undefined
// behaviour, harmless in practice). Empty IDAT chunks carry nothing: drop them. The
// chunks are walked as stb walks them (length, type, data, CRC); on anything odd the
// walk just stops and stb reports the problem.
inline void drop_empty_png_idat(std::vector<std::uint8_t>& bytes) {
  static constexpr std::uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  if (bytes.size() < 8 || !std::equal(signature, signature + 8, bytes.begin())) return;
  std::size_t p = 8;
  while (bytes.size() - p >= 8) {  // length and type present (stb reads a missing CRC as zeros)
    const std::uint32_t length = std::uint32_t{bytes[p]} << 24 | std::uint32_t{bytes[p + 1]} << 16 |
                                 std::uint32_t{bytes[p + 2]} << 8 | bytes[p + 3];
    const bool idat = bytes[p + 4] == 'I' && bytes[p + 5] == 'D' && bytes[p + 6] == 'A' && bytes[p + 7] == 'T';
    if (idat && length == 0) {
      const std::size_t end = std::min(p + 12, bytes.size());
      bytes.erase(bytes.begin() + static_cast<std::ptrdiff_t>(p), bytes.begin() + static_cast<std::ptrdiff_t>(end));
      continue;
    }
    if (bytes.size() - p < 12 || length > bytes.size() - p - 12) return;
    p += 12 + std::size_t{length};
  }
}

[[nodiscard]] inline std::string stb_reason() {
  const char* reason = stbi_failure_reason();
  return reason && *reason ? reason : "unknown error";
}

[[nodiscard]] inline std::uint64_t le_bytes(const std::vector<std::uint8_t>& b, std::size_t at, int n) {
  std::uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = v << 8 | b[at + static_cast<std::size_t>(i)];
  return v;
}

// The format the first bytes announce ("JPEG", "PNG", "BMP"), or "" for none of them.
[[nodiscard]] inline std::string_view announced_format(const std::vector<std::uint8_t>& b) {
  if (b.size() >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) return "JPEG";
  if (b.size() >= 8 && b[0] == 0x89 && b[1] == 'P' && b[2] == 'N' && b[3] == 'G') return "PNG";
  if (b.size() >= 2 && b[0] == 'B' && b[1] == 'M') return "BMP";
  return "";
}

// Whether an uncompressed BMP ends before its last pixel row. stb_image reads
// past the end of such a file as zeros and reports success: a truncated BMP
// would become a picture with a black band. (Run-length BMPs are left to stb.)
[[nodiscard]] inline bool bmp_truncated(const std::vector<std::uint8_t>& b) {
  if (announced_format(b) != "BMP" || b.size() < 26) return false;
  const std::uint64_t pixels_at = le_bytes(b, 10, 4), header = le_bytes(b, 14, 4);
  std::uint64_t width = 0, height = 0, bits = 0, compression = 0;
  if (header == 12) {  // BITMAPCOREHEADER: 16-bit sizes
    width = le_bytes(b, 18, 2);
    height = le_bytes(b, 20, 2);
    bits = le_bytes(b, 24, 2);
  } else if (header >= 40 && b.size() >= 34) {  // BITMAPINFOHEADER and its successors: signed 32-bit sizes
    const auto w = static_cast<std::int32_t>(le_bytes(b, 18, 4)), h = static_cast<std::int32_t>(le_bytes(b, 22, 4));
    width = static_cast<std::uint64_t>(std::abs(static_cast<std::int64_t>(w)));
    height = static_cast<std::uint64_t>(std::abs(static_cast<std::int64_t>(h)));  // negative: stored top-down
    bits = le_bytes(b, 28, 2);
    compression = le_bytes(b, 30, 4);
  } else {
    return false;
  }
  if ((compression != 0 && compression != 3) || width == 0 || height == 0 || width > STBI_MAX_DIMENSIONS ||
      height > STBI_MAX_DIMENSIONS)
    return false;  // compressed, or stb refuses it anyway (with its own reason)
  const std::uint64_t row_bytes = (width * bits + 31) / 32 * 4;  // rows padded to 4 bytes
  return pixels_at + row_bytes * height > b.size();
}

}  // namespace image_detail

// Reads a JPEG, PNG or BMP file as 8-bit RGB (grey is replicated, alpha is
// dropped, 16-bit samples are reduced to 8 bits, JPEG EXIF orientation applied).
// Throws riformer::Error naming the file if it is missing, not a regular file,
// empty, not one of those formats, corrupt or truncated, or absurdly large.
[[nodiscard]] inline Image load_image(const std::string& path) {
  using namespace image_detail;
  const std::uint64_t size = file_detail::regular_file_size(path);
  require(size > 0, path, ": file is empty, not an image");
  require(size <= max_file_bytes, path, ": file is ", size, " bytes, too large for an image (limit ", max_file_bytes, ")");
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
  {
    std::ifstream in(path, std::ios::binary);
    require(in.is_open(), path, ": cannot open file for reading");
    file_detail::read_exact(in, path, 0, reinterpret_cast<char*>(bytes.data()), size, "image data");
  }
  drop_empty_png_idat(bytes);
  const int len = static_cast<int>(bytes.size());

  require(!jpeg_has_oversized_huffman_table(bytes.data(), bytes.size()), path,
          ": corrupt JPEG (a Huffman table declares more than 256 codes)");

  // Dimensions first: refuse a forged header before stb allocates for it. If the header
  // cannot be read, stbi_info's reason is that of the last format it tried; decoding
  // fails at the same header and gives the reason of the format the file really has.
  int w = 0, h = 0, channels = 0;
  if (stbi_info_from_memory(bytes.data(), len, &w, &h, &channels)) {
    if (announced_format(bytes) == "BMP") h = std::abs(h);  // stb 2.27 reports a top-down BMP's stored, negative height
    require(w > 0 && h > 0 && static_cast<std::uint64_t>(w) * static_cast<std::uint64_t>(h) <= max_pixels, path,
            ": image size ", w, "x", h, " is absurd (limit ", max_pixels, " pixels); corrupt file?");
  }

  require(!bmp_truncated(bytes), path, ": truncated BMP (the file ends before its last row of pixels)");

  std::unique_ptr<stbi_uc, void (*)(void*)> pixels(stbi_load_from_memory(bytes.data(), len, &w, &h, &channels, 3),
                                                  stbi_image_free);
  if (!pixels) {
    const std::string reason = stb_reason();
    const std::string_view format = announced_format(bytes);
    if (format.empty()) fail(path, ": not a JPEG, PNG or BMP image (stb_image: ", reason, ")");
    if (reason == "too large")  // past stb's own limits, not necessarily corrupt
      fail(path, ": the ", format, " image is too large to decode (stb_image: too large)");
    // stb tries format after format; when the file's own decoder fails before it has
    // a header, the reason left is another format's test ("bad png sig" for a JPEG).
    const bool other_formats_reason = reason == "unknown image type" || reason == "bad png sig" || reason == "not BMP";
    fail(path, ": cannot decode the ", format, " image (",
         other_formats_reason ? std::string("its header is incomplete") : "stb_image: " + reason,
         "); corrupt or truncated file?");
  }
  require(w > 0 && h > 0 && static_cast<std::uint64_t>(w) * static_cast<std::uint64_t>(h) <= max_pixels, path,
          ": image size ", w, "x", h, " is absurd (limit ", max_pixels, " pixels); corrupt file?");
  Image img;
  img.width = w;
  img.height = h;
  img.rgb.assign(pixels.get(), pixels.get() + static_cast<std::size_t>(w) * static_cast<std::size_t>(h) * 3);
  return apply_orientation(std::move(img), jpeg_exif_orientation(bytes.data(), bytes.size()));
}

// Writes `img` as PNG, JPEG or BMP, chosen by the extension of `path`
// (.png, .jpg, .jpeg, .bmp, any case). `jpeg_quality` 1..100 applies to JPEG.
inline void save_image(const std::string& path, const Image& img, int jpeg_quality = 95) {
  using namespace image_detail;
  const std::string ext = lower_extension(path);
  require(ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp", path,
          ": cannot tell the image format from the extension '", ext, "' (use .png, .jpg, .jpeg or .bmp)");
  check_image(img, path);
  const bool jpeg = ext == ".jpg" || ext == ".jpeg";
  if (jpeg) {
    require(jpeg_quality >= 1 && jpeg_quality <= 100, path, ": JPEG quality ", jpeg_quality, " is not in 1..100");
    require(img.width <= 65535 && img.height <= 65535, path, ": ", img.width, "x", img.height,
            " is too large for JPEG (at most 65535 per side)");
  }
  // PNG rows are addressed with an int stride by stb.
  require(static_cast<std::uint64_t>(img.width) * 3 <= static_cast<std::uint64_t>(std::numeric_limits<int>::max() / 4),
          path, ": image width ", img.width, " is too large to encode");

  std::vector<std::uint8_t> encoded;
  auto sink = [](void* context, void* data, int n) {
    auto* out = static_cast<std::vector<std::uint8_t>*>(context);
    const auto* bytes = static_cast<const std::uint8_t*>(data);
    if (n > 0) out->insert(out->end(), bytes, bytes + n);
  };
  int ok = 0;
  if (ext == ".png")
    ok = stbi_write_png_to_func(sink, &encoded, img.width, img.height, 3, img.rgb.data(), img.width * 3);
  else if (jpeg)
    ok = stbi_write_jpg_to_func(sink, &encoded, img.width, img.height, 3, img.rgb.data(), jpeg_quality);
  else
    ok = stbi_write_bmp_to_func(sink, &encoded, img.width, img.height, 3, img.rgb.data());
  require(ok != 0 && !encoded.empty(), path, ": stb_image_write could not encode the ", img.width, "x", img.height,
          " image");

  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  require(out.is_open(), path, ": cannot open file for writing (missing directory or no permission?)");
  out.write(reinterpret_cast<const char*>(encoded.data()), static_cast<std::streamsize>(encoded.size()));
  out.close();
  require(!out.fail(), path, ": write failed (disk full or not writable?)");
}

// True if the extension names a format load_image reads (.jpg, .jpeg, .png, .bmp, any case).
[[nodiscard]] inline bool is_image_path(const std::filesystem::path& p) {
  const std::string ext = image_detail::lower_extension(p);
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp";
}

// The pictures to process for a command-line argument: a file is itself
// (whatever its extension: load_image will judge it); a directory gives its
// image files (by extension, not recursive) sorted by name. Throws if the
// path is neither or the directory holds no images.
[[nodiscard]] inline std::vector<std::filesystem::path> list_images(const std::filesystem::path& file_or_dir) {
  std::error_code ec;
  const auto status = std::filesystem::status(file_or_dir, ec);
  if (ec || !std::filesystem::exists(status)) fail(file_or_dir.string(), ": no such file or directory");
  if (std::filesystem::is_regular_file(status)) return {file_or_dir};
  require(std::filesystem::is_directory(status), file_or_dir.string(), ": neither a regular file nor a directory");
  std::vector<std::filesystem::path> found;
  std::filesystem::directory_iterator it(file_or_dir, ec), end;
  if (ec) fail(file_or_dir.string(), ": cannot list the directory: ", ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) fail(file_or_dir.string(), ": cannot list the directory: ", ec.message());
    std::error_code type_ec;
    if (is_image_path(it->path()) && it->is_regular_file(type_ec)) found.push_back(it->path());
  }
  if (ec) fail(file_or_dir.string(), ": cannot list the directory: ", ec.message());
  require(!found.empty(), file_or_dir.string(), ": directory holds no image files (.jpg, .jpeg, .png, .bmp)");
  std::sort(found.begin(), found.end());
  return found;
}

}  // namespace riformer
