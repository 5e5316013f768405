// Image files: PNG/BMP round trips are exact, JPEG close; grey/alpha/16-bit
// inputs become RGB; JPEG EXIF orientation is applied like OpenCV's imread;
// every failure is a riformer::Error naming the file; corrupted files (a fuzz
// loop over PNG, JPEG and BMP) load or throw, never crash (run under ASan).

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "riformer/io/image.hpp"
#include "test_util.hpp"

using namespace riformer;
using riformer::testing::contains;
using riformer::testing::error_message;
namespace fs = std::filesystem;

namespace {

// A picture with smooth gradients, a disc and a bar: something like a photo for JPEG.
Image procedural(int w, int h) {
  Image img;
  img.width = w;
  img.height = h;
  img.rgb.resize(static_cast<std::size_t>(w) * h * 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      std::uint8_t* p = img.rgb.data() + (static_cast<std::size_t>(y) * w + x) * 3;
      p[0] = static_cast<std::uint8_t>(255 * x / std::max(w - 1, 1));
      p[1] = static_cast<std::uint8_t>(255 * y / std::max(h - 1, 1));
      p[2] = static_cast<std::uint8_t>((x + y) * 2 % 256);
      const int dx = x - w / 3, dy = y - h / 2;
      if (dx * dx + dy * dy < (h / 4) * (h / 4)) p[0] = 230, p[1] = 40, p[2] = 40;
      if (x > 2 * w / 3 && x < 2 * w / 3 + w / 8) p[0] = 20, p[1] = 60, p[2] = 200;
    }
  return img;
}

// Four flat quadrants (top-left red, top-right green, bottom-left blue, bottom-right white):
// corners survive JPEG and show where each part of the picture went.
Image quadrants(int w, int h) {
  Image img;
  img.width = w;
  img.height = h;
  img.rgb.resize(static_cast<std::size_t>(w) * h * 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const int q = (y >= h / 2) * 2 + (x >= w / 2);
      static constexpr std::uint8_t colors[4][3] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 255}};
      std::copy_n(colors[q], 3, img.rgb.data() + (static_cast<std::size_t>(y) * w + x) * 3);
    }
  return img;
}

// 0 red, 1 green, 2 blue, 3 white, -1 unclear: the colour of a pixel of a quadrants() picture.
int quadrant_at(const Image& img, int x, int y) {
  const std::uint8_t* p = img.rgb.data() + (static_cast<std::size_t>(y) * img.width + x) * 3;
  const bool r = p[0] > 128, g = p[1] > 128, b = p[2] > 128;
  if (r && !g && !b) return 0;
  if (!r && g && !b) return 1;
  if (!r && !g && b) return 2;
  if (r && g && b) return 3;
  return -1;
}

fs::path scratch(const std::string& name) {
  const fs::path dir = riformer::testing::temp_dir() / "riformer_image_test";
  fs::create_directories(dir);
  return dir / name;
}

std::vector<std::uint8_t> read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const fs::path& p, const std::vector<std::uint8_t>& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

void write_text(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
}

std::vector<std::uint8_t> encode_png(int w, int h, int comp, const std::vector<std::uint8_t>& data) {
  std::vector<std::uint8_t> out;
  auto sink = [](void* ctx, void* d, int n) {
    auto* v = static_cast<std::vector<std::uint8_t>*>(ctx);
    v->insert(v->end(), static_cast<std::uint8_t*>(d), static_cast<std::uint8_t*>(d) + n);
  };
  REQUIRE(stbi_write_png_to_func(sink, &out, w, h, comp, data.data(), w * comp) != 0);
  return out;
}

