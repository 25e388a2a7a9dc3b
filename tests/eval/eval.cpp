// SPDX-License-Identifier: MIT
// Downstream evaluation: split parsers against fixture files in the official formats,
// clip positions and test views, multi-view averaging, the metrics, the linear probe, kNN against
// a brute-force computation, held-out videos and the probe's weight decay chosen on them, loading a
// pre-trained encoder, the motion share, the built-in synthetic data sets.
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include <ATen/Parallel.h>
#include <ATen/ops/allclose.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/softmax.h>
#include <ATen/ops/stack.h>
#include <ATen/ops/tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>
#include <torch/optim/sgd.h>

#include <longform/backbone/weights.hpp>
#include <longform/backbone/x3d.hpp>
#include <longform/data.hpp>
#include <longform/eval.hpp>
#include <longform/source/synthetic_stream.hpp>
#include <longform/train/checkpoint.hpp>

#include "../support.hpp"

#include "../catch.hpp"

using namespace longform;
namespace fs = std::filesystem;

namespace longform {
// For Catch's messages (found by ADL).
std::ostream& operator<<(std::ostream& os, const LabeledVideo& v) { return os << v.path.string() << " -> " << v.label; }
}  // namespace longform

namespace {

void write(const fs::path& file, const std::string& text) {
  fs::create_directories(file.parent_path());
  std::ofstream(file, std::ios::binary) << text;
}

void touch(const fs::path& root, const std::vector<std::string>& videos) {
  for (const auto& v : videos) write(root / v, "");
}

// A 3-class UCF101 tree in the official format (CRLF lines, classInd ids 1-based, test lists unlabelled).
fs::path ucf_fixture(const std::string& name) {
  const auto root = test::scratch(name);
  const auto lists = root / "ucfTrainTestlist";
  write(lists / "classInd.txt", "1 ApplyEyeMakeup\r\n2 Archery\r\n3 YoYo\r\n");
  write(lists / "trainlist01.txt",
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1\r\nArchery/v_Archery_g08_c01.avi 2\r\n"
        "Archery/v_Archery_g09_c02.avi 2\r\nYoYo/v_YoYo_g10_c01.avi 3\r\n\r\n");
  write(lists / "testlist01.txt", "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi\r\nYoYo/v_YoYo_g01_c03.avi\r\n");
  touch(root, {"ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi", "Archery/v_Archery_g08_c01.avi", "Archery/v_Archery_g09_c02.avi",
               "YoYo/v_YoYo_g10_c01.avi", "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi", "YoYo/v_YoYo_g01_c03.avi"});
  return root;
}

// The split_error a call throws (fails the test when it throws nothing or something else).
template <class F>
split_error split_error_of(F&& f) {
  try {
    f();
  } catch (const split_error& e) {
    return e;
  }
  FAIL("no split_error thrown");
  throw;  // unreachable
}

double accuracy(const at::Tensor& scores, const at::Tensor& labels) { return classification_metrics(scores, labels).top1; }

}  // namespace

TEST_CASE("ucf101_split reads the official lists: classes, labels, counts", "[eval][data]") {
  const auto root = ucf_fixture("ucf");
  const ActionSplit s = ucf101_split(root, 1);
  CHECK(s.classes == std::vector<std::string>{"ApplyEyeMakeup", "Archery", "YoYo"});
  REQUIRE(s.train.size() == 4);
  REQUIRE(s.test.size() == 2);
  CHECK(s.train[0] == LabeledVideo{root / "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi", 0});
  CHECK(s.train[2].label == 1);
  CHECK(s.train[3].label == 2);
  // Test labels come from the class folder through classInd.
  CHECK(s.test[0].label == 0);
  CHECK(s.test[1] == LabeledVideo{root / "YoYo/v_YoYo_g01_c03.avi", 2});
  // Lists given explicitly, in another folder.
  fs::rename(root / "ucfTrainTestlist", root.parent_path() / "ucf-lists");
  CHECK(ucf101_split(root, 1, {.lists = root.parent_path() / "ucf-lists"}).train.size() == 4);
  fs::remove_all(root.parent_path() / "ucf-lists");
}

