// SPDX-License-Identifier: MIT
// The clip pipeline: source | sample | transform | batch | prefetch — shapes and provenance,
// exact resume from a batch, errors raised on the producer thread, early stop without hanging,
// telemetry, and the thread budget.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include <sys/resource.h>

#include <ATen/Parallel.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/allclose.h>
#include <ATen/ops/equal.h>

#include <range/v3/view/take.hpp>

#include <longform/core/retain_memory.hpp>
#include <longform/pipeline.hpp>
#include <longform/sampler.hpp>
#include <longform/source/synthetic_video.hpp>
#include <longform/source/video_list.hpp>
#include <longform/transform.hpp>

#include "../support.hpp"

#undef CHECK  // c10's glog-style CHECK (abort) must not shadow Catch's
#include <catch2/catch.hpp>

using namespace longform;

namespace {

// A synthetic source whose reader fails while decoding frame `fail_at` of video `fail_video`,
// remembering the thread it failed on.
struct FailingReader {
  SyntheticReader inner;
  std::int64_t fail_at;
  std::atomic<std::thread::id>* failed_on;
  const VideoInfo& info() const { return inner.info(); }
  std::optional<Frame> next() {
    auto f = inner.next();
    if (f && f->index == fail_at) {
      *failed_on = std::this_thread::get_id();
      throw decode_error(inner.info().path, "decode frame " + std::to_string(fail_at), "invalid data found when processing input");
    }
    return f;
  }
};
struct FailingSource {
  using source_concept = source_tag;
  SyntheticVideo synthetic;
  std::size_t fail_video;
  std::int64_t fail_at;
  std::atomic<std::thread::id>* failed_on;
  std::size_t size() const { return synthetic.size(); }
  std::string name(std::size_t i) const { return synthetic.name(i); }
  FailingReader open(std::size_t i) const { return {synthetic.open(i), i == fail_video ? fail_at : -1, failed_on}; }
};
static_assert(VideoSource<FailingSource>);

}  // namespace

TEST_CASE("pipeline: sample | transform | batch | prefetch yields [B, C, T, H, W] batches in sampler order", "[pipeline]") {
  const SyntheticVideo source({.seed = 3, .videos = 3, .frames = 100, .width = 80, .height = 60});
  auto telemetry = std::make_shared<Telemetry>();
  using Sampler = SequentialSampler<Frames<4>, Stride<2>>;
  auto batches = source | views::sample(Sampler({.seed = 1}), {.context = {.telemetry = telemetry}}) |
                 views::transform(CenterCrop{48} | Standardize{}) | views::batch(5) | views::prefetch(2, telemetry);
  // The same clips without the pipeline: what the sampler alone returns.
  Sampler reference({.seed = 1});
  ClipContext ctx(source);
  std::size_t clips = 0, n_batches = 0;
  for (const ClipBatch& b : batches) {
    ++n_batches;
    REQUIRE(b.data.dim() == 5);
    REQUIRE(b.data.size(1) == 3);
    REQUIRE(b.data.size(2) == 4);
    REQUIRE(b.data.size(3) == 48);
    REQUIRE(b.data.scalar_type() == at::kFloat);
    REQUIRE(b.data.size(0) == static_cast<std::int64_t>(b.clips.size()));
    for (std::size_t i = 0; i < b.clips.size(); ++i) {
      const Clip expected = *reference.next(ctx);
      REQUIRE(b.clips[i].video == expected.video);
      REQUIRE(b.clips[i].frames == expected.frames);
      REQUIRE(at::equal(b.data[static_cast<std::int64_t>(i)], Standardize{}(CenterCrop{48}(expected.data))));
      ++clips;
    }
    REQUIRE(b.resume == b.clips.back().resume);
  }
  REQUIRE(reference.next(ctx) == std::nullopt);
  CHECK(clips == 3 * 12);  // 100 frames, 8-frame clips back to back: 12 per video
  CHECK(n_batches == 8);   // 36 / 5 -> 7 full + 1 partial
  CHECK(telemetry->frames_used == 36 * 4);
  CHECK(telemetry->amplification() == Approx(2.0).epsilon(0.05));
  CHECK(telemetry->produced == 8);
  CHECK(telemetry->seeks == 0);
}

