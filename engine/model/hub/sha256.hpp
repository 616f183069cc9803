#pragma once
// SHA-256 (FIPS 180-4), to check a downloaded weights file against the Hub's ETag before it
// enters the cache. Incremental: update() with each chunk as it arrives.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace attnviz::model::hub {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, std::size_t size);
  std::string hexDigest();  // finishes the hash; call once

 private:
  void block(const std::uint8_t* p);
  std::array<std::uint32_t, 8> state_;
  std::array<std::uint8_t, 64> buffer_{};
  std::size_t buffered_ = 0;
  std::uint64_t bytes_ = 0;
};

// The SHA-256 of a whole file as 64 lowercase hex digits; throws Error when it cannot be read.
std::string sha256OfFile(const std::string& path);

}  // namespace attnviz::model::hub