TEST_CASE("ucf101_split names the file and line of malformed input", "[eval][data]") {
  const auto root = ucf_fixture("ucf-bad");
  const auto lists = root / "ucfTrainTestlist";
  SECTION("a label that disagrees with the folder") {
    write(lists / "trainlist01.txt", "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1\r\nArchery/v_Archery_g08_c01.avi 3\r\n");
    const auto e = split_error_of([&] { (void)ucf101_split(root, 1); });
    CHECK(e.file() == lists / "trainlist01.txt");
    CHECK(e.line() == 2);
    CHECK_THAT(e.what(), Catch::Contains("trainlist01.txt:2") && Catch::Contains("YoYo"));
  }
  SECTION("a train line without its label") {
    write(lists / "trainlist01.txt", "\r\nArchery/v_Archery_g08_c01.avi\r\n");
    CHECK(split_error_of([&] { (void)ucf101_split(root, 1); }).line() == 2);
  }
  SECTION("a class folder not in classInd") {
    write(lists / "testlist01.txt", "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi\r\nRowing/v_Rowing_g01_c01.avi\r\n");
    const auto e = split_error_of([&] { (void)ucf101_split(root, 1); });
    CHECK(e.file() == lists / "testlist01.txt");
    CHECK(e.line() == 2);
  }
  SECTION("a classInd line that is not '<id> <name>'") {
    write(lists / "classInd.txt", "1 ApplyEyeMakeup\r\nArchery\r\n");
    const auto e = split_error_of([&] { (void)ucf101_split(root, 1); });
    CHECK(e.file() == lists / "classInd.txt");
    CHECK(e.line() == 2);
  }
  SECTION("class ids with a gap") {
    write(lists / "classInd.txt", "1 ApplyEyeMakeup\r\n2 Archery\r\n4 YoYo\r\n");
    CHECK(split_error_of([&] { (void)ucf101_split(root, 1); }).file() == lists / "classInd.txt");
  }
  SECTION("a listed video that does not exist") {
    fs::remove(root / "YoYo/v_YoYo_g10_c01.avi");
    const auto e = split_error_of([&] { (void)ucf101_split(root, 1); });
    CHECK(e.line() == 4);
    CHECK(ucf101_split(root, 1, {.check_files = false}).train.size() == 4);
  }
  SECTION("a missing list, a split out of range") {
    CHECK(split_error_of([&] { (void)ucf101_split(root, 2); }).file() == lists / "trainlist02.txt");
    CHECK_THROWS_AS(ucf101_split(root, 4), split_error);
  }
}

TEST_CASE("hmdb51_split reads the 0/1/2 tags, sorted class ids, trailing spaces", "[eval][data]") {
  const auto root = test::scratch("hmdb");
  const auto lists = root / "testTrainMulti_7030_splits";
  write(lists / "brush_hair_test_split1.txt", "a.avi 1 \nb.avi 2 \nc.avi 0 \nd.avi 1 \n");
  write(lists / "wave_test_split1.txt", "e.avi 2\nf.avi 1\n\n");
  write(lists / "wave_test_split2.txt", "e.avi 1\nf.avi 2\n");
  write(lists / "brush_hair_test_split2.txt", "a.avi 2\nb.avi 1\nc.avi 1\nd.avi 0\n");
  touch(root, {"brush_hair/a.avi", "brush_hair/b.avi", "brush_hair/c.avi", "brush_hair/d.avi", "wave/e.avi", "wave/f.avi"});
  const ActionSplit s = hmdb51_split(root, 1);
  CHECK(s.classes == std::vector<std::string>{"brush_hair", "wave"});
  CHECK(s.train == std::vector<LabeledVideo>{{root / "brush_hair/a.avi", 0}, {root / "brush_hair/d.avi", 0}, {root / "wave/f.avi", 1}});
  CHECK(s.test == std::vector<LabeledVideo>{{root / "brush_hair/b.avi", 0}, {root / "wave/e.avi", 1}});
  const ActionSplit s2 = hmdb51_split(root, 2);
  CHECK(s2.train.size() == 3);
  CHECK(s2.test.size() == 2);

  write(lists / "wave_test_split1.txt", "e.avi 2\nf.avi 3\n");
  const auto e = split_error_of([&] { (void)hmdb51_split(root, 1); });
  CHECK(e.file() == lists / "wave_test_split1.txt");
  CHECK(e.line() == 2);
  CHECK(split_error_of([&] { (void)hmdb51_split(root, 3); }).file() == lists);  // no files for split 3
}

