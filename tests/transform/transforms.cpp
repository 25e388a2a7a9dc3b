// SPDX-License-Identifier: MIT
// Transforms: the paper's per-frame standardization, crops and sizes, flips, temporally consistent
// colour jitter, frame shuffle with provenance, devices, composition.
#include <cmath>
#include <cstdint>
#include <vector>

#include <ATen/TensorOperators.h>
#include <ATen/ops/allclose.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/full.h>
#include <ATen/ops/randint.h>
#include <ATen/ops/rand.h>
#include <ATen/ops/stack.h>
#include <ATen/ops/std_mean.h>
#include <ATen/ops/tensor.h>
#include <ATen/ops/zeros.h>

#include <longform/sampler.hpp>
#include <longform/source/synthetic_video.hpp>
#include <longform/transform.hpp>

#undef CHECK  // c10's glog-style CHECK (abort) must not shadow Catch's
#include <catch2/catch.hpp>

using namespace longform;

namespace {

// A real decoded clip: 8 frames of a synthetic 128×96 video, uint8 [3, 8, 96, 128].
Clip synthetic_clip(std::uint64_t seed = 1) {
  ClipContext ctx(SyntheticVideo({.seed = seed, .frames = 64}));
  SequentialSampler<Frames<8>, Stride<2>> sampler;
  return *sampler.next(ctx);
}

at::Tensor random_uint8(at::IntArrayRef shape) { return at::randint(0, 256, shape, at::TensorOptions().dtype(at::kByte)); }

}  // namespace

TEST_CASE("standardize: every frame gets mean 0 and std 1 (clips and batches)", "[transform][standardize]") {
  Standardize standardize;
  for (const at::Tensor& x : {synthetic_clip().data, random_uint8({3, 5, 17, 23}), random_uint8({2, 3, 4, 9, 11}).to(at::kFloat) * 7 + 3}) {
    const at::Tensor y = standardize(x);
    REQUIRE(y.scalar_type() == at::kFloat);
    REQUIRE(y.sizes() == x.sizes());
    auto [std, mean] = at::std_mean(y, at::IntArrayRef{-4, -2, -1}, 0, false);
    CHECK(mean.abs().max().item<double>() < 1e-5);
    CHECK((std - 1).abs().max().item<double>() < 1e-4);
  }
  // A constant frame has no contrast to standardize: zeros, not NaN.
  const at::Tensor flat = standardize(at::full({3, 2, 4, 4}, 77, at::TensorOptions().dtype(at::kByte)));
  CHECK(flat.abs().max().item<double>() == 0.0);
}

TEST_CASE("normalize: per-channel (x/255 - mean) / std", "[transform][normalize]") {
  const at::Tensor x = random_uint8({3, 2, 5, 6});
  const at::Tensor y = Normalize{.mean = {0.4, 0.5, 0.6}, .std = {0.2, 0.25, 0.5}}(x);
  const at::Tensor f = x.to(at::kFloat) / 255.0;
  CHECK(at::allclose(y.select(0, 0), (f.select(0, 0) - 0.4) / 0.2, 1e-5, 1e-5));
  CHECK(at::allclose(y.select(0, 2), (f.select(0, 2) - 0.6) / 0.5, 1e-5, 1e-5));
  CHECK_THROWS_AS((Normalize{.std = {1, 0, 1}}(x)), c10::Error);
  CHECK_THROWS_WITH(Normalize{}(random_uint8({4, 2, 5, 6})), Catch::Contains("3 channels"));
}

TEST_CASE("flip: twice is the identity, once mirrors columns - p = 0 never flips", "[transform][flip]") {
  const at::Tensor x = synthetic_clip().data;
  HorizontalFlip always{.p = 1.0};
  const at::Tensor once = always(x);
  CHECK(at::equal(always(once), x));
  CHECK(at::equal(once.select(-1, 0), x.select(-1, x.size(-1) - 1)));
  CHECK_FALSE(at::equal(once, x));
  HorizontalFlip never{.p = 0.0};
  CHECK(at::equal(never(x), x));
  HorizontalFlip half{.p = 0.5, .seed = 3};
  int flipped = 0;
  for (int i = 0; i < 200; ++i) flipped += at::equal(half(x), x) ? 0 : 1;
  CHECK(flipped > 70);
  CHECK(flipped < 130);
}