std::uint32_t crc32(const std::uint8_t* p, std::size_t n) {
  std::uint32_t c = 0xFFFFFFFFu;
  for (std::size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return ~c;
}

void put_be32(std::vector<std::uint8_t>& v, std::uint32_t x) {
  for (int s = 24; s >= 0; s -= 8) v.push_back(static_cast<std::uint8_t>(x >> s));
}

// A PNG signature and IHDR chunk (valid CRC) claiming w x h RGB, followed by nothing useful.
std::vector<std::uint8_t> png_header(std::uint32_t w, std::uint32_t h) {
  std::vector<std::uint8_t> v = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  put_be32(v, 13);
  const std::size_t type_at = v.size();
  for (char c : std::string("IHDR")) v.push_back(static_cast<std::uint8_t>(c));
  put_be32(v, w);
  put_be32(v, h);
  for (std::uint8_t b : {8, 2, 0, 0, 0}) v.push_back(b);  // 8-bit RGB, deflate, no filter, no interlace
  put_be32(v, crc32(v.data() + type_at, v.size() - type_at));
  for (int i = 0; i < 16; ++i) v.push_back(0);
  return v;
}

// An APP1 Exif segment with one IFD0 entry: Orientation (0x0112, SHORT, 1) = value.
std::vector<std::uint8_t> exif_segment(int orientation, bool little_endian) {
  std::vector<std::uint8_t> tiff;
  auto u16 = [&](unsigned x) {
    if (little_endian) tiff.insert(tiff.end(), {std::uint8_t(x), std::uint8_t(x >> 8)});
    else tiff.insert(tiff.end(), {std::uint8_t(x >> 8), std::uint8_t(x)});
  };
  auto u32 = [&](std::uint32_t x) {
    if (little_endian) { u16(x & 0xFFFF); u16(x >> 16); }
    else { u16(x >> 16); u16(x & 0xFFFF); }
  };
  tiff.push_back(little_endian ? 'I' : 'M');
  tiff.push_back(little_endian ? 'I' : 'M');
  u16(42);
  u32(8);                // IFD0 right after the header
  u16(2);                // two entries: an unrelated one first
  u16(0x010F); u16(2); u32(4); u32(0x41424300);  // Make = "ABC" (inline ASCII)
  u16(0x0112); u16(3); u32(1); u16(static_cast<unsigned>(orientation)); u16(0);
  u32(0);                // no next IFD
  std::vector<std::uint8_t> seg = {0xFF, 0xE1};
  const std::size_t length = 2 + 6 + tiff.size();
  seg.push_back(static_cast<std::uint8_t>(length >> 8));
  seg.push_back(static_cast<std::uint8_t>(length));
  for (char c : std::string("Exif")) seg.push_back(static_cast<std::uint8_t>(c));
  seg.push_back(0);
  seg.push_back(0);
  seg.insert(seg.end(), tiff.begin(), tiff.end());
  return seg;
}

double mean_abs_diff(const Image& a, const Image& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.rgb.size(); ++i) s += std::abs(int(a.rgb[i]) - int(b.rgb[i]));
  return s / static_cast<double>(a.rgb.size());
}

}  // namespace

TEST_CASE("round trips: PNG and BMP exact, JPEG close, extension case-insensitive") {
  const Image img = procedural(61, 37);  // odd sizes: BMP row padding, JPEG partial blocks
  for (const char* name : {"rt.png", "rt.bmp", "RT.PNG", "rt.Bmp"}) {
    CAPTURE(name);
    save_image(scratch(name).string(), img);
    const Image back = load_image(scratch(name).string());
    CHECK(back.width == 61);
    CHECK(back.height == 37);
    CHECK(back.rgb == img.rgb);
  }
  for (const char* name : {"rt.jpg", "rt.jpeg", "rt.JPG"}) {
    CAPTURE(name);
    save_image(scratch(name).string(), img);
    const Image back = load_image(scratch(name).string());
    REQUIRE(back.width == 61);
    REQUIRE(back.height == 37);
    CHECK(mean_abs_diff(back, img) < 4.0);
  }
  // Lower quality: smaller file, still recognizable.
  save_image(scratch("q20.jpg").string(), img, 20);
  CHECK(fs::file_size(scratch("q20.jpg")) < fs::file_size(scratch("rt.jpg")));
  CHECK(mean_abs_diff(load_image(scratch("q20.jpg").string()), img) < 12.0);
  // 1x1 pictures.
  Image dot;
  dot.width = dot.height = 1;
  dot.rgb = {1, 2, 3};
  save_image(scratch("dot.png").string(), dot);
  CHECK(load_image(scratch("dot.png").string()).rgb == dot.rgb);
}