TEST_CASE("folder_split and csv_split: class ids are sorted names, unknown test classes are errors", "[eval][data]") {
  const auto root = test::scratch("folder");
  touch(root, {"train/walk/1.mp4", "train/walk/2.mp4", "train/jump/3.mp4", "test/jump/4.mp4", "test/walk/5.mp4"});
  const ActionSplit f = folder_split(root);
  CHECK(f.classes == std::vector<std::string>{"jump", "walk"});
  CHECK(f.train == std::vector<LabeledVideo>{{root / "train/jump/3.mp4", 0}, {root / "train/walk/1.mp4", 1}, {root / "train/walk/2.mp4", 1}});
  CHECK(f.test.size() == 2);
  touch(root, {"test/swim/6.mp4"});
  CHECK(split_error_of([&] { (void)folder_split(root); }).file() == root / "test");

  write(root / "train.csv", "path,label\nclips/a.mp4,walk\nclips/b.mp4 , jump\n");
  write(root / "test.csv", "clips/c.mp4,jump\n");
  const ActionSplit c = csv_split(root / "train.csv", root / "test.csv", root);
  CHECK(c.classes == std::vector<std::string>{"jump", "walk"});
  CHECK(c.train == std::vector<LabeledVideo>{{root / "clips/a.mp4", 1}, {root / "clips/b.mp4", 0}});
  CHECK(c.test == std::vector<LabeledVideo>{{root / "clips/c.mp4", 0}});
  write(root / "test.csv", "clips/c.mp4,jump\nclips/d.mp4\n");
  const auto e = split_error_of([&] { (void)csv_split(root / "train.csv", root / "test.csv", root); });
  CHECK(e.line() == 2);
  write(root / "test.csv", "clips/c.mp4,swim\n");
  CHECK(split_error_of([&] { (void)csv_split(root / "train.csv", root / "test.csv", root); }).line() == 1);
}

TEST_CASE("clip positions: uniform test clips span the video, short videos repeat the last frame", "[eval][data]") {
  CHECK(uniform_clip_starts(100, 10, 1) == std::vector<std::int64_t>{45});
  CHECK(uniform_clip_starts(100, 10, 4) == std::vector<std::int64_t>{0, 30, 60, 90});
  CHECK(uniform_clip_starts(5, 10, 3) == std::vector<std::int64_t>{0, 0, 0});
  CHECK(clip_frames(2, 4, 3, 100) == std::vector<std::int64_t>{2, 5, 8, 11});
  CHECK(clip_frames(0, 4, 3, 7) == std::vector<std::int64_t>{0, 3, 6, 6});

  // Crops along the long side: both ends and the centre, the short side centred.
  const at::Tensor x = at::arange(2 * 3 * 4 * 8, at::kFloat).reshape({2, 3, 4, 8});
  const auto three = spatial_crops(x, 4, 3);
  REQUIRE(three.size() == 3);
  CHECK(at::equal(three[0], x.narrow(-1, 0, 4)));
  CHECK(at::equal(three[1], x.narrow(-1, 2, 4)));
  CHECK(at::equal(three[2], x.narrow(-1, 4, 4)));
  const auto tall = spatial_crops(x.transpose(-1, -2), 4, 1);
  CHECK(at::equal(tall[0], x.transpose(-1, -2).narrow(-2, 2, 4)));
}

TEST_CASE("multi-view averaging is the mean of the views' softmax", "[eval]") {
  at::manual_seed(1);
  const at::Tensor logits = at::randn({5, 6, 4});
  const at::Tensor avg = average_view_predictions(logits);
  REQUIRE(avg.sizes() == at::IntArrayRef({5, 4}));
  for (std::int64_t n = 0; n < 5; ++n) {
    at::Tensor sum = at::zeros({4});
    for (std::int64_t v = 0; v < 6; ++v) sum += at::softmax(logits[n][v], 0);
    CHECK(at::allclose(avg[n], sum / 6, 1e-6, 1e-7));
  }
  // One confident wrong view is outvoted by several mildly right ones.
  const at::Tensor votes = at::tensor({8.0f, 0.0f, 0.0f, 1.0f, 0.0f, 1.0f, 0.0f, 1.0f}).reshape({1, 4, 2});
  CHECK(average_view_predictions(votes).argmax(1).item<std::int64_t>() == 1);
  CHECK_THROWS_AS(average_view_predictions(at::zeros({2, 3})), config_error);
}

TEST_CASE("classification metrics: top-1, top-5, per-class accuracy and the confusion matrix", "[eval]") {
  // 7 classes; each row's true class sits at a known rank.
  const std::vector<std::int64_t> labels{0, 1, 2, 3, 3, 6};
  const std::vector<std::int64_t> rank{0, 1, 0, 5, 4, 0};  // 0 = ranked first
  at::Tensor scores = at::zeros({6, 7});
  std::vector<std::int64_t> predicted;
  for (std::int64_t i = 0; i < 6; ++i) {
    // Classes other than the truth get descending scores; the truth is inserted at its rank.
    std::vector<std::int64_t> others;
    for (std::int64_t c = 0; c < 7; ++c)
      if (c != labels[i]) others.push_back(c);
    others.insert(others.begin() + rank[i], labels[i]);
    for (std::int64_t r = 0; r < 7; ++r) scores[i][others[r]] = 10.0 - static_cast<double>(r);
    predicted.push_back(others[0]);
  }
  const auto m = classification_metrics(scores, at::tensor(labels));
  CHECK(m.count == 6);
  CHECK(m.top1 == Approx(3.0 / 6));
  CHECK(m.top5 == Approx(5.0 / 6));
  CHECK(m.per_class[0] == 1.0);
  CHECK(m.per_class[1] == 0.0);
  CHECK(m.per_class[3] == 0.0);
  CHECK(std::isnan(m.per_class[4]));
  CHECK(m.mean_class_accuracy == Approx((1.0 + 0 + 1 + 0 + 1) / 5));
  for (std::size_t i = 0; i < labels.size(); ++i)
    CHECK(m.confusion[static_cast<std::size_t>(labels[i])][static_cast<std::size_t>(predicted[i])] >= 1);
  std::int64_t total = 0;
  for (const auto& row : m.confusion)
    for (auto v : row) total += v;
  CHECK(total == 6);
  CHECK_THROWS_AS(classification_metrics(scores, at::tensor(std::vector<std::int64_t>{0, 1, 2, 3, 3, 7})), config_error);
}

