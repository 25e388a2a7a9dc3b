// SPDX-License-Identifier: MIT
// Samplers: clip indices against the paper's formulas, pixels against the frames they name,
// seeded order, the i.i.d. reference's coverage and uniformity, exact resume, and the parameters'
// static/dynamic forms.
#include <algorithm>
#include <cstdlib>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <ATen/ops/equal.h>

#include <longform/sampler.hpp>
#include <longform/source/synthetic_video.hpp>
#include <longform/source/video_list.hpp>

#include "../support.hpp"

#undef CHECK  // c10's glog-style CHECK (abort) must not shadow Catch's
#include <catch2/catch.hpp>

using namespace longform;

namespace {

// Synthetic videos of different lengths (SyntheticVideo gives every video the same length).
class Lengths {
 public:
  using source_concept = source_tag;
  explicit Lengths(std::vector<std::int64_t> lengths, std::uint64_t seed = 7) : lengths_(std::move(lengths)), seed_(seed) {}
  [[nodiscard]] std::size_t size() const noexcept { return lengths_.size(); }
  [[nodiscard]] std::string name(std::size_t i) const { return "len" + std::to_string(lengths_.at(i)) + "/" + std::to_string(i); }
  [[nodiscard]] SyntheticReader open(std::size_t i) const {
    return SyntheticReader({.seed = seed_, .videos = size(), .frames = lengths_.at(i), .width = 32, .height = 24}, i);
  }
  [[nodiscard]] std::int64_t length(std::size_t i) const { return lengths_.at(i); }

 private:
  std::vector<std::int64_t> lengths_;
  std::uint64_t seed_;
};
static_assert(VideoSource<Lengths>);

// Frame `k` of video `v`, read independently of any sampler.
at::Tensor frame_of(const Lengths& src, std::size_t v, std::int64_t k) {
  auto r = src.open(v);
  r.seek_frame(k);
  return r.next()->rgb;
}

// Every frame of `clip` equals the frame its provenance names.
void check_pixels(const Lengths& src, const Clip& clip) {
  REQUIRE(clip.data.defined());
  REQUIRE(clip.data.sizes() == at::IntArrayRef({3, static_cast<std::int64_t>(clip.frames.size()), 24, 32}));
  REQUIRE(clip.data.scalar_type() == at::kByte);
  for (std::size_t t = 0; t < clip.frames.size(); ++t) {
    const at::Tensor got = clip.data.select(1, static_cast<std::int64_t>(t)).permute({1, 2, 0});
    REQUIRE(at::equal(got, frame_of(src, clip.video, clip.frames[t])));
  }
}

template <class S>
std::vector<Clip> take(S& sampler, ClipContext& ctx, std::size_t n) {
  std::vector<Clip> out;
  while (out.size() < n) {
    auto c = sampler.next(ctx);
    if (!c) break;
    out.push_back(std::move(*c));
  }
  return out;
}

struct Seq {
  std::int64_t T, tau, h;  // h = 0: back to back
};

}  // namespace

TEST_CASE("parameters: static forms are empty, dynamic twins hold and check their value", "[sampler][params]") {
  STATIC_REQUIRE(std::is_empty_v<Stride<8>>);
  STATIC_REQUIRE(Stride<8>::value == 8);
  STATIC_REQUIRE(Frames<16>{} == 16);
  STATIC_REQUIRE(Hop<>::resolve(64) == 64);
  STATIC_REQUIRE(Hop<5>::resolve(64) == 5);
  STATIC_REQUIRE(SegmentSeconds<10>::value == 10.0);
  CHECK(Stride<dynamic>{3}.value == 3);
  CHECK(Hop<dynamic>{0}.resolve(12) == 12);
  CHECK_THROWS_AS(Stride<dynamic>{0}, config_error);
  CHECK_THROWS_AS(Frames<dynamic>{-2}, config_error);
  CHECK_THROWS_AS(SegmentSeconds<dynamic>{0.0}, config_error);
  // One int64-sized member besides the static parameters: they cost no storage.
  struct Probe {
    [[no_unique_address]] Frames<16> f;
    [[no_unique_address]] Stride<4> s;
    std::int64_t x;
  };
  STATIC_REQUIRE(sizeof(Probe) == sizeof(std::int64_t));
  STATIC_REQUIRE(ClipSampler<SequentialSampler<Frames<16>, Stride<4>>>);
  STATIC_REQUIRE(!ClipSampler<int>);
  STATIC_REQUIRE(!ClipSampler<Frames<16>>);
}

TEST_CASE("sequential: clip j of each video is frames j*h + t*tau, videos in a seeded permutation", "[sampler][sequential]") {
  const std::vector<std::int64_t> lengths{40, 7, 23, 61, 15};
  const Lengths src(lengths);
  for (const Seq p : {Seq{4, 1, 0}, Seq{3, 2, 0}, Seq{4, 2, 3}, Seq{2, 5, 12}, Seq{5, 1, 1}}) {
    CAPTURE(p.T, p.tau, p.h);
    SequentialSampler<Frames<dynamic>, Stride<dynamic>, Hop<dynamic>> sampler(Frames<dynamic>{p.T}, Stride<dynamic>{p.tau}, Hop<dynamic>{p.h},
                                                                              {.seed = 11});
    const std::int64_t span = (p.T - 1) * p.tau + 1, hop = p.h == 0 ? p.T * p.tau : p.h;
    auto telemetry = std::make_shared<Telemetry>();
    ClipContext ctx(src, {.telemetry = telemetry});
    const auto clips = take(sampler, ctx, 10000);
    REQUIRE(sampler.next(ctx) == std::nullopt);  // one epoch, then exhausted

    // Group by video in emission order: each video's clips are contiguous and complete.
    std::vector<std::size_t> visits;
    std::map<std::size_t, std::vector<const Clip*>> by_video;
    for (const auto& c : clips) {
      if (visits.empty() || visits.back() != c.video) visits.push_back(c.video);
      by_video[c.video].push_back(&c);
    }
    REQUIRE(std::set<std::size_t>(visits.begin(), visits.end()).size() == visits.size());  // each video once
    std::size_t total = 0;
    for (std::size_t v = 0; v < lengths.size(); ++v) {
      const std::int64_t n = lengths[v];
      const std::int64_t expected = n >= span ? (n - span) / hop + 1 : 0;
      REQUIRE(static_cast<std::int64_t>(by_video[v].size()) == expected);
      for (std::int64_t j = 0; j < expected; ++j) {
        const Clip& c = *by_video[v][static_cast<std::size_t>(j)];
        for (std::int64_t t = 0; t < p.T; ++t) REQUIRE(c.frames[static_cast<std::size_t>(t)] == j * hop + t * p.tau);
        REQUIRE(c.name == src.name(v));
        REQUIRE(c.seconds[1] == Approx(static_cast<double>(c.frames[1]) / 25.0));
      }
      total += static_cast<std::size_t>(expected);
    }
    REQUIRE(clips.size() == total);
    check_pixels(src, clips.front());
    check_pixels(src, clips.back());
    CHECK(telemetry->seeks == 0);  // forward decoding only
    CHECK(telemetry->frames_used == static_cast<std::int64_t>(total) * p.T);
  }
}

