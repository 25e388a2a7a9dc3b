// SPDX-License-Identifier: MIT
/// @file
/// `SyntheticActions`: the built-in benchmark's action recognition data set. Ten classes, one per
/// `Motion` (slide right / left / up / down, slide right fast, rotate clockwise / counter-clockwise,
/// orbit, bounce, pulse): each video shows one rectangle moving that way over a cluttered
/// background. Appearance is drawn independently of the class, so a single frame cannot tell the
/// classes apart; temporal features can.
///
/// Written once, on first use, with `VideoWriter`, in UCF101's layout — `ROOT/<Class>/v_<Class>_g<GG>_c<CC>.avi`
/// and `ROOT/ucfTrainTestlist/{classInd,trainlist0N,testlist0N}.txt` — so it is read by the same
/// code as UCF101 (`ucf101_split`). As in UCF101, the splits hold out whole groups (split N tests on
/// groups 2N−1 and 2N). Unlike UCF101, a group spans every class, so nothing about a group says the class.
///
/// Each video has its own background by default (`SyntheticBackgrounds::per_video`), so the test
/// videos are independent samples and a top-1's standard error follows from their count (1.2 points
/// at the default 1120 and 20 %). `per_group` gives a group's videos one background, every class's
/// (the data sets written before the option, bit for bit): its test videos act like a few, and
/// random-init probes on 160 of them scored 18.8, 4.4 and 20.0 % on three seeds.
///
///     auto root = longform::SyntheticActions({.seed = 0}).ensure("~/.cache/longform/synthetic-actions");
///     auto split = longform::ucf101_split(root, 1);
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include <longform/core/error.hpp>
#include <longform/core/reflect.hpp>
#include <longform/core/splitmix.hpp>
#include <longform/io/video_writer.hpp>
#include <longform/source/synthetic_motion.hpp>

namespace longform {

/// Where the backgrounds of `SyntheticActions` come from.
enum class SyntheticBackgrounds {
  per_video,  ///< one per video: the test videos are independent samples
  per_group,  ///< one per group, shared by every class (the data sets written before this option)
};
LONGFORM_REFLECT_ENUM(SyntheticBackgrounds, per_video, per_group)

/// What `SyntheticActions` generates. The defaults are the built-in benchmark: 3360 training and
/// 1120 test videos per split.
struct SyntheticActionsOptions {
  std::uint64_t seed = 0;
  std::int64_t width = 80;   ///< even (yuv420p)
  std::int64_t height = 64;  ///< even
  std::int64_t frames = 40;  ///< frames per video
  Rational fps{25, 1};
  int groups = 8;            ///< groups per class, at most 99; splits 1..3 hold out groups 1-2, 3-4, 5-6
  int clips_per_group = 56;  ///< videos per group and class, at most 99
  SyntheticBackgrounds backgrounds = SyntheticBackgrounds::per_video;
};

/// The built-in action data set (see the file comment).
class SyntheticActions {
 public:
  /// @throws config_error for odd or non-positive sizes, groups outside 6..99, clips outside 1..99
  ///   (the names' two digits, which also keep the videos' seeds apart).
  explicit SyntheticActions(SyntheticActionsOptions options = {}) : options_(options) {
    if (options_.width <= 0 || options_.height <= 0 || options_.width % 2 || options_.height % 2 || options_.frames <= 0 || options_.groups < 6 ||
        options_.groups > 99 || options_.clips_per_group <= 0 || options_.clips_per_group > 99 || options_.fps.num <= 0 || options_.fps.den <= 0) {
      throw config_error("SyntheticActions: width and height must be positive and even, frames positive, groups in 6..99, clips_per_group in 1..99");
    }
  }

  [[nodiscard]] const SyntheticActionsOptions& options() const noexcept { return options_; }
  /// Videos in the data set.
  [[nodiscard]] std::int64_t size() const noexcept { return static_cast<std::int64_t>(motion_count) * options_.groups * options_.clips_per_group; }
  /// One line that identifies the content (the stamp of a finished data set).
  [[nodiscard]] std::string description() const {
    std::ostringstream s;
    s << "longform.synthetic_actions/2 seed=" << options_.seed << " size=" << options_.width << "x" << options_.height
      << " frames=" << options_.frames << " fps=" << options_.fps.num << "/" << options_.fps.den << " groups=" << options_.groups
      << " clips=" << options_.clips_per_group;
    // Unmarked: per_group, so that the data sets written before the option keep their stamp.
    if (options_.backgrounds != SyntheticBackgrounds::per_group) s << " backgrounds=" << enum_name(options_.backgrounds);
    return s.str();
  }