TEST_CASE("the linear probe separates separable classes", "[eval]") {
  // Four classes, each a tight cluster around a far-apart centre in 32-d, plus nuisance dimensions.
  at::manual_seed(3);
  const std::int64_t per = 40, classes = 4;
  const at::Tensor centres = at::randn({classes, 32}) * 4;
  auto sample = [&](std::int64_t n) {
    std::vector<at::Tensor> x;
    std::vector<std::int64_t> y;
    for (std::int64_t c = 0; c < classes; ++c) {
      x.push_back(centres[c].unsqueeze(0) + at::randn({n, 32}) * 0.5);
      y.insert(y.end(), static_cast<std::size_t>(n), c);
    }
    return std::pair{at::cat(x), at::tensor(y)};
  };
  const auto [train_x, train_y] = sample(per);
  const auto [test_x, test_y] = sample(per / 2);
  LinearProbe probe({.epochs = 30, .batch = 32, .seed = 1});
  const double loss = probe.fit(train_x, train_y, classes);
  CHECK(loss < 0.1);
  CHECK(accuracy(probe.logits(test_x), test_y) >= 0.99);
  // [M, V, D] in, [M, V, C] out.
  CHECK(probe.logits(test_x.reshape({20, 4, 32})).sizes() == at::IntArrayRef({20, 4, classes}));
  CHECK_THROWS_AS(LinearProbe().logits(test_x), config_error);
}

TEST_CASE("holdout_videos: whole UCF101 groups, the last ones, else every k-th video of each class", "[eval][data]") {
  std::vector<LabeledVideo> grouped;
  for (int g = 8; g <= 12; ++g)
    for (int c = 1; c <= 2; ++c)
      for (const std::string cls : {"Archery", "YoYo"})
        grouped.push_back(
            {"x/" + cls + "/v_" + cls + "_g" + (g < 10 ? "0" : "") + std::to_string(g) + "_c0" + std::to_string(c) + ".avi", cls == "YoYo"});
  CHECK(ucf101_group(grouped.front()) == 8);
  CHECK_FALSE(ucf101_group({"x/clip_g08_c01.avi", 0}).has_value());
  auto held_groups = [&](double fraction) {
    const auto held = holdout_videos(grouped, fraction);
    std::set<int> in, out;
    for (std::size_t i = 0; i < grouped.size(); ++i) (held[i] ? in : out).insert(*ucf101_group(grouped[i]));
    for (int g : in) CHECK(out.count(g) == 0);  // a group is held out whole
    return in;
  };
  CHECK(held_groups(0.2) == std::set<int>{12});
  CHECK(held_groups(0.4) == std::set<int>{11, 12});
  CHECK(held_groups(0.99) == std::set<int>{9, 10, 11, 12});  // never every group

  // No group names: every 5th video of each class.
  std::vector<LabeledVideo> plain;
  for (int i = 0; i < 10; ++i) plain.push_back({"a/" + std::to_string(i) + ".avi", 0});
  for (int i = 0; i < 5; ++i) plain.push_back({"b/" + std::to_string(i) + ".avi", 1});
  const auto held = holdout_videos(plain);
  std::vector<std::size_t> held_at;
  for (std::size_t i = 0; i < held.size(); ++i)
    if (held[i]) held_at.push_back(i);
  CHECK(held_at == std::vector<std::size_t>{4, 9, 14});
}