TEST_CASE("grey, grey+alpha, RGBA and 16-bit PNGs load as 8-bit RGB") {
  const int w = 5, h = 3;
  std::vector<std::uint8_t> grey(w * h), ga(w * h * 2), rgba(w * h * 4);
  for (int i = 0; i < w * h; ++i) {
    grey[i] = static_cast<std::uint8_t>(i * 17);
    ga[2 * i] = static_cast<std::uint8_t>(i * 17);
    ga[2 * i + 1] = 7;
    for (int c = 0; c < 4; ++c) rgba[4 * i + c] = static_cast<std::uint8_t>(i * 10 + c);
  }
  write_bytes(scratch("grey.png"), encode_png(w, h, 1, grey));
  write_bytes(scratch("ga.png"), encode_png(w, h, 2, ga));
  write_bytes(scratch("rgba.png"), encode_png(w, h, 4, rgba));
  const Image g = load_image(scratch("grey.png").string());
  const Image a = load_image(scratch("ga.png").string());
  const Image c = load_image(scratch("rgba.png").string());
  for (int i = 0; i < w * h; ++i)
    for (int k = 0; k < 3; ++k) {
      CHECK(g.rgb[3 * i + k] == grey[i]);
      CHECK(a.rgb[3 * i + k] == grey[i]);  // alpha dropped, not blended
      CHECK(c.rgb[3 * i + k] == rgba[4 * i + k]);
    }
}

TEST_CASE("JPEG EXIF orientation is applied as OpenCV's imread does") {
  const Image stored = quadrants(48, 32);
  save_image(scratch("plain.jpg").string(), stored);
  const std::vector<std::uint8_t> jpeg = read_bytes(scratch("plain.jpg"));
  const Image plain = load_image(scratch("plain.jpg").string());
  REQUIRE(quadrant_at(plain, 0, 0) == 0);
  REQUIRE(quadrant_at(plain, 47, 0) == 1);
  REQUIRE(quadrant_at(plain, 0, 31) == 2);
  REQUIRE(quadrant_at(plain, 47, 31) == 3);

  // Displayed corners (top-left, top-right, bottom-left, bottom-right) per the EXIF
  // definition, in terms of the stored corners red 0, green 1, blue 2, white 3.
  const int expected[9][4] = {{},           {0, 1, 2, 3}, {1, 0, 3, 2}, {3, 2, 1, 0}, {2, 3, 0, 1},
                              {0, 2, 1, 3}, {2, 0, 3, 1}, {3, 1, 2, 0}, {1, 3, 0, 2}};
  for (int orientation = 1; orientation <= 8; ++orientation)
    for (bool little : {true, false}) {
      CAPTURE(orientation);
      CAPTURE(little);
      std::vector<std::uint8_t> bytes(jpeg.begin(), jpeg.begin() + 2);  // SOI, then EXIF, then the rest
      const std::vector<std::uint8_t> seg = exif_segment(orientation, little);
      bytes.insert(bytes.end(), seg.begin(), seg.end());
      bytes.insert(bytes.end(), jpeg.begin() + 2, jpeg.end());
      write_bytes(scratch("exif.jpg"), bytes);
      const Image img = load_image(scratch("exif.jpg").string());
      const bool swapped = orientation >= 5;
      REQUIRE(img.width == (swapped ? 32 : 48));
      REQUIRE(img.height == (swapped ? 48 : 32));
      const int W = img.width - 1, H = img.height - 1;
      CHECK(quadrant_at(img, 0, 0) == expected[orientation][0]);
      CHECK(quadrant_at(img, W, 0) == expected[orientation][1]);
      CHECK(quadrant_at(img, 0, H) == expected[orientation][2]);
      CHECK(quadrant_at(img, W, H) == expected[orientation][3]);
      // Same decoded pixels, only moved: the multiset of values is unchanged.
      std::vector<std::uint8_t> a = img.rgb, b = plain.rgb;
      std::sort(a.begin(), a.end());
      std::sort(b.begin(), b.end());
      CHECK(a == b);
    }
  // An orientation tag with an invalid value is ignored.
  std::vector<std::uint8_t> bytes(jpeg.begin(), jpeg.begin() + 2);
  const std::vector<std::uint8_t> seg = exif_segment(9, true);
  bytes.insert(bytes.end(), seg.begin(), seg.end());
  bytes.insert(bytes.end(), jpeg.begin() + 2, jpeg.end());
  write_bytes(scratch("exif9.jpg"), bytes);
  CHECK(load_image(scratch("exif9.jpg").string()).rgb == plain.rgb);
}