TEST_CASE("sequential: the video order is a seeded permutation, the same for the same seed", "[sampler][sequential]") {
  const Lengths src({9, 9, 9, 9, 9, 9, 9, 9});
  auto order = [&](std::uint64_t seed) {
    SequentialSampler<Frames<8>> s({.seed = seed});
    ClipContext ctx(src, {.decode = false});
    std::vector<std::size_t> videos;
    for (const auto& c : take(s, ctx, 100)) videos.push_back(c.video);
    return videos;
  };
  const auto a = order(1), b = order(1), c = order(2);
  REQUIRE(a.size() == 8);
  CHECK(a == b);
  CHECK(a != c);
  CHECK(std::set<std::size_t>(a.begin(), a.end()).size() == 8);
}

TEST_CASE("sequential: index-only sampling gives the indices decoding gives - epochs repeat in new orders", "[sampler][sequential]") {
  const Lengths src({30, 50, 20});
  SequentialSampler<Frames<4>, Stride<3>> a({.seed = 5, .epochs = 2}), b({.seed = 5, .epochs = 2});
  ClipContext decoding(src), indices(src, {.decode = false});
  const auto x = take(a, decoding, 1000), y = take(b, indices, 1000);
  REQUIRE(x.size() == y.size());
  REQUIRE(x.size() == 2 * (2 + 4 + 1));
  for (std::size_t i = 0; i < x.size(); ++i) {
    REQUIRE(x[i].video == y[i].video);
    REQUIRE(x[i].frames == y[i].frames);
    REQUIRE_FALSE(y[i].data.defined());
  }
}

TEST_CASE("random: clips lie inside one 10-s segment, stride tau, order a seeded permutation", "[sampler][random]") {
  // 25 fps: 10-s segments are 250 frames. 600 frames = two full segments + a 100-frame tail.
  const Lengths src({600, 260, 990});
  constexpr std::int64_t T = 8, tau = 4, L = 250;
  RandomSampler<SegmentSeconds<10>, Frames<T>, Stride<tau>, ShuffleFrames> sampler({.seed = 3, .epochs = 4});
  ClipContext ctx(src);
  const auto clips = take(sampler, ctx, 1000);
  // segments: 600 -> 3 (tail 100 >= span 29), 260 -> 1 (tail 10 < 29), 990 -> 4 (tail 240)
  REQUIRE(clips.size() == 4 * 8);
  std::size_t shuffled = 0;
  std::set<std::pair<std::size_t, std::int64_t>> segments_seen;
  for (const auto& c : clips) {
    auto sorted = c.frames;
    std::sort(sorted.begin(), sorted.end());
    REQUIRE(std::is_permutation(c.frames.begin(), c.frames.end(), sorted.begin()));
    for (std::size_t t = 1; t < sorted.size(); ++t) REQUIRE(sorted[t] - sorted[t - 1] == tau);
    const std::int64_t segment = sorted.front() / L;
    REQUIRE(sorted.back() < std::min((segment + 1) * L, src.length(c.video)));
    segments_seen.insert({c.video, segment});
    if (c.frames != sorted) ++shuffled;
  }
  CHECK(shuffled >= clips.size() - 1);  // 8! orders: all but freak cases are shuffled
  CHECK(segments_seen.size() >= 5);
  check_pixels(src, clips.front());  // tensor order follows the shuffled indices

  // Same seed: same clips in the same shuffled order. Keep order: sorted.
  RandomSampler<SegmentSeconds<10>, Frames<T>, Stride<tau>, ShuffleFrames> again({.seed = 3, .epochs = 4});
  ClipContext ctx2(src, {.decode = false});
  const auto replay = take(again, ctx2, 1000);
  for (std::size_t i = 0; i < clips.size(); ++i) REQUIRE(replay[i].frames == clips[i].frames);
  RandomSampler<SegmentSeconds<10>, Frames<T>, Stride<tau>, KeepOrder> ordered({.seed = 3});
  for (const auto& c : take(ordered, ctx2, 20)) REQUIRE(std::is_sorted(c.frames.begin(), c.frames.end()));
}

TEST_CASE("random: a segment shorter than the clip span is a config_error naming the video", "[sampler][random]") {
  const Lengths src({600});
  RandomSampler<SegmentSeconds<dynamic>, Frames<dynamic>, Stride<dynamic>, KeepOrder> s(SegmentSeconds<dynamic>{1.0}, Frames<dynamic>{16},
                                                                                        Stride<dynamic>{4});
  ClipContext ctx(src);
  REQUIRE_THROWS_WITH(s.next(ctx), Catch::Contains("len600/0") && Catch::Contains("fewer than the clip span"));
}

