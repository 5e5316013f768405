#pragma once
// Reading and writing .safetensors weight files: 8-byte little-endian header length N,
// N bytes of JSON header mapping tensor name -> {dtype, shape, data_offsets}, then the
// raw data. Checkpoints come from outside, so open() validates the whole header against
// the file size before anything is read: every later read uses only validated offsets,
// and a corrupt or truncated file is reported as riformer::Error naming the file and
// the tensor, never as a crash, a hang or a huge allocation. Data is read one tensor
// at a time with seek + read, since checkpoints can be hundreds of megabytes.

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "riformer/core/error.hpp"
#include "riformer/io/file.hpp"
#include "riformer/io/half.hpp"
#include "riformer/io/json.hpp"
#include "riformer/io/param_source.hpp"

namespace riformer {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian and is read by memcpy; a big-endian host needs byte swaps");

// `other`: a dtype safetensors knows (F64, I64, U8, BOOL, ...) that we do not convert
// to float; such tensors may sit in a file as long as the model does not ask for them.
enum class DType { F32, F16, BF16, other };

struct TensorInfo {
  std::string name;
  DType dtype;
  std::string dtype_name;  // as written in the file: "F32", "I64", ...
  Shape shape;
  std::uint64_t begin, end;  // byte range relative to the start of the data section
};

struct NamedTensor {
  std::string name;
  Shape shape;
  std::vector<float> data;  // element_count(shape) values, C order
};

namespace safetensors_detail {

inline constexpr std::uint64_t max_header_bytes = 100ull << 20;  // as the official library
inline constexpr std::uint64_t max_dim = std::uint64_t{1} << 62;
inline constexpr std::uint64_t max_elements = std::uint64_t{1} << 62;

// Bits per element of every dtype the safetensors format defines; 0 if unknown.
// Sizes are in bits because of the sub-byte float formats (F4, F6_*).
[[nodiscard]] inline unsigned dtype_bits(std::string_view name) {
  struct Entry { std::string_view name; unsigned bits; };
  static constexpr Entry table[] = {
      {"BOOL", 8},     {"U8", 8},       {"I8", 8},       {"F8_E5M2", 8}, {"F8_E4M3", 8},
      {"F8_E8M0", 8},  {"I16", 16},     {"U16", 16},     {"F16", 16},    {"BF16", 16},
      {"I32", 32},     {"U32", 32},     {"F32", 32},     {"F64", 64},    {"I64", 64},
      {"U64", 64},     {"C64", 64},     {"F4", 4},       {"F6_E2M3", 6}, {"F6_E3M2", 6},
  };
  for (const Entry& e : table)
    if (e.name == name) return e.bits;
  return 0;
}

[[nodiscard]] inline DType dtype_from_name(std::string_view name) {
  if (name == "F32") return DType::F32;
  if (name == "F16") return DType::F16;
  if (name == "BF16") return DType::BF16;
  return DType::other;
}

[[nodiscard]] inline std::string_view dtype_name(DType d) {
  switch (d) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::other: break;
  }
  return "other";
}

using file_detail::read_exact;
using file_detail::regular_file_size;

[[nodiscard]] inline std::string quote_key(std::string_view key) {
  // Keys appear in messages; escape control characters as the JSON header would.
  std::string q = json::quote(key);
  q.front() = q.back() = '\'';
  return q;
}

}  // namespace safetensors_detail