  /// The frames of video `clip` of group `group` (both 0-based) of class `cls`: `uint8 [frames, H, W, 3]`.
  [[nodiscard]] std::vector<at::Tensor> render(int cls, int group, int clip) const {
    const auto video = static_cast<std::uint64_t>((cls * 1000 + group) * 1000 + clip);
    SplitMix64 scene(options_.backgrounds == SyntheticBackgrounds::per_video
                         ? detail::mix_seed(options_.seed, video)
                         : options_.seed * 0x9e3779b97f4a7c15ULL + static_cast<std::uint64_t>(group) + 1);  // the group's, for every class
    const Background background = random_background(scene, options_.width, options_.height);
    SplitMix64 actor(options_.seed * 0xbf58476d1ce4e5b9ULL + static_cast<std::uint64_t>((cls * 1000 + group) * 100 + clip) + 7);
    const std::vector<MovingObject> objects{random_object(actor, static_cast<Motion>(cls), options_.width, options_.height)};
    std::vector<at::Tensor> frames;
    for (std::int64_t t = 0; t < options_.frames; ++t)
      frames.push_back(render_motion(background, objects, static_cast<double>(t), options_.width, options_.height));
    return frames;
  }

  /// The data set under `root`, written there first unless `root` already holds this one (its
  /// stamp matches `description()`). Written into a temporary folder, then renamed into place,
  /// so an interrupted write leaves nothing that passes for the data set. Returns `root`.
  /// @throws encode_error / config_error naming the file that could not be written.
  std::filesystem::path ensure(const std::filesystem::path& root) const {
    namespace fs = std::filesystem;
    if (stamped(root)) return root;
    if (fs::exists(root) && !fs::is_empty(root)) {
      throw config_error(root.string() + ": exists but does not hold this synthetic data set (" + description() +
                         "); remove it or pick another folder");
    }
    if (root.has_parent_path()) fs::create_directories(root.parent_path());
    const fs::path tmp = root.string() + ".tmp." + std::to_string(::getpid());
    fs::remove_all(tmp);
    fs::create_directories(tmp / "ucfTrainTestlist");
    write_lists(tmp / "ucfTrainTestlist");
    for (int c = 0; c < motion_count; ++c) {
      const std::string name(motion_name(static_cast<Motion>(c)));
      fs::create_directories(tmp / name);
      for (int g = 0; g < options_.groups; ++g) {
        for (int k = 0; k < options_.clips_per_group; ++k) {
          // No B-frames and short GOPs: random clip positions seek cheaply.
          VideoWriter writer((tmp / video_name(c, g, k)).string(),
                             {.width = options_.width, .height = options_.height, .fps = options_.fps, .gop = 10, .max_b_frames = 0, .crf = 18});
          for (const auto& f : render(c, g, k)) writer.write(f);
          writer.finish();
        }
      }
    }
    std::ofstream(tmp / ".longform-dataset") << description() << "\n";
    if (fs::exists(root)) fs::remove(root);  // an empty folder left by the caller
    fs::rename(tmp, root);
    return root;
  }

  /// `<Class>/v_<Class>_g<GG>_c<CC>.avi` of video `clip` of group `group` (0-based) of class `cls`.
  [[nodiscard]] static std::string video_name(int cls, int group, int clip) {
    const std::string name(motion_name(static_cast<Motion>(cls)));
    char buf[96];
    std::snprintf(buf, sizeof buf, "%s/v_%s_g%02d_c%02d.avi", name.c_str(), name.c_str(), group + 1, clip + 1);
    return buf;
  }

 private:
  bool stamped(const std::filesystem::path& root) const {
    std::ifstream in(root / ".longform-dataset");
    std::string line;
    return in && std::getline(in, line) && line == description();
  }

  void write_lists(const std::filesystem::path& dir) const {
    std::ofstream classes(dir / "classInd.txt");
    for (int c = 0; c < motion_count; ++c) classes << c + 1 << ' ' << motion_name(static_cast<Motion>(c)) << "\r\n";
    for (int split = 1; split <= 3; ++split) {
      char train_name[32], test_name[32];
      std::snprintf(train_name, sizeof train_name, "trainlist%02d.txt", split);
      std::snprintf(test_name, sizeof test_name, "testlist%02d.txt", split);
      std::ofstream train(dir / train_name), test(dir / test_name);
      for (int c = 0; c < motion_count; ++c) {
        for (int g = 0; g < options_.groups; ++g) {
          const bool held_out = g / 2 == split - 1;
          for (int k = 0; k < options_.clips_per_group; ++k) {
            if (held_out)
              test << video_name(c, g, k) << "\r\n";
            else
              train << video_name(c, g, k) << ' ' << c + 1 << "\r\n";
          }
        }
      }
      if (!train || !test) throw config_error(dir.string() + ": cannot write the split lists");
    }
  }

  SyntheticActionsOptions options_;
};

}  // namespace longform

LONGFORM_REFLECT(longform::SyntheticActionsOptions, seed, width, height, frames, fps, groups, clips_per_group, backgrounds);