TEST_CASE("select_weight_decay: the best held-out top-1, the larger decay on a tie", "[eval]") {
  // Two classes told apart by 5 weak dimensions among 1000 of noise, 200 samples: decays differ.
  at::manual_seed(11);
  const at::Tensor y = at::arange(200) % 2;
  const at::Tensor x = at::randn({200, 1000});
  x.narrow(1, 0, 5).add_((y.to(at::kFloat) * 2 - 1).unsqueeze(1) * 0.5);
  const at::Tensor held_out = at::arange(200) >= 160;
  const LinearProbeOptions options{.epochs = 20, .batch = 32, .seed = 2};
  const std::vector<double> decays{1e-4, 1, 30};
  const auto choice = select_weight_decay(x, y, 2, held_out, options, decays);
  REQUIRE(choice.candidates == decays);
  REQUIRE(choice.holdout_top1.size() == decays.size());
  // Brute force: a probe per decay on the first 160, scored on the last 40.
  double best = -1, best_decay = 0;
  for (std::size_t i = 0; i < decays.size(); ++i) {
    LinearProbeOptions o = options;
    o.weight_decay = decays[i];
    LinearProbe probe(o);
    probe.fit(x.narrow(0, 0, 160), y.narrow(0, 0, 160), 2);
    const double top1 = accuracy(probe.logits(x.narrow(0, 160, 40)), y.narrow(0, 160, 40));
    CHECK(choice.holdout_top1[i] == Approx(top1));
    if (top1 >= best) best = top1, best_decay = decays[i];
  }
  CHECK(choice.weight_decay == best_decay);
  // Separable clusters: every decay is perfect on the held-out part, and the largest is taken.
  const at::Tensor clusters = at::randn({200, 8}) * 0.1 + (y.to(at::kFloat) * 4 - 2).unsqueeze(1);
  const auto tie = select_weight_decay(clusters, y, 2, held_out, options, decays);
  CHECK(tie.holdout_top1 == std::vector<double>(3, 1.0));
  CHECK(tie.weight_decay == 30);
  CHECK_THROWS_AS(select_weight_decay(x, y, 2, at::zeros({200}, at::kBool)), config_error);
  CHECK_THROWS_AS(select_weight_decay(x, y, 2, held_out.narrow(0, 0, 100)), config_error);
}

TEST_CASE("kNN agrees with a brute-force computation", "[eval]") {
  at::manual_seed(5);
  const std::int64_t n = 60, m = 25, d = 8, classes = 5;
  const at::Tensor train = at::randn({n, d}), test = at::randn({m, d});
  const at::Tensor labels = at::randint(classes, {n}, at::kLong);
  for (const auto& [k, temperature] : std::vector<std::pair<std::int64_t, double>>{{1, 0.07}, {7, 0.07}, {7, 0.0}, {200, 0.5}}) {
    const at::Tensor scores = knn_scores(train, labels, test, {.k = k, .temperature = temperature, .chunk = 10}, classes);
    REQUIRE(scores.sizes() == at::IntArrayRef({m, classes}));
    for (std::int64_t i = 0; i < m; ++i) {
      // Cosine similarity to every training point, in double, sorted by hand.
      std::vector<std::pair<double, std::int64_t>> sims;
      for (std::int64_t j = 0; j < n; ++j) {
        double dot = 0, a = 0, b = 0;
        for (std::int64_t c = 0; c < d; ++c) {
          const double u = test[i][c].item<double>(), v = train[j][c].item<double>();
          dot += u * v;
          a += u * u;
          b += v * v;
        }
        sims.emplace_back(dot / std::sqrt(a * b), j);
      }
      std::sort(sims.begin(), sims.end(), [](auto x, auto y) { return x.first > y.first; });
      std::vector<double> expected(static_cast<std::size_t>(classes), 0.0);
      for (std::int64_t r = 0; r < std::min(k, n); ++r) {
        const auto [s, j] = sims[static_cast<std::size_t>(r)];
        expected[static_cast<std::size_t>(labels[j].item<std::int64_t>())] += temperature > 0 ? std::exp(s / temperature) : 1.0;
      }
      for (std::int64_t c = 0; c < classes; ++c) CHECK(scores[i][c].item<double>() == Approx(expected[static_cast<std::size_t>(c)]).epsilon(1e-4));
    }
  }
  CHECK_THROWS_AS(knn_scores(train, labels, at::randn({3, d + 1}), {}, classes), config_error);
}