class SafetensorsFile {
 public:
  // Reads and validates the header only; data is read on demand by read_float().
  [[nodiscard]] static SafetensorsFile open(const std::string& path) {
    using namespace safetensors_detail;
    SafetensorsFile f;
    f.path_ = path;
    const std::uint64_t file_size = regular_file_size(path);
    require(file_size >= 8, path, ": file is ", file_size,
            " bytes, too short for a safetensors file (needs at least the 8-byte header length)");
    std::ifstream in(path, std::ios::binary);
    require(in.is_open(), path, ": cannot open file for reading");

    unsigned char length_bytes[8];
    read_exact(in, path, 0, reinterpret_cast<char*>(length_bytes), 8, "header length");
    std::uint64_t header_len = 0;
    for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | length_bytes[i];
    require(header_len <= max_header_bytes, path, ": header length ", header_len,
            " bytes is absurd (limit ", max_header_bytes, "); not a safetensors file?");
    require(header_len <= file_size - 8, path, ": header length ", header_len, " exceeds the file size (",
            file_size, " bytes); truncated or not a safetensors file");
    std::string header(header_len, '\0');
    read_exact(in, path, 8, header.data(), header_len, "header");

    f.data_offset_ = 8 + header_len;
    f.data_size_ = file_size - f.data_offset_;
    f.parse_header(header);
    return f;
  }

  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] const std::vector<TensorInfo>& tensors() const { return tensors_; }
  [[nodiscard]] const TensorInfo* find(std::string_view name) const {
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : &tensors_[it->second];
  }
  [[nodiscard]] const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // Absolute file offset of the data section (8 + header length).
  [[nodiscard]] std::uint64_t data_offset() const { return data_offset_; }

  // The tensor's values converted to float, C order.
  [[nodiscard]] std::vector<float> read_float(const TensorInfo& t) const {
    using namespace safetensors_detail;
    const std::string where = path_ + ": tensor " + quote_key(t.name);
    require(t.dtype != DType::other, where, " has dtype ", t.dtype_name,
            ", which cannot be converted to float (supported: F32, F16, BF16)");
    // `t` might not come from this file; trust only our own validated copy.
    const TensorInfo* own = find(t.name);
    require(own != nullptr && own->begin == t.begin && own->end == t.end && own->dtype == t.dtype, where,
            ": not a tensor of this file");
    // The file may have been truncated or replaced since open().
    const std::uint64_t file_size = regular_file_size(path_);
    require(file_size >= data_offset_ + own->end, where, ": file is now ", file_size,
            " bytes, too short for the tensor's data (ends at byte ", data_offset_ + own->end,
            "); was it truncated after opening?");
    std::ifstream in(path_, std::ios::binary);
    require(in.is_open(), where, ": cannot open file for reading");

    const std::uint64_t bytes = own->end - own->begin;
    const std::uint64_t offset = data_offset_ + own->begin;
    const std::string what = "data of tensor " + quote_key(own->name);
    if (own->dtype == DType::F32) {
      std::vector<float> out(bytes / 4);
      read_exact(in, path_, offset, reinterpret_cast<char*>(out.data()), bytes, what);
      return out;
    }
    std::vector<std::uint16_t> raw(bytes / 2);
    read_exact(in, path_, offset, reinterpret_cast<char*>(raw.data()), bytes, what);
    std::vector<float> out(raw.size());
    if (own->dtype == DType::F16)
      std::transform(raw.begin(), raw.end(), out.begin(), f16_to_float);
    else
      std::transform(raw.begin(), raw.end(), out.begin(), bf16_to_float);
    return out;
  }

 private:
  SafetensorsFile() = default;

  void parse_header(const std::string& header) {
    using namespace safetensors_detail;
    json::Value root;
    try {
      // The default limit of 1M values (~10 per tensor) allows ~100k tensors, far beyond
      // any real checkpoint, and bounds the parsed header to ~100 MB.
      root = json::parse(header);
    } catch (const Error& e) {
      fail(path_, ": header is not valid JSON: ", e.what());
    }
    require(root.is_object(), path_, ": header is ", root.kind_name(), ", expected a JSON object");

    const auto& keys = root.keys();
    const auto& values = root.items();
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (keys[i] == "__metadata__") {
        parse_metadata(values[i]);
      } else {
        tensors_.push_back(parse_entry(keys[i], values[i]));
        index_.emplace(keys[i], tensors_.size() - 1);
      }
    }
    check_layout();
  }

  void parse_metadata(const json::Value& meta) {
    require(meta.is_object(), path_, ": \"__metadata__\" is ", meta.kind_name(),
            ", expected an object mapping strings to strings");
    for (std::size_t i = 0; i < meta.keys().size(); ++i) {
      const json::Value& v = meta.items()[i];
      require(v.is_string(), path_, ": \"__metadata__\" entry ", safetensors_detail::quote_key(meta.keys()[i]),
              " is ", v.kind_name(), ", expected a string");
      metadata_.emplace(meta.keys()[i], v.as_string());
    }
  }

  [[nodiscard]] TensorInfo parse_entry(const std::string& name, const json::Value& entry) const {
    using namespace safetensors_detail;
    const std::string where = path_ + ": tensor " + quote_key(name);
    require(entry.is_object(), where, ": entry is ", entry.kind_name(), ", expected an object");
    // Other fields are ignored, as the official library does, for files from other writers.
    const json::Value* dtype = entry.find("dtype");
    const json::Value* shape = entry.find("shape");
    const json::Value* offsets = entry.find("data_offsets");
    require(dtype != nullptr, where, ": missing field \"dtype\"");
    require(shape != nullptr, where, ": missing field \"shape\"");
    require(offsets != nullptr, where, ": missing field \"data_offsets\"");

    TensorInfo t;
    t.name = name;
    require(dtype->is_string(), where, ": \"dtype\" is ", dtype->kind_name(), ", expected a string");
    t.dtype_name = dtype->as_string();
    const unsigned bits = dtype_bits(t.dtype_name);
    require(bits != 0, where, ": unknown dtype ", quote_key(t.dtype_name));
    t.dtype = dtype_from_name(t.dtype_name);

    require(shape->is_array(), where, ": \"shape\" is ", shape->kind_name(), ", expected an array of integers");
    std::uint64_t count = 1;
    for (const json::Value& d : shape->items()) {
      require(d.is_uint(), where, ": shape entry is ", d.is_number() ? "negative or not an integer" : d.kind_name(),
              ", expected a non-negative integer");
      const std::uint64_t dim = d.as_uint();
      require(dim <= max_dim, where, ": dimension ", dim, " is absurd");
      // Check before multiplying: count * dim must stay within max_elements.
      require(dim == 0 || count <= max_elements / dim, where, ": element count overflows (shape too large)");
      count *= dim;
      t.shape.push_back(static_cast<std::int64_t>(dim));
    }

    require(offsets->is_array() && offsets->size() == 2 && (*offsets)[0].is_uint() && (*offsets)[1].is_uint(),
            where, ": \"data_offsets\" must be [begin, end] with non-negative integers");
    t.begin = (*offsets)[0].as_uint();
    t.end = (*offsets)[1].as_uint();
    require(t.begin <= t.end, where, ": data_offsets [", t.begin, ", ", t.end, "] has begin > end");
    // count * bits can exceed 64 bits (count <= 2^62, bits <= 64): test before multiplying.
    // A tensor of more than 2^61 bytes is declared a mismatch; no file is that large.
    const std::uint64_t bytes = t.end - t.begin;
    constexpr std::uint64_t u64_max = std::numeric_limits<std::uint64_t>::max();
    const bool size_ok = count <= u64_max / bits && bytes <= u64_max / 8 && count * bits == bytes * 8;
    require(size_ok, where, ": data_offsets [", t.begin, ", ", t.end, "] span ", bytes, " bytes, but ",
            to_string(t.shape), " x ", t.dtype_name, " needs ", count, " x ", bits, " bits");
    require(t.end <= data_size_, where, ": data_offsets end ", t.end, " is beyond the data section (",
            data_size_, " bytes); file truncated?");
    return t;
  }

  // The tensors must tile the data section: sorted by offset, each starts where
  // the previous one ends, the first at 0 and the last at its end (the official
  // library's rule). A gap or trailing bytes mean the header and the data
  // disagree: a header length one byte short, say, still parses (the header is
  // padded with spaces) but shifts every tensor by a byte.
  void check_layout() const {
    using namespace safetensors_detail;
    std::vector<const TensorInfo*> by_offset;
    for (const TensorInfo& t : tensors_) by_offset.push_back(&t);
    std::sort(by_offset.begin(), by_offset.end(), [](const TensorInfo* a, const TensorInfo* b) {
      return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
    });
    const TensorInfo* previous = nullptr;
    std::uint64_t expected = 0;  // where the next tensor must start
    for (const TensorInfo* t : by_offset) {
      if (t->begin < expected)  // only after a first tensor: expected starts at 0
        fail(path_, ": tensors ", quote_key(previous->name), " [", previous->begin, ", ", previous->end, ") and ",
             quote_key(t->name), " [", t->begin, ", ", t->end, ") overlap");
      require(t->begin == expected, path_, ": tensor ", quote_key(t->name), " starts at byte ", t->begin,
              " of the data section, but ", previous ? "the tensor before it ends" : "the data starts", " at ",
              expected, ": a gap of ", t->begin - expected, " bytes (corrupt header?)");
      previous = t;
      expected = t->end;
    }
    require(expected == data_size_, path_, ": the data section is ", data_size_, " bytes but its tensors end at byte ",
            expected, ": wrong header length, or data appended to the file?");
  }

  std::string path_;
  std::uint64_t data_offset_ = 0;
  std::uint64_t data_size_ = 0;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, std::size_t, std::less<>> index_;
  std::map<std::string, std::string> metadata_;
};