TEST_CASE("iid: an epoch visits every clip start of every video once, each clip inside its video", "[sampler][iid]") {
  const std::vector<std::int64_t> lengths{40, 7, 23, 61, 15};
  const Lengths src(lengths);
  constexpr std::int64_t T = 4, tau = 2, span = (T - 1) * tau + 1;
  IIDSampler<Frames<T>, Stride<tau>> sampler({.seed = 6});
  ClipContext ctx(src, {.decode = false});
  const auto clips = take(sampler, ctx, 10000);
  REQUIRE(sampler.next(ctx) == std::nullopt);  // one epoch, then exhausted
  std::set<std::pair<std::size_t, std::int64_t>> starts;
  for (const auto& c : clips) {
    REQUIRE(c.frames.size() == static_cast<std::size_t>(T));
    for (std::size_t t = 1; t < c.frames.size(); ++t) REQUIRE(c.frames[t] - c.frames[t - 1] == tau);  // in order
    REQUIRE(c.frames.front() >= 0);
    REQUIRE(c.frames.back() < lengths.at(c.video));
    starts.insert({c.video, c.frames.front()});
  }
  std::size_t expected = 0;  // n - span + 1 per video: the 7-frame video has one, none is skipped
  for (const auto n : lengths) expected += static_cast<std::size_t>(std::max<std::int64_t>(0, n - span + 1));
  CHECK(expected == 34 + 1 + 17 + 55 + 9);
  CHECK(clips.size() == expected);
  CHECK(starts.size() == expected);
  // Not the order of the corpus: shuffled.
  std::size_t ascending = 0;
  for (std::size_t i = 1; i < clips.size(); ++i)
    ascending += std::pair(clips[i - 1].video, clips[i - 1].frames[0]) < std::pair(clips[i].video, clips[i].frames[0]);
  CHECK(ascending < clips.size() * 3 / 4);
  IIDSampler<Frames<T>, Stride<tau>> decoding({.seed = 6});
  ClipContext pixels(src);
  const auto decoded = take(decoding, pixels, 3);
  for (std::size_t i = 0; i < decoded.size(); ++i) {
    REQUIRE(decoded[i].frames == clips[i].frames);
    check_pixels(src, decoded[i]);
  }
}

TEST_CASE("iid: every clip is a uniform draw over all clip starts (counts over 3200 seeds)", "[sampler][iid]") {
  // 9 + 6 + 17 = 32 starts of 4-frame spans: each expected 100 times at a given position.
  const Lengths src({12, 9, 20});
  ClipContext ctx(src, {.decode = false});
  for (const std::size_t position : {std::size_t{0}, std::size_t{17}, std::size_t{31}}) {
    CAPTURE(position);
    std::map<std::pair<std::size_t, std::int64_t>, int> counts;
    for (std::uint64_t seed = 0; seed < 3200; ++seed) {
      IIDSampler<Frames<2>, Stride<3>> s({.seed = seed});
      const Clip c = take(s, ctx, position + 1).back();
      ++counts[{c.video, c.frames.front()}];
    }
    REQUIRE(counts.size() == 32);  // every start reached
    double chi2 = 0;
    for (const auto& [start, n] : counts) {
      CHECK(n > 55);  // 100 ± 4.5 standard deviations
      CHECK(n < 145);
      chi2 += (n - 100.0) * (n - 100.0) / 100.0;
    }
    CHECK(chi2 < 70);  // 31 degrees of freedom: p < 1e-4 above 70
  }
}

TEST_CASE("iid: same seed same clips; each epoch a new order of all starts; too short a source is an error", "[sampler][iid]") {
  const Lengths src({10, 12});  // 3-frame spans: 8 + 10 starts
  auto run = [&](std::uint64_t seed) {
    IIDSampler<Frames<2>, Stride<2>> s({.seed = seed, .epochs = 3});
    ClipContext ctx(src, {.decode = false});
    std::vector<std::pair<std::size_t, std::int64_t>> out;
    for (const auto& c : take(s, ctx, 1000)) out.emplace_back(c.video, c.frames.front());
    return out;
  };
  const auto a = run(4), b = run(4), c = run(5);
  REQUIRE(a.size() == 3 * 18);
  CHECK(a == b);
  CHECK(a != c);
  for (std::size_t e = 0; e < 3; ++e) CHECK(std::set(a.begin() + 18 * e, a.begin() + 18 * (e + 1)).size() == 18);
  CHECK(!std::equal(a.begin(), a.begin() + 18, a.begin() + 18));
  // Resumed anywhere, across epochs too: the same continuation, to the same end.
  for (std::size_t k : {0, 5, 18, 31, 53}) {
    CAPTURE(k);
    IIDSampler<Frames<2>, Stride<2>> original({.seed = 4, .epochs = 3});
    ClipContext ctx(src, {.decode = false});
    take(original, ctx, k);
    IIDSampler<Frames<2>, Stride<2>> resumed({.seed = 99, .epochs = 1});  // seed and epochs come from the state
    resumed.restore(original.state());
    ClipContext fresh(src, {.decode = false});
    const auto rest = take(resumed, fresh, 1000);
    REQUIRE(rest.size() == a.size() - k);
    for (std::size_t i = 0; i < rest.size(); ++i) REQUIRE(std::pair(rest[i].video, rest[i].frames.front()) == a[k + i]);
  }
  IIDSampler<Frames<8>, Stride<2>> too_long;
  ClipContext ctx(src, {.decode = false});
  REQUIRE_THROWS_WITH(too_long.next(ctx), Catch::Contains("no video is long enough"));
}