TEST_CASE("load_pretrained takes the encoder out of a training checkpoint, or a state dict", "[eval]") {
  const auto dir = test::scratch("pretrained");
  X3DOptions o = x3d_tiny();
  o.output = X3DOutput::features;
  // A stand-in objective module holding an encoder as MoCo names it, saved as the Pretrainer saves.
  struct Objective : torch::nn::Module {
    explicit Objective(const X3DOptions& o) { encoder_q = register_module("encoder_q", X3D(o)); }
    X3D encoder_q{nullptr};
  };
  at::manual_seed(1);
  auto objective = std::make_shared<Objective>(o);
  torch::optim::SGD sgd(objective->parameters(), torch::optim::SGDOptions(0.1));
  save_training_checkpoint(dir / "checkpoint.pt", *objective, sgd, TrainingState{.step = 3});

  at::manual_seed(2);
  X3D fresh(o);
  CHECK_FALSE(at::equal(fresh->parameters()[0], objective->encoder_q->parameters()[0]));
  CHECK(load_pretrained(*fresh, dir / "checkpoint.pt") == "checkpoint:encoder_q");
  const auto a = state_dict(*fresh), b = state_dict(*objective->encoder_q);
  for (const auto& item : a) CHECK(at::equal(item.value(), b[item.key()]));

  save_state_dict(*objective->encoder_q, dir / "encoder.pt");
  X3D other(o);
  CHECK(load_pretrained(*other, dir / "encoder.pt") == "state_dict");
  CHECK(at::equal(other->parameters()[3], objective->encoder_q->parameters()[3]));

  // Another architecture does not fit: an error naming the file.
  X3DOptions wider = o;
  wider.head_dim_out = 64;
  X3D mismatch(wider);
  try {
    (void)load_pretrained(*mismatch, dir / "checkpoint.pt");
    FAIL("no error");
  } catch (const config_error& e) {
    CHECK_THAT(e.what(), Catch::Contains("checkpoint.pt"));
  }
  CHECK_THROWS_AS(load_pretrained(*other, dir / "missing.pt"), config_error);
}

TEST_CASE("the synthetic action data set is deterministic and reads back through the UCF101 path", "[eval][data]") {
  const SyntheticActionsOptions options{.seed = 4, .width = 48, .height = 32, .frames = 12, .groups = 6, .clips_per_group = 1};
  const SyntheticActions actions(options);
  // Same seed, same pixels; classes and groups differ.
  const auto a = actions.render(5, 2, 0), b = SyntheticActions(options).render(5, 2, 0);
  REQUIRE(a.size() == 12);
  for (std::size_t t = 0; t < a.size(); ++t) CHECK(at::equal(a[t], b[t]));
  CHECK_FALSE(at::equal(a[3], actions.render(6, 2, 0)[3]));
  // Something moves.
  CHECK_FALSE(at::equal(a[0], a[6]));
  // By default every video has its own background: most pixels differ from any other video's,
  // of its group or not (the actors alone would change a small share).
  auto share_differing = [](const at::Tensor& x, const at::Tensor& y) { return x.ne(y).any(-1).to(at::kFloat).mean().item<double>(); };
  for (int other : {0, 3, 9}) CHECK(share_differing(a[0], actions.render(other, 2, 0)[0]) > 0.5);
  CHECK(share_differing(a[0], actions.render(5, 3, 0)[0]) > 0.5);
  // per_group: a group's background is every class's (it must not tell the class); another
  // group's differs. The pixels that differ between two classes of a group are the actors'.
  SyntheticActionsOptions grouped = options;
  grouped.backgrounds = SyntheticBackgrounds::per_group;
  const SyntheticActions by_group(grouped);
  const auto g = by_group.render(5, 2, 0);
  for (int other : {0, 3, 9}) CHECK(share_differing(g[0], by_group.render(other, 2, 0)[0]) < 0.25);
  CHECK(share_differing(g[0], by_group.render(5, 3, 0)[0]) > 0.5);
  // per_group is the data set written before the option, bit for bit (FNV-1a of its frames, as
  // written then), under the stamp it had.
  std::uint64_t hash = 14695981039346656037ULL;
  for (const auto& frame : g) {
    const at::Tensor bytes = frame.contiguous();
    for (std::int64_t i = 0; i < bytes.numel(); ++i) hash = (hash ^ bytes.data_ptr<std::uint8_t>()[i]) * 1099511628211ULL;
  }
  CHECK(hash == 0x76b6771eca88a1d6ULL);
  CHECK(by_group.description() == "longform.synthetic_actions/2 seed=4 size=48x32 frames=12 fps=25/1 groups=6 clips=1");
  CHECK(actions.description() == by_group.description() + " backgrounds=per_video");

  const auto root = test::scratch("synthetic-actions") / "set";
  REQUIRE(actions.ensure(root) == root);
  const auto stamp_time = fs::last_write_time(root / ".longform-dataset");
  actions.ensure(root);  // already there: nothing rewritten
  CHECK(fs::last_write_time(root / ".longform-dataset") == stamp_time);
  CHECK_THROWS_AS(SyntheticActions({.seed = 5, .width = 48, .height = 32, .frames = 12, .groups = 6, .clips_per_group = 1}).ensure(root),
                  config_error);
  CHECK_THROWS_AS(by_group.ensure(root), config_error);                       // other backgrounds: another data set
  CHECK_THROWS_AS(SyntheticActions({.clips_per_group = 100}), config_error);  // names and seeds have two digits for it

  const ActionSplit split = ucf101_split(root, 1);
  REQUIRE(split.classes.size() == motion_count);
  CHECK(split.classes[5] == "RotateCW");
  CHECK(split.train.size() == motion_count * 4);
  CHECK(split.test.size() == motion_count * 2);
  // Split 1 holds out groups 1 and 2 of every class.
  for (const auto& v : split.test)
    CHECK((v.path.filename().string().find("_g01_") != std::string::npos || v.path.filename().string().find("_g02_") != std::string::npos));
  CHECK(ucf101_split(root, 2).test.front().path.filename().string().find("_g03_") != std::string::npos);

  // The decoded test views are the rendered frames (up to the codec's loss): K = 2 clips, 3 crops.
  const ActionClips clips(split.test, {.frames = 4, .stride = 2, .size = 32, .clips = 2, .crops = 3});
  const at::Tensor views = clips.test_views(0);
  REQUIRE(views.sizes() == at::IntArrayRef({6, 3, 4, 32, 32}));
  const auto& v0 = split.test[0];
  CHECK(v0.path.filename() == "v_SlideRight_g01_c01.avi");
  const auto rendered = actions.render(0, 0, 0);
  // Clip 2 starts at frame 12 - 7 = 5: frames 5, 7, 9, 11; its third crop is the right end.
  std::vector<at::Tensor> frames;
  for (std::int64_t t : {5, 7, 9, 11}) frames.push_back(rendered[static_cast<std::size_t>(t)]);
  const at::Tensor expected = Standardize{}(at::stack(frames).permute({3, 0, 1, 2}).narrow(-1, 16, 32).contiguous());
  CHECK((views[5] - expected).abs().mean().item<double>() < 0.15);
  CHECK((views[3] - expected).abs().mean().item<double>() > 0.3);  // the left crop is another picture
  // Training clips: random in time, always the right size.
  SplitMix64 rng(1);
  CHECK(clips.train_clip(1, rng).sizes() == at::IntArrayRef({3, 4, 32, 32}));
}