TEST_CASE("load errors name the file and say what is wrong") {
  const std::string missing = scratch("does_not_exist.png").string();
  CHECK(contains(error_message([&] { (void)load_image(missing); }), missing));
  CHECK(contains(error_message([&] { (void)load_image(missing); }), "does it exist"));

  const fs::path dir = scratch("a_directory.png");
  fs::create_directories(dir);
  const std::string dir_msg = error_message([&] { (void)load_image(dir.string()); });
  CHECK(contains(dir_msg, dir.string()));
  CHECK(contains(dir_msg, "not a regular file"));

  write_text(scratch("empty.png"), "");
  const std::string empty_msg = error_message([&] { (void)load_image(scratch("empty.png").string()); });
  CHECK(contains(empty_msg, scratch("empty.png").string()));
  CHECK(contains(empty_msg, "empty"));

  write_text(scratch("text.jpg"), "this is not a picture, just some text\n");
  const std::string text_msg = error_message([&] { (void)load_image(scratch("text.jpg").string()); });
  CHECK(contains(text_msg, scratch("text.jpg").string()));
  CHECK(contains(text_msg, "not a JPEG, PNG or BMP image"));

  // Formats stb knows but this loader leaves out are "not an image" too.
  write_text(scratch("anim.gif"), "GIF89a\x01\x00\x01\x00\x00\x00\x00;");
  CHECK(contains(error_message([&] { (void)load_image(scratch("anim.gif").string()); }), "not a JPEG, PNG or BMP"));

  // Truncated PNG: header intact, pixel data cut.
  save_image(scratch("whole.png").string(), procedural(40, 30));
  std::vector<std::uint8_t> png = read_bytes(scratch("whole.png"));
  png.resize(png.size() / 2);
  write_bytes(scratch("truncated.png"), png);
  const std::string trunc_msg = error_message([&] { (void)load_image(scratch("truncated.png").string()); });
  CHECK(contains(trunc_msg, scratch("truncated.png").string()));
  CHECK(contains(trunc_msg, "cannot decode"));
  CHECK(contains(trunc_msg, "stb_image: "));

  // Cut inside the header.
  png.resize(20);
  write_bytes(scratch("header_cut.png"), png);
  const std::string cut_msg = error_message([&] { (void)load_image(scratch("header_cut.png").string()); });
  CHECK(contains(cut_msg, scratch("header_cut.png").string()));

  // Corrupt compressed data.
  std::vector<std::uint8_t> corrupt = read_bytes(scratch("whole.png"));
  for (std::size_t i = 60; i < corrupt.size() - 20; i += 7) corrupt[i] ^= 0x5A;
  write_bytes(scratch("corrupt.png"), corrupt);
  CHECK(contains(error_message([&] { (void)load_image(scratch("corrupt.png").string()); }),
                 scratch("corrupt.png").string()));

  // Absurd dimensions: beyond stb's per-side limit (its own reason), and within it but too many pixels.
  write_bytes(scratch("huge.png"), png_header(100000, 100000));
  const std::string huge_msg = error_message([&] { (void)load_image(scratch("huge.png").string()); });
  CHECK(contains(huge_msg, scratch("huge.png").string()));
  CHECK(contains(huge_msg, "too large"));
  write_bytes(scratch("big.png"), png_header(60000, 60000));
  const std::string big_msg = error_message([&] { (void)load_image(scratch("big.png").string()); });
  CHECK(contains(big_msg, scratch("big.png").string()));
  CHECK((contains(big_msg, "absurd") || contains(big_msg, "too large")));
  write_bytes(scratch("zero.png"), png_header(0, 10));
  CHECK(contains(error_message([&] { (void)load_image(scratch("zero.png").string()); }), scratch("zero.png").string()));

  // A JPEG cut anywhere: before its frame header stb's last reason can be another
  // format's ("bad png sig"), which must not reach the message.
  save_image(scratch("whole.jpg").string(), procedural(40, 30));
  const std::vector<std::uint8_t> jpg = read_bytes(scratch("whole.jpg"));
  for (std::size_t cut = 3; cut < jpg.size(); cut += 5) {
    write_bytes(scratch("cut.jpg"), {jpg.begin(), jpg.begin() + static_cast<std::ptrdiff_t>(cut)});
    try {
      (void)load_image(scratch("cut.jpg").string());  // stb may accept a cut inside the scan data
    } catch (const riformer::Error& e) {
      CAPTURE(cut);
      CHECK(contains(e.what(), "cannot decode the JPEG image"));
      CHECK(!contains(e.what(), "png"));
    }
  }

  // A BMP cut anywhere in its pixels (stb_image would fill the rest with zeros), in
  // both header forms stb reads: BITMAPINFOHEADER (what stb writes) and the old core one.
  save_image(scratch("whole.bmp").string(), procedural(5, 3));  // rows of 15 bytes padded to 16
  const std::vector<std::uint8_t> whole_bmp = read_bytes(scratch("whole.bmp"));
  CHECK(load_image(scratch("whole.bmp").string()).width == 5);
  for (std::size_t cut : {whole_bmp.size() - 1, whole_bmp.size() - 16, std::size_t{54}}) {
    CAPTURE(cut);
    write_bytes(scratch("cut.bmp"), {whole_bmp.begin(), whole_bmp.begin() + static_cast<std::ptrdiff_t>(cut)});
    CHECK(contains(error_message([&] { (void)load_image(scratch("cut.bmp").string()); }), "truncated BMP"));
  }
  // Stored top-down (a negative height): the same picture, rows in the other order.
  REQUIRE(whole_bmp.size() == 54 + 3 * 16);
  std::vector<std::uint8_t> top_down = whole_bmp;
  const std::size_t row = 16, first = 54;  // 5 pixels x 3 bytes, padded to 4
  for (std::size_t r = 0; r < 3; ++r)
    std::copy_n(whole_bmp.begin() + static_cast<std::ptrdiff_t>(first + (2 - r) * row), row,
                top_down.begin() + static_cast<std::ptrdiff_t>(first + r * row));
  const std::int32_t minus_three = -3;
  std::memcpy(top_down.data() + 22, &minus_three, 4);
  write_bytes(scratch("top_down.bmp"), top_down);
  CHECK(load_image(scratch("top_down.bmp").string()).rgb == load_image(scratch("whole.bmp").string()).rgb);
  // The old core header: 2x2 pixels of 24 bits, rows of 6 bytes padded to 8, data at byte 26.
  // (Built at full size and then given its header: resizing a vector made
  // from the 26-byte list draws a false -Warray-bounds from GCC 12.)
  const std::uint8_t core_header[] = {'B', 'M', 42, 0, 0, 0, 0, 0, 0, 0, 26, 0, 0, 0,  // file header
                                      12, 0, 0, 0, 2, 0, 2, 0, 1, 0, 24, 0};           // BITMAPCOREHEADER
  std::vector<std::uint8_t> core(42, 0x80);
  std::copy(std::begin(core_header), std::end(core_header), core.begin());
  write_bytes(scratch("core.bmp"), core);
  CHECK(load_image(scratch("core.bmp").string()).rgb == std::vector<std::uint8_t>(12, 0x80));
  core.resize(41);
  write_bytes(scratch("core_cut.bmp"), core);
  CHECK(contains(error_message([&] { (void)load_image(scratch("core_cut.bmp").string()); }), "truncated BMP"));

  // A BMP header claiming a 1,000,000-pixel-wide picture.
  save_image(scratch("small.bmp").string(), procedural(4, 4));
  std::vector<std::uint8_t> bmp = read_bytes(scratch("small.bmp"));
  REQUIRE(bmp.size() > 26);
  bmp[18] = 0x40; bmp[19] = 0x42; bmp[20] = 0x0F; bmp[21] = 0x00;  // width 1000000
  write_bytes(scratch("wide.bmp"), bmp);
  const std::string wide_msg = error_message([&] { (void)load_image(scratch("wide.bmp").string()); });
  INFO(wide_msg);
  CHECK(contains(wide_msg, scratch("wide.bmp").string()));
  CHECK(contains(wide_msg, "too large"));
}