using Seq42 = SequentialSampler<Frames<4>, Stride<2>>;
using Storyboard42 = TwoTierReplay<ShortTerm<3>, LongTerm<5>, Batch<4>, Fresh<2>, Seq42>;
using DedupStreams42 = Dedup<Gap<10>, Batch<4>, MultiStream<Streams<2>, Seq42>>;
using DedupStoryboard42 = Dedup<Gap<12>, Batch<4>, Storyboard42>;

TEMPLATE_TEST_CASE("state() then restore() gives the identical next 20 clips", "[sampler][resume]", Seq42,
                   (RandomSampler<SegmentSeconds<2>, Frames<4>, Stride<2>>), (IIDSampler<Frames<4>, Stride<2>>), (MultiStream<Streams<3>, Seq42>),
                   (ReplayBuffer<Capacity<5>, Seq42>), Storyboard42, DedupStreams42, DedupStoryboard42) {
  const Lengths src({70, 35, 90, 44, 51});
  auto make = [] {
    if constexpr (std::is_same_v<TestType, Seq42>) {
      return TestType({.seed = 9, .epochs = 0});
    } else if constexpr (std::is_same_v<TestType, RandomSampler<SegmentSeconds<2>, Frames<4>, Stride<2>>> ||
                         std::is_same_v<TestType, IIDSampler<Frames<4>, Stride<2>>>) {
      return TestType({.seed = 9, .epochs = 0});
    } else if constexpr (std::is_same_v<TestType, MultiStream<Streams<3>, Seq42>>) {
      return TestType(Seq42({.seed = 9, .epochs = 0}));
    } else if constexpr (std::is_same_v<TestType, ReplayBuffer<Capacity<5>, Seq42>>) {
      return TestType(Seq42({.seed = 9, .epochs = 0}), 4);
    } else if constexpr (std::is_same_v<TestType, Storyboard42>) {
      return TestType(Seq42({.seed = 9, .epochs = 0}), TwoTierReplayOptions{.seed = 4});
    } else if constexpr (std::is_same_v<TestType, DedupStreams42>) {
      return TestType(MultiStream<Streams<2>, Seq42>(Seq42({.seed = 9, .epochs = 0})));
    } else {
      return TestType(Storyboard42(Seq42({.seed = 9, .epochs = 0}), TwoTierReplayOptions{.seed = 4}));
    }
  };
  for (std::size_t skip : {0, 1, 13, 37}) {
    CAPTURE(skip);
    TestType original = make();
    ClipContext ctx(src);
    take(original, ctx, skip);
    const SamplerState saved = original.state();
    const auto expected = take(original, ctx, 20);
    REQUIRE(expected.size() == 20);

    TestType resumed = make();
    resumed.restore(saved);
    ClipContext fresh(src);  // a new process: nothing open, nothing cached
    const auto got = take(resumed, fresh, 20);
    REQUIRE(got.size() == 20);
    for (std::size_t i = 0; i < 20; ++i) {
      REQUIRE(got[i].video == expected[i].video);
      REQUIRE(got[i].frames == expected[i].frames);
      REQUIRE(at::equal(got[i].data, expected[i].data));
    }
  }
  TestType s = make();
  CHECK_THROWS_AS(s.restore(SamplerState{"no-such-sampler", {1, 2, 3, 4, 5, 6, 7, 8}}), config_error);
}

TEST_CASE("multistream: each round holds one clip from each of B different videos - no seeks", "[sampler][multistream]") {
  const Lengths src({40, 40, 40, 40, 40, 40});
  auto telemetry = std::make_shared<Telemetry>();
  ClipContext ctx(src, {.telemetry = telemetry});
  MultiStream<Streams<3>, SequentialSampler<Frames<4>, Stride<2>>> ms(SequentialSampler<Frames<4>, Stride<2>>({.seed = 1}));
  const auto clips = take(ms, ctx, 1000);
  REQUIRE(clips.size() == 6 * 5);  // 40 frames, 8-frame clips: 5 per video
  for (std::size_t r = 0; r + 3 <= clips.size(); r += 3) {
    std::set<std::size_t> videos{clips[r].video, clips[r + 1].video, clips[r + 2].video};
    REQUIRE(videos.size() == 3);
  }
  // Stream b's clips walk its video forward: clip j at frame 8j.
  std::map<std::size_t, std::int64_t> next_start;
  for (const auto& c : clips) {
    REQUIRE(c.frames.front() == next_start[c.video]);
    next_start[c.video] += 8;
  }
  CHECK(telemetry->seeks == 0);
  CHECK(telemetry->opens == 6);
  CHECK(telemetry->amplification() == Approx(2.0).epsilon(0.05));  // stride 2: every other frame decoded, unused
}

TEST_CASE("replay buffer: emits every inner clip once, shuffled within the capacity", "[sampler][replay]") {
  const Lengths src({80, 80, 80});
  using Seq4 = SequentialSampler<Frames<4>, Stride<1>>;
  Seq4 plain({.seed = 4});
  ReplayBuffer<Capacity<dynamic>, Seq4> buffer(6, Seq4({.seed = 4}), 99);
  ClipContext a(src, {.decode = false}), b(src, {.decode = false});
  const auto inner = take(plain, a, 1000), mixed = take(buffer, b, 1000);
  REQUIRE(inner.size() == 60);
  REQUIRE(mixed.size() == 60);
  std::map<std::pair<std::size_t, std::int64_t>, std::size_t> position;
  for (std::size_t i = 0; i < inner.size(); ++i) position[{inner[i].video, inner[i].frames.front()}] = i;
  std::size_t moved = 0;
  std::set<std::size_t> seen;
  for (std::size_t i = 0; i < mixed.size(); ++i) {
    const auto p = position.at({mixed[i].video, mixed[i].frames.front()});
    seen.insert(p);
    REQUIRE(p < i + 6);  // never emitted before it could have entered the buffer
    if (p != i) ++moved;
  }
  CHECK(seen.size() == 60);
  CHECK(moved > 30);
}