TEST_CASE("crops and sizes", "[transform][crop]") {
  const at::Tensor x = random_uint8({3, 4, 240, 320});
  SECTION("center crop is the central window, torchvision's offsets") {
    const at::Tensor y = CenterCrop{224, 224}(x);
    REQUIRE(y.sizes() == at::IntArrayRef({3, 4, 224, 224}));
    CHECK(at::equal(y, x.narrow(2, 8, 224).narrow(3, 48, 224)));
    // (241 - 224) / 2 = 8.5 rounds to even (8), as Python's round().
    const at::Tensor odd = random_uint8({3, 1, 241, 230});
    CHECK(at::equal(CenterCrop{224, 224}(odd), odd.narrow(2, 8, 224).narrow(3, 3, 224)));
    CHECK_THROWS_WITH((CenterCrop{300, 300}(x)), Catch::Contains("does not fit"));
  }
  SECTION("short side scale keeps the aspect ratio (pytorchvideo's rounding)") {
    CHECK(ShortSideScale{.size = 256}(x).sizes() == at::IntArrayRef({3, 4, 256, 341}));
    CHECK(ShortSideScale{.size = 112}(x.transpose(2, 3)).sizes() == at::IntArrayRef({3, 4, 149, 112}));
    CHECK(Resize{.height = 64, .width = 80}(random_uint8({2, 3, 4, 100, 90})).sizes() == at::IntArrayRef({2, 3, 4, 64, 80}));
  }
  SECTION("resizing a constant clip keeps it constant; a float clip keeps its values at equal size") {
    const at::Tensor c = at::full({3, 2, 50, 70}, 0.25);
    CHECK(at::allclose(Resize{.height = 20, .width = 30}(c), at::full({3, 2, 20, 30}, 0.25), 1e-5, 1e-6));
    CHECK(at::allclose(Resize{.height = 120, .width = 90}(c), at::full({3, 2, 120, 90}, 0.25), 1e-5, 1e-6));
  }
  SECTION("random resized crop: output size, boxes inside the frame, scale and ratio respected") {
    RandomResizedCrop rrc{.height = 112, .width = 112, .scale = {0.2, 0.766}, .seed = 5};
    CHECK(rrc(x).sizes() == at::IntArrayRef({3, 4, 112, 112}));
    for (int i = 0; i < 500; ++i) {
      const CropBox b = rrc.draw(240, 320);
      REQUIRE(b.top >= 0);
      REQUIRE(b.left >= 0);
      REQUIRE(b.top + b.height <= 240);
      REQUIRE(b.left + b.width <= 320);
      const double area = static_cast<double>(b.height * b.width) / (240.0 * 320.0);
      REQUIRE(area > 0.18);
      REQUIRE(area < 0.80);
      const double ratio = static_cast<double>(b.width) / static_cast<double>(b.height);
      REQUIRE(ratio > 0.72);
      REQUIRE(ratio < 1.38);
    }
  }
}

TEST_CASE("colour jitter: one draw per clip, identical on every frame", "[transform][jitter]") {
  // A clip whose frames are all the same picture: the jittered frames must be equal too.
  const at::Tensor frame = synthetic_clip().data.select(1, 0);
  const at::Tensor clip = frame.unsqueeze(1).expand({3, 6, frame.size(1), frame.size(2)}).contiguous();
  ColorJitter jitter{.brightness = 0.6, .contrast = 0.6, .saturation = 0.6, .hue = 0.15, .seed = 2};
  for (int i = 0; i < 5; ++i) {
    const at::Tensor y = jitter(clip);
    REQUIRE(y.scalar_type() == at::kFloat);
    for (std::int64_t t = 1; t < 6; ++t) REQUIRE(at::equal(y.select(1, t), y.select(1, 0)));
    CHECK_FALSE(at::allclose(y, clip.to(at::kFloat) / 255.0));
    CHECK(y.min().item<double>() >= 0.0);
    CHECK(y.max().item<double>() <= 1.0);
  }
  // On a real clip (different frames), each frame gets the factors of the one draw: jittering the
  // clip equals jittering each frame alone with the same draw (contrast off: its mean is clip-wide).
  const at::Tensor real = synthetic_clip(4).data;
  ColorJitter a{.contrast = 0.0, .hue = 0.1, .seed = 9}, b{.contrast = 0.0, .hue = 0.1, .seed = 9};
  const at::Tensor whole = a(real);
  const ColorJitter::Draw d = b.draw();
  for (std::int64_t t = 0; t < real.size(1); ++t) {
    REQUIRE(at::allclose(whole.select(1, t), ColorJitter::apply_draw(real.narrow(1, t, 1), d).select(1, 0), 1e-5, 1e-6));
  }
}