TEST_CASE("JPEGs with an oversized Huffman table are refused before stb_image sees them") {
  save_image(scratch("dht.jpg").string(), procedural(16, 16));
  const std::vector<std::uint8_t> jpeg = read_bytes(scratch("dht.jpg"));
  CHECK(!image_detail::jpeg_has_oversized_huffman_table(jpeg.data(), jpeg.size()));
  std::size_t dht = 0;
  for (std::size_t i = 2; i + 1 < jpeg.size(); ++i)
    if (jpeg[i] == 0xFF && jpeg[i + 1] == 0xC4) {
      dht = i;
      break;
    }
  REQUIRE(dht > 0);

  // 16 code counts of 255: 4080 codes for a table that holds 256 (stb 2.27 would write past it).
  std::vector<std::uint8_t> bad = jpeg;
  for (int i = 0; i < 16; ++i) bad[dht + 5 + i] = 0xFF;
  CHECK(image_detail::jpeg_has_oversized_huffman_table(bad.data(), bad.size()));
  write_bytes(scratch("bad_dht.jpg"), bad);
  const std::string msg = error_message([&] { (void)load_image(scratch("bad_dht.jpg").string()); });
  CHECK(contains(msg, scratch("bad_dht.jpg").string()));
  CHECK(contains(msg, "Huffman table"));

  // The same bytes inside a comment segment are data, not a table: the file still loads.
  std::vector<std::uint8_t> comment = {0xFF, 0xFE, 0x00, 0x16, 0xFF, 0xC4, 0x00, 0x13, 0x00};
  for (int i = 0; i < 15; ++i) comment.push_back(0xFF);
  REQUIRE(comment.size() == 2u + 0x16u);  // marker + length field's count
  std::vector<std::uint8_t> hidden(jpeg.begin(), jpeg.begin() + 2);
  hidden.insert(hidden.end(), comment.begin(), comment.end());
  hidden.insert(hidden.end(), jpeg.begin() + 2, jpeg.end());
  CHECK(!image_detail::jpeg_has_oversized_huffman_table(hidden.data(), hidden.size()));
  write_bytes(scratch("comment.jpg"), hidden);
  CHECK(load_image(scratch("comment.jpg").string()).rgb == load_image(scratch("dht.jpg").string()).rgb);

  // Not JPEG at all, or cut short: nothing to refuse here (stb reports those).
  const std::uint8_t tiny[3] = {0xFF, 0xD8, 0xFF};
  CHECK(!image_detail::jpeg_has_oversized_huffman_table(tiny, 3));
  CHECK(!image_detail::jpeg_has_oversized_huffman_table(tiny, 0));
  CHECK(!image_detail::jpeg_has_oversized_huffman_table(bad.data(), dht + 6));
}