namespace {

using ClipKey = std::pair<std::size_t, std::vector<std::int64_t>>;  // video, frame indices
ClipKey key(const Clip& c) { return {c.video, c.frames}; }

// The batches (groups of `b` from the first clip) in which two clips of one video start fewer
// than `gap` frames apart.
std::size_t batches_breaking_gap(const std::vector<Clip>& clips, std::size_t b, std::int64_t gap) {
  std::size_t broken = 0;
  for (std::size_t g = 0; g + b <= clips.size(); g += b) {
    bool ok = true;
    for (std::size_t i = g; i < g + b; ++i) {
      for (std::size_t j = i + 1; j < g + b; ++j) {
        const auto a = *std::min_element(clips[i].frames.begin(), clips[i].frames.end());
        const auto c = *std::min_element(clips[j].frames.begin(), clips[j].frames.end());
        if (clips[i].video == clips[j].video && std::abs(a - c) < gap) ok = false;
      }
    }
    broken += ok ? 0 : 1;
  }
  return broken;
}

}  // namespace

TEST_CASE("two-tier replay: the reservoir holds every clip that left the FIFO with probability L/n", "[sampler][replay2]") {
  // One fresh clip per batch of one: each stream clip enters the FIFO at once, and the one it
  // pushes out is offered to the reservoir. After 40 clips the FIFO holds the last 4, and each of
  // the 36 older ones is in the 6-clip reservoir with probability 6/36, whatever the seed.
  const Lengths src({200, 200});
  using Seq4 = SequentialSampler<Frames<4>>;
  using Memory = TwoTierReplay<ShortTerm<dynamic>, LongTerm<dynamic>, Batch<1>, Fresh<1>, Seq4>;
  constexpr int seeds = 2000, n = 40, S = 4, L = 6;
  ClipContext ctx(src, {.decode = false});
  std::vector<Clip> stream;
  {
    Seq4 plain({.seed = 3});
    stream = take(plain, ctx, n);
  }
  std::map<ClipKey, std::size_t> order;
  for (std::size_t i = 0; i < stream.size(); ++i) order[key(stream[i])] = i;
  std::vector<int> inclusions(n, 0);
  for (int seed = 0; seed < seeds; ++seed) {
    Memory memory(ShortTerm<dynamic>{S}, LongTerm<dynamic>{L}, Seq4({.seed = 3}), TwoTierReplayOptions{.seed = static_cast<std::uint64_t>(seed)});
    const auto got = take(memory, ctx, n);
    REQUIRE(got.size() == static_cast<std::size_t>(n));
    for (std::size_t i = 0; i < got.size(); ++i) REQUIRE(key(got[i]) == key(stream[i]));  // B = F: the stream itself
    REQUIRE(memory.offered() == n - S);
    REQUIRE(memory.short_term_memory().size() == static_cast<std::size_t>(S));
    for (std::size_t i = 0; i < S; ++i) REQUIRE(key(memory.short_term_memory()[i]) == key(stream[n - S + i]));
    REQUIRE(memory.long_term_memory().size() == static_cast<std::size_t>(L));
    std::set<std::size_t> kept;
    for (const auto& c : memory.long_term_memory()) kept.insert(order.at(key(c)));
    REQUIRE(kept.size() == static_cast<std::size_t>(L));  // L different clips
    for (const auto i : kept) {
      REQUIRE(i < static_cast<std::size_t>(n - S));  // never one still in the FIFO
      ++inclusions[i];
    }
  }
  const double expected = seeds * static_cast<double>(L) / (n - S);  // 333, sd 17
  for (int i = 0; i < n - S; ++i) {
    CAPTURE(i);
    CHECK(inclusions[static_cast<std::size_t>(i)] > 0.8 * expected);
    CHECK(inclusions[static_cast<std::size_t>(i)] < 1.2 * expected);
  }
}

TEST_CASE("two-tier replay: F stream clips per batch, the rest reused from the memory, never the batch's own", "[sampler][replay2]") {
  const Lengths src({120, 90, 150});
  using Story = TwoTierReplay<ShortTerm<3>, LongTerm<8>, Fresh<2>, Batch<6>, Seq42>;
  constexpr std::size_t B = 6, F = 2, S = 3;
  Seq42 plain({.seed = 5, .epochs = 0});
  Story story(Seq42({.seed = 5, .epochs = 0}), TwoTierReplayOptions{.seed = 8});
  ClipContext a(src, {.decode = false}), b(src, {.decode = false});
  const auto stream = take(plain, a, 400);
  std::size_t fresh = 0, replays = 0;
  std::map<ClipKey, int> replayed;
  std::size_t from_short_term = 0, from_long_term = 0;
  for (std::size_t batch = 0; batch < 40; ++batch) {
    CAPTURE(batch);
    std::set<ClipKey> before_short, before_all;  // the memory before this batch
    for (const auto& c : story.short_term_memory()) before_short.insert(key(c));
    for (const auto& c : story.long_term_memory()) before_all.insert(key(c));
    before_all.insert(before_short.begin(), before_short.end());
    const auto clips = take(story, b, B);
    REQUIRE(clips.size() == B);
    std::set<ClipKey> in_batch;
    for (std::size_t p = 0; p < B; ++p) {
      const auto k = key(clips[p]);
      REQUIRE(in_batch.insert(k).second);  // no clip twice in a batch
      if (batch == 0 || p < F) {           // the first batch is all stream: nothing to replay yet
        REQUIRE(k == key(stream[fresh++]));
        continue;
      }
      ++replays;
      ++replayed[k];
      REQUIRE(before_all.contains(k));  // a clip the stream gave in an earlier batch
      (before_short.contains(k) ? from_short_term : from_long_term) += 1;
      REQUIRE(clips[p].frames.back() < src.length(clips[p].video));
    }
    // The FIFO now holds the last S stream clips, oldest first.
    REQUIRE(story.short_term_memory().size() == S);
    for (std::size_t i = 0; i < S; ++i) REQUIRE(key(story.short_term_memory()[i]) == key(stream[fresh - S + i]));
    REQUIRE(story.offered() == static_cast<std::int64_t>(fresh - S));
    REQUIRE(story.long_term_memory().size() == std::min<std::size_t>(8, fresh - S));
  }
  CHECK(fresh == B + 39 * F);
  CHECK(replays == 39 * (B - F));
  CHECK(from_short_term > 0);
  CHECK(from_long_term > from_short_term);  // 8 reservoir slots against 3
  const auto most = std::max_element(replayed.begin(), replayed.end(), [](const auto& x, const auto& y) { return x.second < y.second; });
  CHECK(most->second >= 3);  // reuse: a clip comes back again and again

  // Decoded, a replayed clip holds the pixels of the frames it names (decoded again by seeking).
  Story decoding(Seq42({.seed = 5, .epochs = 0}), TwoTierReplayOptions{.seed = 8});
  ClipContext c(src);
  const auto clips = take(decoding, c, 3 * B);
  check_pixels(src, clips[B + F]);
  check_pixels(src, clips.back());
  CHECK_THROWS_AS(Story(Seq42(), TwoTierReplayOptions{}).restore(SamplerState{"two_tier_replay", {0, 0, 0, 0, 3, 9, 6, 2, 0}}), config_error);
  using TooFresh = TwoTierReplay<ShortTerm<3>, LongTerm<8>, Batch<dynamic>, Fresh<dynamic>, Seq42>;
  CHECK_THROWS_AS(TooFresh(Batch<dynamic>{4}, Fresh<dynamic>{5}, Seq42()), config_error);
}