namespace {

// Two encoders whose motion share is known: one sees only the middle frame (share 0), one only
// how frames change (its frozen views map to 0).
struct MiddleFrameImpl : torch::nn::Module {
  at::Tensor forward(const at::Tensor& x) { return x.select(2, x.size(2) / 2).mean({2, 3}); }
};
TORCH_MODULE(MiddleFrame);
struct FrameChangeImpl : torch::nn::Module {
  at::Tensor forward(const at::Tensor& x) { return (x.narrow(2, 1, x.size(2) - 1) - x.narrow(2, 0, x.size(2) - 1)).abs().mean({3, 4}).flatten(1); }
};
TORCH_MODULE(FrameChange);

}  // namespace

TEST_CASE("motion_share: 0 for a single-frame encoder, the brute-force ratio for a motion-only one", "[eval]") {
  const SyntheticActions actions({.seed = 2, .width = 48, .height = 32, .frames = 12, .groups = 6, .clips_per_group = 1});
  const ActionSplit split = ucf101_split(actions.ensure(test::scratch("motion-share") / "set"), 1);
  const ActionClips clips(split.test, {.frames = 5, .stride = 2, .size = 32, .clips = 2});

  const at::Tensor views = clips.test_views(0), frozen = freeze_motion(views);
  REQUIRE(frozen.sizes() == views.sizes());
  for (std::int64_t t = 0; t < 5; ++t) CHECK(at::equal(frozen.select(2, t), views.select(2, 2)));

  MiddleFrame still;
  const MotionShare none = motion_share(still, clips, at::kCPU, 16, false);
  CHECK(none.frozen_distance == 0);
  CHECK(none.between_distance > 0);
  CHECK(none.share == 0);

  FrameChange change;
  const MotionShare m = motion_share(change, clips, at::kCPU, 16, false);
  // Brute force: every view against its frozen self, every ordered pair of distinct views.
  const at::Tensor f = view_features(change, clips, at::kCPU, 16, "", false).flatten(0, 1);
  const auto n = f.size(0);
  double frozen_sum = 0, between_sum = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    frozen_sum += f[i].pow(2).sum().item<double>();  // the frozen view's frame changes are all 0
    for (std::int64_t j = 0; j < n; ++j)
      if (j != i) between_sum += (f[i] - f[j]).pow(2).sum().item<double>();
  }
  const double expected_frozen = frozen_sum / n, expected_between = between_sum / (n * (n - 1));
  CHECK(m.frozen_distance == Approx(expected_frozen).epsilon(1e-4));
  CHECK(m.between_distance == Approx(expected_between).epsilon(1e-4));
  CHECK(m.share == Approx(expected_frozen / expected_between).epsilon(1e-4));
  CHECK(m.share > 0.5);  // a clip that stops moving looks nothing like itself to this encoder
}