TEST_CASE("save errors name the file") {
  const Image img = procedural(8, 6);
  for (const char* name : {"x.gif", "x.txt", "noextension", "x.png.tmp", "x.tif"}) {
    CAPTURE(name);
    const std::string p = scratch(name).string();
    const std::string msg = error_message([&] { save_image(p, img); });
    CHECK(contains(msg, p));
    CHECK(contains(msg, "extension"));
  }
  const std::string nodir = (scratch("no_such_dir") / "x.png").string();
  const std::string nodir_msg = error_message([&] { save_image(nodir, img); });
  CHECK(contains(nodir_msg, nodir));
  CHECK(contains(nodir_msg, "cannot open file for writing"));
  // A directory where the file should go.
  fs::create_directories(scratch("taken.png"));
  CHECK(contains(error_message([&] { save_image(scratch("taken.png").string(), img); }), scratch("taken.png").string()));

  Image broken = img;
  broken.rgb.resize(10);
  CHECK(contains(error_message([&] { save_image(scratch("b.png").string(), broken); }), "needs 144 bytes"));
  CHECK(contains(error_message([&] { save_image(scratch("e.png").string(), Image{}); }), "0x0"));
  CHECK(contains(error_message([&] { save_image(scratch("q.jpg").string(), img, 0); }), "quality 0"));
  CHECK(contains(error_message([&] { save_image(scratch("q.jpg").string(), img, 101); }), "quality 101"));
  CHECK(!fs::exists(scratch("b.png")));
}