TEST_CASE("dedup over MultiStream: no batch holds two clips of a video closer than the gap; every clip once", "[sampler][dedup]") {
  // Three streams, batches of six: plain round-robin puts clips j and j+1 of each video (8 frames
  // apart) in one batch; with Gap<20> a batch takes clips j and j+3 instead, the others wait.
  const Lengths src({80, 80, 80, 80, 80, 80});
  using Streams3 = MultiStream<Streams<3>, Seq42>;
  constexpr std::size_t B = 6;
  Streams3 plain(Seq42({.seed = 2}));
  Dedup<Gap<20>, Batch<B>, Streams3> dedup(Streams3(Seq42({.seed = 2})));
  ClipContext a(src, {.decode = false}), b(src, {.decode = false});
  const auto inner = take(plain, a, 1000);
  REQUIRE(inner.size() == 60);
  CHECK(batches_breaking_gap(inner, B, 20) == 10);
  std::vector<Clip> out;
  while (auto c = dedup.next(b)) {
    REQUIRE(dedup.held() <= B);  // the hold-back bound
    if (out.size() < 8 * B) REQUIRE(dedup.dropped() == 0);
    out.push_back(std::move(*c));
  }
  CHECK(batches_breaking_gap(out, B, 20) == 0);
  // Every clip once, but for those the stream's last clips leave over: its last clips are neighbours
  // in each video, too close for one batch, and nothing follows to fill theirs.
  CHECK(out.size() + static_cast<std::size_t>(dedup.dropped()) == inner.size());
  CHECK(dedup.dropped() < static_cast<std::int64_t>(B));
  std::map<ClipKey, std::size_t> position;
  for (std::size_t i = 0; i < inner.size(); ++i) position[key(inner[i])] = i;
  std::set<std::size_t> seen;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const auto p = position.at(key(out[i]));
    REQUIRE(seen.insert(p).second);  // exactly once
    CHECK(p <= i + B);               // a clip overtakes at most the B held back
    CHECK(i <= p + 2 * B);           // and a held one waits at most two batches here
  }
  for (std::size_t p = 0; p + 2 * B < inner.size(); ++p) CHECK(seen.contains(p));  // only the last ones are missing
}

TEST_CASE("dedup over a two-tier replay: replays of the last batch's neighbours are held back", "[sampler][dedup][replay2]") {
  // Four streams, one fresh clip each per batch; the FIFO holds the last two batches' fresh clips,
  // and replaying the previous one (8 frames back) beside the stream's next clip puts neighbours in
  // a batch. Dedup<Gap<12>> holds such a replay for the next batch.
  const Lengths src({400, 400, 400, 400});
  using Four = MultiStream<Streams<4>, Seq42>;
  using Story = TwoTierReplay<ShortTerm<8>, LongTerm<32>, Batch<8>, Fresh<4>, Four>;
  auto story = [] { return Story(Four(Seq42({.seed = 1})), TwoTierReplayOptions{.seed = 6}); };
  Story plain = story();
  Dedup<Batch<8>, Story, Gap<12>> dedup(story());
  ClipContext a(src, {.decode = false}), b(src, {.decode = false});
  const auto inner = take(plain, a, 10000), out = take(dedup, b, 10000);
  REQUIRE(inner.size() == 49 * 8);  // 200 stream clips: the first batch all of them, then 4 of each 8
  CHECK(batches_breaking_gap(inner, 8, 12) > 5);
  CHECK(batches_breaking_gap(out, 8, 12) == 0);
  // The same clips, each as often as the replay gave it, but for those dropped at the end.
  std::map<ClipKey, int> count;
  for (const auto& c : inner) ++count[key(c)];
  for (const auto& c : out) --count[key(c)];
  int missing = 0;
  for (const auto& [k, n] : count) {
    REQUIRE(n >= 0);
    missing += n;
  }
  CHECK(missing == dedup.dropped());
  CHECK(dedup.dropped() < 8);
}