TEST_CASE("pipeline: restoring a batch's resume state continues with the next clip", "[pipeline][resume]") {
  const SyntheticVideo source({.seed = 4, .videos = 4, .frames = 60, .width = 32, .height = 24});
  using Sampler = MultiStream<Streams<2>, SequentialSampler<Frames<3>, Stride<3>>>;
  const Sampler fresh(SequentialSampler<Frames<3>, Stride<3>>({.seed = 8, .epochs = 0}));
  std::vector<ClipBatch> first;
  for (auto&& b : source | views::sample(fresh) | views::batch(2) | views::prefetch(3) | ranges::views::take(7)) first.push_back(b);
  REQUIRE(first.size() == 7);
  // Resume from batch 3 in a new pipeline: batches 4, 5, 6 again.
  std::size_t k = 4;
  for (auto&& b : source | views::sample(fresh, {.resume = first[3].resume}) | views::batch(2) | ranges::views::take(3)) {
    REQUIRE(b.clips.size() == 2);
    for (std::size_t i = 0; i < 2; ++i) {
      REQUIRE(b.clips[i].video == first[k].clips[i].video);
      REQUIRE(b.clips[i].frames == first[k].clips[i].frames);
    }
    REQUIRE(at::equal(b.data, first[k].data));
    ++k;
  }
  CHECK(k == 7);
}

TEST_CASE("prefetch: a decode error raised on the producer thread reaches the consumer, after the clips before it", "[pipeline][errors]") {
  std::atomic<std::thread::id> failed_on{};
  const FailingSource source{SyntheticVideo({.videos = 1, .frames = 100, .width = 32, .height = 24}), 0, 45, &failed_on};
  auto clips = source | views::sample(SequentialSampler<Frames<4>, Stride<2>>{}) | views::prefetch(4);
  std::vector<std::int64_t> starts;
  try {
    for (const Clip& c : clips) starts.push_back(c.frames.front());
    FAIL("no exception reached the consumer");
  } catch (const decode_error& e) {
    CHECK(std::string(e.what()).find("synthetic:0/0") != std::string::npos);
    CHECK(e.operation() == "decode frame 45");
  }
  CHECK(failed_on.load() != std::this_thread::get_id());         // it really was raised on another thread
  CHECK(starts == std::vector<std::int64_t>{0, 8, 16, 24, 32});  // clips 0..39 arrived first
}

TEST_CASE("prefetch: a file that is not a video fails with an open_error naming it", "[pipeline][errors]") {
  const auto dir = test::scratch("pipeline-not-a-video");
  const auto bogus = (dir / "notes.mp4").string();
  std::ofstream(bogus) << "this is not a video\n";
  const VideoList list({bogus});
  auto first_clip = [&] {
    auto clips = list | views::sample(SequentialSampler<Frames<4>>{}) | views::prefetch(2);
    for (const Clip& c : clips) return c;
    return Clip{};
  };
  REQUIRE_THROWS_AS(first_clip(), open_error);
  REQUIRE_THROWS_WITH(first_clip(), Catch::Contains("notes.mp4"));
}