TEST_CASE("is_image_path and list_images") {
  CHECK(is_image_path("a.jpg"));
  CHECK(is_image_path("dir.d/A.JPEG"));
  CHECK(is_image_path("x.Png"));
  CHECK(is_image_path("x.bmp"));
  CHECK(!is_image_path("x.gif"));
  CHECK(!is_image_path("x.png.txt"));
  CHECK(!is_image_path("png"));
  CHECK(!is_image_path(".jpgx"));
  CHECK(!is_image_path(""));

  const fs::path dir = scratch("listing");
  fs::remove_all(dir);
  fs::create_directories(dir / "sub.png");  // a directory with an image-like name is skipped
  const Image img = procedural(4, 4);
  for (const char* name : {"b.png", "a.JPG", "c.bmp", "notes.txt", "10.jpeg"}) write_text(dir / name, "x");
  write_text(dir / "sub.png" / "inner.png", "x");  // not recursive
  const std::vector<fs::path> listed = list_images(dir);
  REQUIRE(listed.size() == 4);
  CHECK(listed[0].filename() == "10.jpeg");
  CHECK(listed[1].filename() == "a.JPG");
  CHECK(listed[2].filename() == "b.png");
  CHECK(listed[3].filename() == "c.bmp");

  // A file is itself, whatever its extension (load_image judges the content).
  CHECK(list_images(dir / "notes.txt") == std::vector<fs::path>{dir / "notes.txt"});

  const fs::path empty = scratch("empty_listing");
  fs::remove_all(empty);
  fs::create_directories(empty);
  const std::string empty_msg = error_message([&] { (void)list_images(empty); });
  CHECK(contains(empty_msg, empty.string()));
  CHECK(contains(empty_msg, "no image files"));
  write_text(empty / "readme.md", "x");
  CHECK(contains(error_message([&] { (void)list_images(empty); }), "no image files"));
  const std::string missing_msg = error_message([&] { (void)list_images(scratch("nothing_here")); });
  CHECK(contains(missing_msg, scratch("nothing_here").string()));
  CHECK(contains(missing_msg, "no such file or directory"));
  (void)img;
}

TEST_CASE("fuzz: corrupted PNG, JPEG and BMP files load or throw riformer::Error") {
  const Image img = procedural(24, 18);
  std::mt19937 rng(20240611);
  int loaded = 0, rejected = 0;
  for (const char* ext : {".png", ".jpg", ".bmp"}) {
    const fs::path valid = scratch(std::string("fuzz_valid") + ext);
    save_image(valid.string(), img);
    const std::vector<std::uint8_t> original = read_bytes(valid);
    for (int copy = 0; copy < 200; ++copy) {
      std::vector<std::uint8_t> bytes = original;
      const int kind = static_cast<int>(rng() % 4);
      const int edits = 1 + static_cast<int>(rng() % 8);
      for (int e = 0; e < edits; ++e) {
        // Half the edits hit the first 64 bytes (headers, tables), where damage goes furthest.
        const std::size_t span = (rng() % 2) ? std::min<std::size_t>(64, bytes.size()) : bytes.size();
        const std::size_t at = rng() % span;
        if (kind == 0) bytes[at] = static_cast<std::uint8_t>(rng());
        else if (kind == 1) bytes[at] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
        else if (kind == 2) bytes[at] = (rng() % 2) ? 0xFF : 0x00;
        else bytes.insert(bytes.begin() + static_cast<std::ptrdiff_t>(at), static_cast<std::uint8_t>(rng()));
      }
      if (rng() % 4 == 0) bytes.resize(1 + rng() % bytes.size());  // and sometimes truncated
      const fs::path p = scratch(std::string("fuzz") + ext);
      write_bytes(p, bytes);
      try {
        const Image got = load_image(p.string());
        REQUIRE(got.width > 0);
        REQUIRE(got.height > 0);
        REQUIRE(got.rgb.size() == static_cast<std::size_t>(got.width) * got.height * 3);
        ++loaded;
      } catch (const riformer::Error& e) {
        REQUIRE(contains(e.what(), p.string()));
        ++rejected;
      }
    }
  }
  MESSAGE("fuzz: " << loaded << " loaded, " << rejected << " rejected");
  CHECK(loaded + rejected == 600);
  CHECK(rejected > 0);
}
