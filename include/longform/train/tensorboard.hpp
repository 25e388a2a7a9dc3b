// SPDX-License-Identifier: MIT
/// @file
/// `TensorBoard`: scalars in TensorBoard's event-file format, as a `Pretrainer` observer (loss, lr,
/// grad_norm, clips_per_s, data_wait_share, decode_amplification at every step, tagged as in
/// metrics.jsonl) or on its own.
///
///     trainer.observe(longform::TensorBoard("runs/a/tb"));  // then: tensorboard --logdir runs/a/tb
///     longform::TensorBoard board("runs/eval");
///     board.scalar("finetune/top1", 10, 0.53);
///
/// The file, `DIR/events.out.tfevents.<unix time>.<host>.<microseconds>.<pid>`, is created at the first write.
/// It is a stream of TFRecords (length as uint64 little-endian, masked CRC32C of the length, the
/// bytes, masked CRC32C of the bytes), each an `Event` protobuf: the first says `file_version`
/// "brain.Event:2", the others hold `wall_time`, `step` and a `Summary` of `simple_value` scalars
/// (float32). Every event is flushed when written. On resume after step k (`on_resume`), a
/// `SessionLog` START event at step k + 1 makes TensorBoard drop what an earlier process logged
/// after step k, as metrics.jsonl drops those lines.
///
/// NOTE: the few protobuf fields are encoded here by hand: no C++ TensorBoard writer is packaged in
/// Debian, and libprotobuf with TensorFlow's .proto files would be a build dependency for seven
/// fields. The CRC32C is Boost.CRC's.
#pragma once

#include <bit>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include <unistd.h>

#include <boost/crc.hpp>

#include <longform/core/error.hpp>
#include <longform/train/observer.hpp>

namespace longform {

namespace detail::tfevents {
static_assert(std::endian::native == std::endian::little, "TFRecords and protobuf fixed-width fields are little-endian");

inline void varint(std::string& out, std::uint64_t v) {
  for (; v >= 0x80; v >>= 7) out += static_cast<char>(v | 0x80);
  out += static_cast<char>(v);
}
// A field's key: its number and wire type (0 varint, 1 64-bit, 2 length-delimited, 5 32-bit).
inline void key(std::string& out, int field, int wire) { varint(out, static_cast<std::uint64_t>(field << 3 | wire)); }
template <class T>
void fixed(std::string& out, T v) {
  char bytes[sizeof v];
  std::memcpy(bytes, &v, sizeof v);
  out.append(bytes, sizeof v);
}
inline void nested(std::string& out, int field, std::string_view message) {
  key(out, field, 2);
  varint(out, message.size());
  out += message;
}
inline std::uint32_t masked_crc32c(std::string_view bytes) {
  boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true> crc;  // Castagnoli
  crc.process_bytes(bytes.data(), bytes.size());
  const std::uint32_t c = crc.checksum();
  return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}
// Event: 1 wall_time (double), 2 step (int64), then one of 3 file_version, 5 summary, 7 session_log.
inline std::string event(std::int64_t step) {
  std::string e;
  key(e, 1, 1);
  fixed(e, std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count());
  key(e, 2, 0);
  varint(e, static_cast<std::uint64_t>(step));
  return e;
}
// Summary.Value: 1 tag, 2 simple_value (float).
inline std::string scalar_value(std::string_view tag, double value) {
  std::string v;
  nested(v, 1, tag);
  key(v, 2, 5);
  fixed(v, static_cast<float>(value));
  return v;
}
inline std::string record(std::string_view data) {
  std::string r;
  fixed(r, static_cast<std::uint64_t>(data.size()));
  fixed(r, masked_crc32c(r));
  r += data;
  fixed(r, masked_crc32c(data));
  return r;
}
}  // namespace detail::tfevents

/// Writes TensorBoard scalars into a folder (see the file comment); an observer of `StepRecord`s.
class TensorBoard {
 public:
  /// Events go to a new file in `dir` (made when missing) at the first write.
  explicit TensorBoard(std::filesystem::path dir) : dir_(std::move(dir)) {}

  /// Writes the `tag = value` pairs at `step`, as one event.
  /// @throws config_error naming the file when it cannot be created or written.
  void scalars(std::int64_t step, std::initializer_list<std::pair<std::string_view, double>> values) {
    std::string summary;
    for (const auto& [tag, value] : values) detail::tfevents::nested(summary, 1, detail::tfevents::scalar_value(tag, value));
    std::string e = detail::tfevents::event(step);
    detail::tfevents::nested(e, 5, summary);
    write(e);
  }
  /// Writes `tag = value` at `step`.
  void scalar(std::string_view tag, std::int64_t step, double value) { scalars(step, {{tag, value}}); }

  /// A run continued after `step`: TensorBoard drops what was logged for the later steps.
  void on_resume(std::int64_t step) {
    if (step == 0) return;
    std::string e = detail::tfevents::event(step + 1);
    std::string session_log;
    detail::tfevents::key(session_log, 1, 0);  // status
    detail::tfevents::varint(session_log, 1);  // START
    detail::tfevents::nested(e, 7, session_log);
    write(e);
  }
  void on_step(const StepRecord& r) {
    scalars(r.step, {{"loss", r.loss},
                     {"lr", r.lr},
                     {"grad_norm", r.grad_norm},
                     {"clips_per_s", r.clips_per_s},
                     {"data_wait_share", r.data_wait_share},
                     {"decode_amplification", r.decode_amplification}});
  }

  /// The event file (empty before the first write).
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

 private:
  void open() {
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    char host[256] = "localhost";
    ::gethostname(host, sizeof host - 1);
    // TensorBoard reads a folder's files in name order: the time, to the microsecond, keeps a
    // resumed run's file after the crashed run's. "x": a name taken already gets a suffix.
    const auto now = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    char name[384];
    std::snprintf(name, sizeof name, "events.out.tfevents.%010lld.%s.%06lld.%d", static_cast<long long>(now / 1000000), host,
                  static_cast<long long>(now % 1000000), static_cast<int>(::getpid()));
    for (int taken = 0; !file_; ++taken) {
      path_ = dir_ / (taken == 0 ? std::string(name) : std::string(name) + "." + std::to_string(taken));
      file_.reset(std::fopen(path_.c_str(), "wbx"));
      if (!file_ && errno != EEXIST) throw config_error(path_.string() + ": cannot create the TensorBoard event file");
    }
    std::string e = detail::tfevents::event(0);
    detail::tfevents::nested(e, 3, "brain.Event:2");
    put(e);
  }
  void write(const std::string& event) {
    if (!file_) open();
    put(event);
  }
  void put(const std::string& event) {
    const std::string r = detail::tfevents::record(event);
    if (std::fwrite(r.data(), 1, r.size(), file_.get()) != r.size() || std::fflush(file_.get()) != 0) {
      throw config_error(path_.string() + ": cannot write the TensorBoard event file");
    }
  }

  struct closer {
    void operator()(std::FILE* f) const noexcept { std::fclose(f); }
  };
  std::filesystem::path dir_;
  std::filesystem::path path_;
  std::unique_ptr<std::FILE, closer> file_;
};

}  // namespace longform
