// SPDX-License-Identifier: MIT
/// @file
/// `ProceduralSource<Options, Reader>`: the `VideoSource` side shared by the synthetic sources:
/// `options.videos` videos, video i drawn by `Reader(options, i)` and named `<scheme>:<seed>/<i>`.
/// Both validate the options' common fields here.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

#include <longform/core/error.hpp>
#include <longform/source/concepts.hpp>

namespace longform::detail {

template <class Options, class Reader>
class ProceduralSource {
 public:
  using source_concept = source_tag;

  [[nodiscard]] std::size_t size() const noexcept { return options_.videos; }
  [[nodiscard]] std::string name(std::size_t i) const { return std::string(scheme_) + ":" + std::to_string(options_.seed) + "/" + std::to_string(i); }
  [[nodiscard]] Reader open(std::size_t i) const {
    if (i >= options_.videos) {
      throw config_error(std::string(type_) + ": video " + std::to_string(i) + " requested, source has " + std::to_string(options_.videos));
    }
    return Reader(options_, i);
  }
  [[nodiscard]] const Options& options() const noexcept { return options_; }

 protected:
  /// @param type the source's type name, for errors; @param scheme the prefix of its video names;
  /// @param own_fields_valid whether the derived source's own fields are valid; @param requirement
  /// what all the fields must be, in words. @throws config_error naming `type` and `requirement`.
  ProceduralSource(Options options, std::string_view type, std::string_view scheme, bool own_fields_valid, std::string_view requirement)
      : options_(std::move(options)), type_(type), scheme_(scheme) {
    const auto& o = options_;
    if (!own_fields_valid || o.videos == 0 || o.frames <= 0 || o.width <= 0 || o.height <= 0 || o.fps.num <= 0 || o.fps.den <= 0) {
      throw config_error(std::string(type) + ": " + std::string(requirement));
    }
  }

 private:
  Options options_;
  std::string_view type_, scheme_;
};

}  // namespace longform::detail