TEST_CASE("dedup over one sequential stream: what cannot keep the gap is dropped, counted, or refused", "[sampler][dedup]") {
  const Lengths src({400});
  using Seq4 = SequentialSampler<Frames<4>, Stride<2>>;
  Dedup<Gap<dynamic>, Batch<dynamic>, Seq4> one(Gap<dynamic>{1000}, Batch<dynamic>{4}, Seq4({.seed = 0}));
  ClipContext ctx(src, {.decode = false});
  const auto clips = take(one, ctx, 100);
  CHECK(clips.size() == 1);  // every later clip of the one video is within 1000 frames of the first
  CHECK(one.dropped() == 49);
  Dedup<Gap<1000>, Batch<4>, Seq4> endless(Seq4({.seed = 0, .epochs = 0}));
  CHECK(endless.next(ctx).has_value());
  CHECK_THROWS_WITH(endless.next(ctx), Catch::Contains("must mix videos"));
  CHECK_THROWS_AS(DedupStreams42(MultiStream<Streams<2>, Seq42>(Seq42())).restore(SamplerState{"dedup", {0, 0, 0, 10, 8, 8, 0}}), config_error);
}

TEST_CASE("sequential clips of real H.264 videos: indices, pixels, forward decoding", "[sampler][videos]") {
  const VideoList list({test::video("vtest_h264.mp4"), test::video("tree_h264.mp4")}, {.threads = 1});
  auto telemetry = std::make_shared<Telemetry>();
  ClipContext ctx(list, {.telemetry = telemetry});
  SequentialSampler<Frames<8>, Stride<4>> sampler({.seed = 2});
  std::map<std::size_t, std::int64_t> clips_of;
  std::vector<Clip> some;
  while (auto c = sampler.next(ctx)) {
    const std::int64_t j = clips_of[c->video]++;
    for (std::int64_t t = 0; t < 8; ++t) REQUIRE(c->frames[static_cast<std::size_t>(t)] == 32 * j + 4 * t);
    if (j == 3 || j == 17) some.push_back(std::move(*c));
  }
  for (std::size_t v = 0; v < 2; ++v) {
    VideoReader r(list.name(v));
    REQUIRE(clips_of[v] == (r.frame_count() - 29) / 32 + 1);
  }
  CHECK(telemetry->seeks == 0);
  // τ = 4 uses one frame in four; the non-reference B-frames in between are never decoded
  // (VideoReader::skip_to), so fewer than four frames are decoded per frame used.
  CHECK(telemetry->amplification() > 1.0);
  CHECK(telemetry->amplification() < 3.5);
  for (const auto& c : some) {  // pixels equal an independent exact seek to the named frame
    VideoReader r(c.name);
    for (std::size_t t = 0; t < c.frames.size(); t += 3) {
      r.seek_frame(c.frames[t]);
      REQUIRE(at::equal(c.data.select(1, static_cast<std::int64_t>(t)).permute({1, 2, 0}), r.next()->rgb));
    }
  }
}

TEST_CASE("index-only clips carry each frame's presentation time on variable frame rate video", "[sampler][videos]") {
  // Frame durations change at frame 200 of vfr_h264.mkv: index / fps is wrong after it.
  const VideoList list({test::video("vfr_h264.mkv")}, {.threads = 1});
  ClipContext ctx(list, {.decode = false});
  SequentialSampler<Frames<4>, Stride<50>> sampler({.seed = 0});
  VideoReader reader(list.name(0));
  std::size_t checked = 0, after_change = 0;
  while (auto c = sampler.next(ctx)) {
    for (std::size_t t = 0; t < c->frames.size(); ++t) {
      reader.seek_frame(c->frames[t]);
      CHECK(c->seconds[t] == reader.next()->seconds);
      after_change += c->frames[t] > 200;
      ++checked;
    }
  }
  CHECK(checked > 0);
  CHECK(after_change > 0);
}

// Parameters by kind, in any order, with the paper's defaults; one type per meaning.
static_assert(std::is_same_v<SequentialSampler<Stride<8>>, SequentialSampler<Frames<16>, Stride<8>>>);
static_assert(std::is_same_v<SequentialSampler<Stride<8>>, SequentialSampler<Hop<>, Stride<8>, Frames<16>>>);
static_assert(std::is_same_v<SequentialSampler<>, SequentialSampler<Frames<16>, Stride<1>, Hop<>>>);
static_assert(std::is_same_v<RandomSampler<Stride<4>, KeepOrder>, RandomSampler<SegmentSeconds<10>, Frames<16>, Stride<4>, KeepOrder>>);
static_assert(std::is_same_v<IIDSampler<Stride<4>, Frames<8>>, IIDSampler<Frames<8>, Stride<4>>>);
static_assert(std::is_same_v<IIDSampler<>, IIDSampler<Frames<16>, Stride<1>>>);
static_assert(std::is_same_v<ShuffleFrames, Shuffle<true>> && std::is_same_v<KeepOrder, Shuffle<false>>);
static_assert(
    std::is_same_v<MultiStream<SequentialSampler<Stride<8>>, Streams<4>>, MultiStream<Streams<4>, SequentialSampler<Frames<16>, Stride<8>>>>);
static_assert(std::is_same_v<MultiStream<Streams<4>>, MultiStream<Streams<4>, SequentialSampler<>>>);
static_assert(std::is_same_v<ReplayBuffer<SequentialSampler<>, Capacity<8>>, ReplayBuffer<Capacity<8>>>);
static_assert(std::is_same_v<TwoTierReplay<Fresh<2>, Seq42, Batch<4>, LongTerm<5>, ShortTerm<3>>, Storyboard42>);
static_assert(std::is_same_v<Dedup<MultiStream<Streams<2>, Seq42>, Batch<4>, Gap<10>>, DedupStreams42>);
static_assert(sizeof(SequentialSampler<Stride<8>>) == sizeof(SequentialSampler<Frames<16>, Stride<1>>));  // static: no storage