TEST_CASE("prefetch: breaking out early stops the producer without hanging", "[pipeline][shutdown]") {
  // An endless stream: only the consumer's break can end it.
  auto run = [] {
    const SyntheticVideo source({.videos = 2, .frames = 200, .width = 64, .height = 48});
    auto telemetry = std::make_shared<Telemetry>();
    {
      auto batches = source | views::sample(SequentialSampler<Frames<4>>({.epochs = 0}), {.context = {.telemetry = telemetry}}) |
                     views::transform(Standardize{}) | views::batch(2) | views::prefetch(3);
      int seen = 0;
      for (const ClipBatch& b : batches) {
        (void)b;
        if (++seen == 2) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // let the producer fill the queue and block
    }  // the view dies here: stop + join
    return telemetry->clips.load();
  };
  auto done = std::async(std::launch::async, run);
  REQUIRE(done.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
  const auto produced = done.get();
  CHECK(produced >= 4);
  CHECK(produced <= 4 + 2 * (3 + 1) + 2);  // bounded: queue depth plus the batch in flight
}

TEST_CASE("prefetch: the consumer's waiting time is measured", "[pipeline][telemetry]") {
  const SyntheticVideo source({.videos = 1, .frames = 64, .width = 32, .height = 24});
  auto telemetry = std::make_shared<Telemetry>();
  struct Slow : transform_interface<Slow> {
    at::Tensor apply(const at::Tensor& x) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      return x;
    }
  };
  auto clips = source | views::sample(SequentialSampler<Frames<4>>{}) | views::transform(Slow{}) | views::prefetch(1, telemetry);
  std::int64_t n = 0;
  for (const Clip& c : clips) n += c.data.size(1) > 0;
  CHECK(n == 16);
  CHECK(telemetry->wait_seconds() > 16 * 0.015);  // the producer is the bottleneck: the consumer waits
}

TEST_CASE("thread budget: decoding and the model may each use every core, no reader oversubscribes", "[pipeline][threads]") {
  const auto b = ThreadBudget::plan(16, 1);
  CHECK(b.producers == 1);
  CHECK(b.workers == 16);
  CHECK(b.decoder == 1);  // the workers decode in parallel, one FFmpeg thread each
  CHECK(b.intra_op == 16);
  CHECK(b.decoder_for_one_reader() == 8);
  const auto small = ThreadBudget::plan(2, 1);
  CHECK(small.workers == 2);
  CHECK(small.intra_op == 2);
  CHECK(small.decoder_for_one_reader() == 2);
  const int before = at::get_num_threads();
  ThreadBudget::plan(3, 1).apply();
  CHECK(at::get_num_threads() == 3);
  at::set_num_threads(before);
}

TEST_CASE("retain_freed_memory: freed activations are reused, not faulted in again", "[pipeline][memory]") {
  auto faults = [] {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return u.ru_minflt;
  };
  // A chain of elementwise ops on a video-sized tensor, as a forward pass: 73.5 MiB outputs, each
  // freed when the next one is made. Above the largest values glibc's dynamic mmap (32 MiB) and
  // trim (64 MiB) thresholds reach, so by default each is a fresh mmap whatever the tests before
  // this one allocated and freed (with 8 MiB outputs, the run before could make it 0 faults).
  auto touch = [] {
    at::Tensor x = at::ones({1, 24, 16, 224, 224});
    for (int i = 0; i < 8; ++i) x = x.mul(0.5).add(1).sigmoid();
    return x.sum().item<double>();
  };
  auto faults_of_touch = [&] {  // per pass, over 4 passes
    const auto before = faults();
    for (int i = 0; i < 4; ++i) touch();
    return (faults() - before) / 4;
  };
  touch();
  const auto by_default = faults_of_touch();  // glibc: a fresh mmap each time
  REQUIRE(retain_freed_memory());
  touch();  // the first block from the heap is faulted in once
  const auto retained = faults_of_touch();
  INFO("page faults per pass: " << by_default << " by default, " << retained << " retained");
  CHECK(by_default > 1000);
  CHECK(retained < by_default / 2);
}

namespace {

// Every clip a pipeline gives: its video, frames, bytes and sampler state.
template <class Sampler>
std::vector<Clip> all_clips(const VideoList& source, const Sampler& sampler, int workers, std::optional<SamplerState> resume = {},
                            std::shared_ptr<Telemetry> telemetry = nullptr) {
  std::vector<Clip> out;
  for (Clip c : source | views::sample(sampler, {.context = {.telemetry = telemetry}, .resume = resume, .workers = workers, .chunk_frames = 200})) {
    out.push_back(std::move(c));
  }
  return out;
}

void require_same(const std::vector<Clip>& a, const std::vector<Clip>& b, std::size_t offset = 0) {
  REQUIRE(a.size() == b.size() + offset);
  for (std::size_t i = 0; i < b.size(); ++i) {
    const Clip& x = a[i + offset];
    const Clip& y = b[i];
    REQUIRE(x.video == y.video);
    REQUIRE(x.frames == y.frames);
    REQUIRE(x.seconds == y.seconds);
    REQUIRE(x.resume == y.resume);
    REQUIRE(at::equal(x.data, y.data));
  }
}

}  // namespace

TEST_CASE("decode workers give the same clips, bytes and states in the same order for W = 1, 2, 4", "[pipeline][workers][videos]") {
  // One long video with B-frames (sequential: W segments of it at once), and a list (random clips).
  const VideoList one({test::video("vtest_h264.mp4")}, {.threads = 1, .short_side = 64});
  const VideoList list({test::video("tree_h264.mp4"), test::video("vfr_h264.mkv"), test::video("diver_h264.mp4")}, {.threads = 1, .short_side = 64});
  const SequentialSampler<Frames<8>, Stride<4>> sequential({.seed = 1});
  const RandomSampler<SegmentSeconds<4>, Frames<8>, Stride<2>> random({.seed = 3});
  const auto reference = all_clips(one, sequential, 1);
  const auto reference_random = all_clips(list, random, 1);
  REQUIRE(reference.size() > 20);
  for (const int w : {2, 4}) {
    INFO("W = " << w);
    auto telemetry = std::make_shared<Telemetry>();
    require_same(reference, all_clips(one, sequential, w, {}, telemetry));
    CHECK(telemetry->clips == static_cast<std::int64_t>(reference.size()));
    CHECK(telemetry->seeks > 0);  // the workers' segments start by seeking
    require_same(reference_random, all_clips(list, random, w));
  }
}

TEST_CASE("a run checkpointed with one W resumes with another onto the same clips", "[pipeline][workers][videos]") {
  const VideoList one({test::video("vtest_h264.mp4")}, {.threads = 1, .short_side = 64});
  const SequentialSampler<Frames<8>, Stride<2>> sampler({.seed = 5});
  const auto with_four = all_clips(one, sampler, 4);
  const auto with_one = all_clips(one, sampler, 1);
  REQUIRE(with_four.size() > 12);
  require_same(with_four, all_clips(one, sampler, 1, with_four[9].resume), 10);
  require_same(with_one, all_clips(one, sampler, 4, with_one[4].resume), 5);
}

TEST_CASE("decode workers: replayed and held-back clips are the same for W = 1 and 2, and resume across W", "[pipeline][workers][videos]") {
  // With one thread the sampler decodes, keeps held-back clips decoded and seeks back for replays;
  // with workers it sees indices only and the workers decode. The clips must not tell.
  using Story = TwoTierReplay<ShortTerm<4>, LongTerm<16>, Batch<4>, Fresh<2>, SequentialSampler<Frames<8>, Stride<4>>>;
  const VideoList one({test::video("vtest_h264.mp4")}, {.threads = 1, .short_side = 64});
  const Dedup<Gap<40>, Batch<4>, Story> sampler(Story(SequentialSampler<Frames<8>, Stride<4>>({.seed = 2}), TwoTierReplayOptions{.seed = 3}));
  const auto with_one = all_clips(one, sampler, 1);
  REQUIRE(with_one.size() > 30);
  require_same(with_one, all_clips(one, sampler, 2));
  require_same(with_one, all_clips(one, sampler, 2, with_one[9].resume), 10);
  require_same(with_one, all_clips(one, sampler, 1, with_one[17].resume), 18);
}

TEST_CASE("decode workers prepare clips where they decode them, to the same floats for W = 1, 2, 4", "[pipeline][workers][videos]") {
  const VideoList one({test::video("vtest_h264.mp4")}, {.threads = 1, .short_side = 64});
  const SequentialSampler<Frames<8>, Stride<4>> sampler({.seed = 2});
  const auto prepare = CenterCrop{48} | Standardize{};
  auto prepared = [&](int workers) {
    std::vector<Clip> out;
    for (Clip c : one | views::sample(sampler, {.workers = workers, .chunk_frames = 200}, prepare)) out.push_back(std::move(c));
    return out;
  };
  // The reference: prepared downstream, on the consumer's thread, after one thread decoded.
  std::vector<Clip> reference;
  for (Clip c : one | views::sample(sampler) | views::transform(prepare)) reference.push_back(std::move(c));
  REQUIRE(reference.size() > 20);
  REQUIRE(reference.front().data.scalar_type() == at::kFloat);
  REQUIRE(reference.front().data.sizes() == at::IntArrayRef{3, 8, 48, 48});
  for (const int w : {1, 2, 4}) {
    INFO("W = " << w);
    const auto got = prepared(w);
    REQUIRE(got.size() == reference.size());
    for (std::size_t i = 0; i < reference.size(); ++i) {
      REQUIRE(got[i].frames == reference[i].frames);
      REQUIRE(at::allclose(got[i].data, reference[i].data, 1e-5, 1e-5));  // reductions may split differently
    }
    if (w > 1) require_same(prepared(1), got);  // bit for bit across W
  }
  static_assert(!DeterministicTransform<RandomResizedCrop>, "random draws would follow the workers' order");
  static_assert(!DeterministicTransform<decltype(CenterCrop{48} | HorizontalFlip{})>);
  static_assert(DeterministicTransform<std::remove_cvref_t<decltype(prepare)>>);
}

namespace {
// This process's resident memory now, in bytes (Linux `VmRSS`).
double resident_bytes() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) * 1024;
  }
  return 0;
}
}  // namespace