TEST_CASE("hue: a tiny shift is the identity - a third of the wheel maps red to green to blue", "[transform][jitter]") {
  const at::Tensor x = at::rand({3, 2, 8, 8});
  ColorJitter::Draw d;
  d.apply = true;
  d.order = {3, 0, 1, 2};
  d.hue = 1e-12;  // not 0, which skips the op: forces the RGB -> HSV -> RGB round trip
  CHECK(at::allclose(ColorJitter::apply_draw(x, d), x, 1e-5, 1e-5));
  at::Tensor red = at::zeros({3, 1, 1, 1});
  red[0] = 0.8;
  d.hue = 1.0 / 3.0;
  const at::Tensor green = ColorJitter::apply_draw(red, d);
  CHECK(at::allclose(green.flatten(), at::tensor({0.0, 0.8, 0.0}).to(at::kFloat), 1e-5, 1e-5));
  const at::Tensor blue = ColorJitter::apply_draw(green, d);
  CHECK(at::allclose(blue.flatten(), at::tensor({0.0, 0.0, 0.8}).to(at::kFloat), 1e-5, 1e-5));
  // Saturation 0 is grey; brightness 0 is black.
  d.order = {2, 0, 1, 3};
  d.hue = 0;
  d.saturation = 0;
  const at::Tensor grey = ColorJitter::apply_draw(x, d);
  CHECK(at::allclose(grey.select(0, 0), grey.select(0, 2)));
  d.saturation = 1;
  d.brightness = 0;
  CHECK(ColorJitter::apply_draw(x, d).abs().max().item<double>() == 0.0);
}

TEST_CASE("random grayscale: p = 1 makes the three channels equal luma", "[transform][grayscale]") {
  const at::Tensor x = synthetic_clip().data;
  const at::Tensor y = RandomGrayscale{.p = 1.0}(x);
  const at::Tensor f = x.to(at::kFloat) / 255.0;
  const at::Tensor luma = f.select(0, 0) * 0.2989 + f.select(0, 1) * 0.587 + f.select(0, 2) * 0.114;
  for (std::int64_t c = 0; c < 3; ++c) CHECK(at::allclose(y.select(0, c), luma, 1e-5, 1e-6));
  CHECK(at::allclose(RandomGrayscale{.p = 0.0}(x), f));
}

TEST_CASE("frame shuffle: frames, indices and timestamps move together", "[transform][shuffle]") {
  const Clip clip = synthetic_clip();
  FrameShuffle shuffle{.seed = 8};
  const Clip s = shuffle(clip);
  REQUIRE(s.frames.size() == clip.frames.size());
  CHECK(s.frames != clip.frames);
  CHECK(std::is_permutation(s.frames.begin(), s.frames.end(), clip.frames.begin()));
  for (std::size_t t = 0; t < s.frames.size(); ++t) {
    const auto from = static_cast<std::int64_t>(std::find(clip.frames.begin(), clip.frames.end(), s.frames[t]) - clip.frames.begin());
    REQUIRE(at::equal(s.data.select(1, static_cast<std::int64_t>(t)), clip.data.select(1, from)));
    REQUIRE(s.seconds[t] == clip.seconds[static_cast<std::size_t>(from)]);
  }
}

TEST_CASE("composition with |, seeded reproducibility, devices", "[transform][compose]") {
  auto make = [] {
    return RandomResizedCrop{.height = 64, .width = 64, .seed = 1} | HorizontalFlip{.seed = 2} | ColorJitter{.p = 0.8, .seed = 3} |
           RandomGrayscale{.seed = 4} | Standardize{} | ToDevice{.device = at::kCPU};
  };
  STATIC_REQUIRE(ClipTransform<decltype(make())>);
  auto a = make(), b = make();
  const Clip clip = synthetic_clip();
  for (int i = 0; i < 4; ++i) {
    const Clip x = a(clip), y = b(clip);
    REQUIRE(x.data.sizes() == at::IntArrayRef({3, 8, 64, 64}));
    REQUIRE(at::equal(x.data, y.data));  // same seeds, same augmentations
    REQUIRE(x.frames == clip.frames);    // provenance kept
  }
  // uint8 in, float out, and batches through the deterministic ones.
  auto eval = ShortSideScale{.size = 32} | CenterCrop{32, 32} | Normalize{};
  ClipBatch batch{at::stack({clip.data, clip.data}), {clip, clip}, {}};
  CHECK(eval(batch).data.sizes() == at::IntArrayRef({2, 3, 8, 32, 32}));
  CHECK(ToDevice{.device = at::kCPU}(clip.data).is_same(clip.data));
}