TEST_CASE("parameters in any order: the card's SequentialSampler<Stride<8>> is 16 frames 8 apart, back to back", "[sampler][params]") {
  const Lengths src({300, 200});
  SequentialSampler<Stride<8>> card({.seed = 5});
  SequentialSampler<Frames<16>, Stride<8>, Hop<128>> spelled_out({.seed = 5});
  SequentialSampler<Frames<dynamic>, Stride<dynamic>, Hop<dynamic>> dynamic_any_order(Stride<dynamic>{8}, Hop<dynamic>{0}, Frames<dynamic>{16},
                                                                                      SamplerOptions{.seed = 5});
  CHECK(card.frames() == 16);
  CHECK(card.stride() == 8);
  CHECK(card.hop() == 128);
  CHECK(card.span() == 121);
  ClipContext a(src, {.decode = false}), b(src, {.decode = false}), c(src, {.decode = false});
  const auto x = take(card, a, 100), y = take(spelled_out, b, 100), z = take(dynamic_any_order, c, 100);
  REQUIRE(x.size() == 2 + 1);  // 300 frames: clips at 0 and 128 (span 121); 200 frames: clip at 0
  REQUIRE(x.size() == y.size());
  REQUIRE(x.size() == z.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    CHECK(x[i].video == y[i].video);
    CHECK(x[i].frames == y[i].frames);
    CHECK(x[i].video == z[i].video);
    CHECK(x[i].frames == z[i].frames);
    for (std::size_t t = 1; t < x[i].frames.size(); ++t) CHECK(x[i].frames[t] - x[i].frames[t - 1] == 8);
  }
}

TEST_CASE("constructors take the dynamic parameters and the options in any order", "[sampler][params]") {
  using Dyn = SequentialSampler<Frames<dynamic>, Stride<dynamic>>;
  const Dyn positional(Frames<dynamic>{4}, Stride<dynamic>{3}, {.seed = 2, .epochs = 3});
  const Dyn swapped(Stride<dynamic>{3}, Frames<dynamic>{4}, {.seed = 2, .epochs = 3});
  const Dyn options_first(SamplerOptions{.seed = 2, .epochs = 3}, Stride<dynamic>{3}, Frames<dynamic>{4});
  for (const Dyn* s : {&positional, &swapped, &options_first}) {
    CHECK(s->frames() == 4);
    CHECK(s->stride() == 3);
    CHECK(s->options().seed == 2);
    CHECK(s->options().epochs == 3);
  }
  // Only the stride at run time: the frames keep their default.
  const SequentialSampler<Stride<dynamic>> only_stride(Stride<dynamic>{5});
  CHECK(only_stride.frames() == 16);
  CHECK(only_stride.stride() == 5);
  // A dynamic parameter must be given: no default for it.
  STATIC_REQUIRE_FALSE(std::is_constructible_v<Dyn, Stride<dynamic>>);
  STATIC_REQUIRE_FALSE(std::is_constructible_v<Dyn, Frames<dynamic>, Frames<dynamic>, Stride<dynamic>>);  // twice
  STATIC_REQUIRE_FALSE(std::is_constructible_v<Dyn, Frames<dynamic>, Stride<dynamic>, Hop<dynamic>>);     // not its parameter
  const RandomSampler<KeepOrder, Frames<dynamic>, SegmentSeconds<dynamic>> random(SegmentSeconds<dynamic>{2.5}, Frames<dynamic>{8},
                                                                                  SamplerOptions{.seed = 1});
  CHECK(random.frames() == 8);
  CHECK(random.stride() == 1);
  CHECK(random.segment_seconds() == 2.5);
  CHECK_FALSE(random.shuffles());
  CHECK(RandomSampler<>().shuffles());
  CHECK(RandomSampler<Shuffle<dynamic>>(Shuffle<dynamic>{false}).shuffles() == false);
  CHECK_THROWS_AS(Frames<dynamic>{0}, config_error);
  CHECK_THROWS_AS(Streams<dynamic>{0}, config_error);
  CHECK_THROWS_AS(Capacity<dynamic>{-1}, config_error);
}

TEST_CASE("MultiStream<Streams<B>> and ReplayBuffer<Capacity<C>>: counts as types, inner sampler in either order", "[sampler][params]") {
  const Lengths src({40, 40, 40, 40});
  MultiStream<Streams<2>> by_default;  // inner: SequentialSampler<>
  CHECK(by_default.streams() == 2);
  CHECK(by_default.stream(0).frames() == 16);
  using Seq = SequentialSampler<Frames<4>, Stride<2>>;
  MultiStream<Seq, Streams<2>> fixed(Seq({.seed = 1}));
  MultiStream<Streams<dynamic>, Seq> chosen(Seq({.seed = 1}), Streams<dynamic>{2});
  MultiStream<Streams<dynamic>, Seq> plain_number(2, Seq({.seed = 1}));
  ClipContext a(src, {.decode = false}), b(src, {.decode = false}), c(src, {.decode = false});
  const auto x = take(fixed, a, 100), y = take(chosen, b, 100), z = take(plain_number, c, 100);
  REQUIRE(x.size() == 4 * 5);
  REQUIRE(y.size() == x.size());
  REQUIRE(z.size() == x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    CHECK(x[i].video == y[i].video);
    CHECK(x[i].frames == y[i].frames);
    CHECK(x[i].video == z[i].video);
    CHECK(x[i].frames == z[i].frames);
  }
  ReplayBuffer<Capacity<3>> replay_default;
  CHECK(replay_default.capacity() == 3);
  ReplayBuffer<Seq, Capacity<dynamic>> replay(Seq({.seed = 1}), Capacity<dynamic>{3}, 7);
  ReplayBuffer<Capacity<3>, Seq> replay_static(Seq({.seed = 1}), 7);
  ClipContext d(src, {.decode = false}), e(src, {.decode = false});
  const auto r = take(replay, d, 100), rs = take(replay_static, e, 100);
  REQUIRE(r.size() == 4 * 5);
  REQUIRE(rs.size() == r.size());
  for (std::size_t i = 0; i < r.size(); ++i) CHECK(r[i].frames == rs[i].frames);
}