// Writes `tensors` (in the given order) as a safetensors file with `dtype` storage;
// F16/BF16 round to nearest even. The header is padded with spaces to a multiple of
// 8 bytes, as the official library does, so the data section stays aligned.
inline void write_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                              const std::map<std::string, std::string>& metadata = {},
                              DType dtype = DType::F32) {
  using namespace safetensors_detail;
  require(dtype != DType::other, path, ": write_safetensors supports F32, F16 and BF16 only");
  const std::uint64_t elem_bytes = dtype == DType::F32 ? 4 : 2;

  std::string header = "{";
  if (!metadata.empty()) {
    header += "\"__metadata__\":{";
    bool first = true;
    for (const auto& [k, v] : metadata) {
      if (!first) header += ",";
      header += json::quote(k);
      header += ":";
      header += json::quote(v);
      first = false;
    }
    header += "}";
  }
  std::map<std::string_view, int> seen;
  std::uint64_t offset = 0;
  for (const NamedTensor& t : tensors) {
    const std::string where = path + ": tensor " + quote_key(t.name);
    require(t.name != "__metadata__", where, ": this name is reserved for metadata");
    require(seen.emplace(t.name, 0).second, where, ": duplicate tensor name");
    // Count without element_count(): an absurd shape must not overflow a signed product.
    std::uint64_t count = 1;
    for (std::int64_t d : t.shape) {
      require(d >= 0, where, ": negative dimension in shape ", to_string(t.shape));
      const auto dim = static_cast<std::uint64_t>(d);
      require(dim == 0 || count <= max_elements / dim, where, ": shape ", to_string(t.shape), " is too large");
      count *= dim;
    }
    require(count == t.data.size(), where, ": shape ", to_string(t.shape), " has ", count, " elements but ",
            t.data.size(), " values given");
    const std::uint64_t end = offset + t.data.size() * elem_bytes;
    if (header.size() > 1) header += ",";
    header += detail::concat(json::quote(t.name), ":{\"dtype\":\"", dtype_name(dtype), "\",\"shape\":[");
    for (std::size_t i = 0; i < t.shape.size(); ++i) header += detail::concat(i ? "," : "", t.shape[i]);
    header += detail::concat("],\"data_offsets\":[", offset, ",", end, "]}");
    offset = end;
  }
  header += "}";
  header.append((8 - header.size() % 8) % 8, ' ');

  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  require(out.is_open(), path, ": cannot open file for writing");
  unsigned char length_bytes[8];
  for (int i = 0; i < 8; ++i) length_bytes[i] = static_cast<unsigned char>(header.size() >> (8 * i));
  out.write(reinterpret_cast<const char*>(length_bytes), 8);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  for (const NamedTensor& t : tensors) {
    if (dtype == DType::F32) {
      out.write(reinterpret_cast<const char*>(t.data.data()), static_cast<std::streamsize>(t.data.size() * 4));
    } else {
      std::vector<std::uint16_t> raw(t.data.size());
      std::transform(t.data.begin(), t.data.end(), raw.begin(), dtype == DType::F16 ? float_to_f16 : float_to_bf16);
      out.write(reinterpret_cast<const char*>(raw.data()), static_cast<std::streamsize>(raw.size() * 2));
    }
  }
  out.close();
  require(!out.fail(), path, ": write failed (disk full or not writable?)");
}

}  // namespace riformer