TEST_CASE("decode workers stay within the stated bound when the consumer stops reading", "[pipeline][workers][videos][memory]") {
  // 8 times the video (6360 frames): sampled without a bound, the workers would hold every clip.
  const std::vector<std::string> names(8, test::video("vtest_h264.mp4"));
  const VideoList long_list(names, {.threads = 1, .short_side = 112});
  constexpr int W = 4;
  constexpr std::int64_t chunk_frames = 64, T = 8, tau = 4, span = (T - 1) * tau + 1;
  const auto prepare = CenterCrop{112} | Standardize{};
  auto telemetry = std::make_shared<Telemetry>();
  const double before = resident_bytes();
  auto clips = long_list | views::sample(SequentialSampler<Frames<T>, Stride<tau>>({.seed = 0}),
                                         {.context = {.telemetry = telemetry}, .workers = W, .chunk_frames = chunk_frames}, prepare);
  auto it = clips.begin();
  REQUIRE((*it).data.sizes() == at::IntArrayRef{3, T, 112, 112});
  // The consumer holds one clip and stops; the workers fill the window and go idle.
  std::int64_t decoded = -1;
  while (decoded != telemetry->clips.load()) {
    decoded = telemetry->clips.load();
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
  }
  // The bound (SampleOptions::workers): 2·W chunks of clips, each chunk spanning at most chunk_frames.
  const std::int64_t clips_per_chunk = std::max<std::int64_t>(1, chunk_frames / span);
  CHECK(decoded - 1 <= 2 * W * clips_per_chunk);
  // In bytes: those clips as decoded (uint8 at 112×149) and prepared (float 112²), plus each
  // worker's reader: FFmpeg's pool of up to 20 frames at the coded 768×576 in 4:2:0. Slack for the
  // allocator's per-thread arenas.
  const double clip_bytes = static_cast<double>(T) * 3 * 112 * (149 + 4 * 112);
  const double reader_bytes = 20 * 768 * 576 * 1.5;
  const double bound = 2 * W * clips_per_chunk * clip_bytes + W * reader_bytes + 64.0 * (1 << 20);
  const double grown = resident_bytes() - before;
  INFO("grown " << grown / (1 << 20) << " MiB, bound " << bound / (1 << 20) << " MiB, all clips would be "
                << static_cast<double>(names.size() * 795 / (T * tau)) * clip_bytes / (1 << 20) << " MiB");
  CHECK(grown <= bound);
}

TEST_CASE("decode workers stop early without hanging and pass errors on in order", "[pipeline][workers][videos]") {
  const VideoList one({test::video("vtest_h264.mp4")}, {.threads = 1, .short_side = 64});
  {
    auto clips = one | views::sample(SequentialSampler<Frames<8>, Stride<4>>({.seed = 0}), {.workers = 3});
    int n = 0;
    for (const Clip& c : clips) {
      REQUIRE(c.data.defined());
      if (++n == 3) break;  // the workers are joined when the view goes
    }
    CHECK(n == 3);
  }
  const VideoList missing({test::video("vtest_h264.mp4"), test::scratch("none").string() + "/missing.mp4"}, {.threads = 1});
  auto telemetry = std::make_shared<Telemetry>();
  std::int64_t clips = 0;
  for (const Clip& c :
       missing | views::sample(SequentialSampler<Frames<4>, Stride<8>>({.seed = 0}), {.context = {.telemetry = telemetry}, .workers = 2})) {
    clips += c.data.defined();
  }
  CHECK(clips > 0);
  CHECK(telemetry->videos_skipped == 1);
}