TEST_CASE("SyntheticStream: long videos with scene changes, deterministic and seekable", "[eval][source]") {
  const SyntheticStream stream({.seed = 2, .videos = 2, .frames = 3000, .width = 40, .height = 32, .scene_frames = 200});
  auto r = stream.open(1);
  const auto& scenes = r.scene_starts();
  CHECK(scenes.size() >= 10);
  CHECK(scenes.front() == 0);
  for (std::size_t i = 1; i < scenes.size(); ++i) {
    CHECK(scenes[i] - scenes[i - 1] >= 100);
    CHECK(scenes[i] - scenes[i - 1] <= 300);
  }
  // A scene cut changes the picture more than a frame step inside a scene.
  const auto cut = scenes[3];
  r.seek_frame(cut - 2);
  const at::Tensor before = r.next()->rgb.to(at::kFloat), last = r.next()->rgb.to(at::kFloat), first = r.next()->rgb.to(at::kFloat);
  CHECK((first - last).abs().mean().item<double>() > 3 * (last - before).abs().mean().item<double>());
  // Seeking gives the frame reading in order gives; another video differs.
  auto again = stream.open(1);
  for (std::int64_t i = 0; i < cut; ++i) (void)again.skip();
  CHECK(at::equal(again.next()->rgb.to(at::kFloat), first));
  CHECK_FALSE(at::equal(stream.open(0).next()->rgb, stream.open(1).next()->rgb));
  CHECK_THROWS_AS(SyntheticStream({.scene_frames = 0}), config_error);
}

TEST_CASE("a mean over seeds has Student's t interval, and a paired difference cancels the seed's luck", "[eval][confidence]") {
  // t(0.975, 2) = 4.302652729911275 (tables give 4.303): {1, 2, 3} has sd 1, so ±4.3027 / √3.
  const longform::Interval three = longform::mean_interval({1, 2, 3});
  CHECK(three.mean == Approx(2));
  CHECK(three.sd == Approx(1));
  CHECK(three.half_width == Approx(4.302652729911275 / std::sqrt(3.0)).epsilon(1e-9));
  CHECK(three.sign() == 0);  // (−0.48, 4.48) holds 0: three values this spread cannot tell 2 from 0
  // t(0.975, 9) = 2.262157162740992; at level 0.9 with df 2, t = 2.919985580355516.
  CHECK(longform::mean_interval({0, 1, 0, 1, 0, 1, 0, 1, 0, 1}).half_width ==
        Approx(2.262157162740992 * std::sqrt(0.25 * 10 / 9) / std::sqrt(10.0)).epsilon(1e-9));
  CHECK(longform::mean_interval({1, 2, 3}, 0.9).half_width == Approx(2.919985580355516 / std::sqrt(3.0)).epsilon(1e-9));
  // Seeds that move both methods alike: each mean's interval holds 0, the paired one does not.
  const std::vector<double> method{0.30, 0.10, 0.52}, baseline{0.26, 0.05, 0.49};
  CHECK(longform::mean_interval(method).sign() == 0);
  const longform::Interval gain = longform::paired_difference(method, baseline);
  CHECK(gain.mean == Approx(0.04));
  CHECK(gain.sign() == 1);
  CHECK(longform::paired_difference(baseline, method).sign() == -1);
  CHECK(longform::mean_interval({0.4}).half_width == 0);
  CHECK(longform::mean_interval({0.4}).sign() == 0);
  CHECK(longform::accuracy_standard_error(0.5, 1000) == Approx(std::sqrt(0.25 / 1000)));
  CHECK_THROWS_AS(longform::mean_interval({}), longform::config_error);
  CHECK_THROWS_AS(longform::mean_interval({1, NAN}), longform::config_error);
  CHECK_THROWS_WITH(longform::paired_difference({1, 2}, {1}), Catch::Contains("same seeds"));
  CHECK_THROWS_AS(longform::accuracy_standard_error(1.5, 10), longform::config_error);
}

TEST_CASE("view_features: each video's views in order, whatever the batch, with views made on several threads", "[eval]") {
  const SyntheticActions actions({.seed = 2, .width = 48, .height = 32, .frames = 12, .groups = 6, .clips_per_group = 1});
  const ActionSplit split = ucf101_split(actions.ensure(test::scratch("view-features") / "set"), 1);
  const ActionClips clips(split.test, {.frames = 5, .stride = 2, .size = 32, .clips = 2});
  FrameChange change;
  std::vector<at::Tensor> one_by_one;
  for (std::size_t i = 0; i < clips.size(); ++i) one_by_one.push_back(change->forward(clips.test_views(i)));
  const at::Tensor expected = at::stack(one_by_one);  // [N, V, D]
  const int threads = at::get_num_threads();
  at::set_num_threads(2);
  for (const std::int64_t batch : {1, 5, 64}) {
    const at::Tensor f = view_features(change, clips, at::kCPU, batch, "", false);
    REQUIRE(f.sizes() == expected.sizes());
    CHECK(at::allclose(f, expected));
  }
  at::set_num_threads(threads);
}
