// SPDX-License-Identifier: MIT
// Conformance of the type-erased source and sampler (source/any_source.hpp, sampler/any_sampler.hpp):
// every optional ability of the wrapped reader survives (skip_to, seek_frame, stats(), frame
// timestamps), readers without them get the plain equivalents, and a wrapped sampler gives the
// clips, bytes and states of the unwrapped one through views::sample with one and two decode
// workers, restores, copies and shards as it does.
#include <cstdint>
#include <optional>
#include <vector>

#include <ATen/ops/equal.h>

#include <longform/core/error.hpp>
#include <longform/io/video_reader.hpp>
#include <longform/pipeline/sample.hpp>
#include <longform/sampler.hpp>
#include <longform/sampler/any_sampler.hpp>
#include <longform/source/any_source.hpp>
#include <longform/source/synthetic_video.hpp>
#include <longform/source/video_list.hpp>

#include "../support.hpp"

#include <catch2/catch.hpp>

using namespace longform;

namespace {

// Every clip of a pipeline, with its bytes and state.
template <class Src, class Sampler>
std::vector<Clip> clips_of(const Src& source, const Sampler& sampler, int workers, std::optional<SamplerState> resume = {}) {
  std::vector<Clip> out;
  for (Clip c : source | views::sample(sampler, {.resume = resume, .workers = workers, .chunk_frames = 200})) out.push_back(std::move(c));
  return out;
}

void require_same_clips(const std::vector<Clip>& a, const std::vector<Clip>& b) {
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    REQUIRE(a[i].video == b[i].video);
    REQUIRE(a[i].frames == b[i].frames);
    REQUIRE(a[i].resume == b[i].resume);
    REQUIRE(at::equal(a[i].data, b[i].data));
  }
}

void require_same_frame(const std::optional<Frame>& a, const std::optional<Frame>& b, std::int64_t index) {
  REQUIRE(a);
  REQUIRE(b);
  CHECK(a->index == index);
  CHECK(b->index == index);
  CHECK(a->pts == b->pts);
  CHECK(at::equal(a->rgb, b->rgb));
}

}  // namespace

static_assert(VideoSource<AnySource> && SeekableFrameReader<AnyReader>);
static_assert(ShardableSampler<AnySampler>);

TEST_CASE("AnySource: a VideoReader keeps skip_to, seek_frame, stats and frame timestamps", "[any][videos]") {
  const VideoList list({test::video("vtest_h264.mp4")}, {.threads = 1, .short_side = 64});
  const AnySource any(list);
  REQUIRE(any.size() == 1);
  CHECK(any.name(0) == list.name(0));
  CHECK_FALSE(any.forward_only());
  AnyReader wrapped = any.open(0);
  VideoReader plain = list.open(0);
  CHECK(wrapped.info().path == plain.info().path);
  CHECK(wrapped.seekable());
  CHECK(wrapped.frame_count() == plain.frame_count());
  REQUIRE(wrapped.frame_timestamps().size() > 100);
  CHECK(wrapped.frame_timestamps() == plain.frame_timestamps());
  wrapped.skip_to(40);
  plain.skip_to(40);
  require_same_frame(wrapped.next(), plain.next(), 40);
  wrapped.seek_frame(100);
  plain.seek_frame(100);
  require_same_frame(wrapped.next(), plain.next(), 100);
  // The wrapped reader's own counters: frames decoded (more than the two returned), seeks.
  CHECK(wrapped.stats().frames == plain.stats().frames);
  CHECK(wrapped.stats().frames > 2);
  CHECK(wrapped.stats().seeks == plain.stats().seeks);
  CHECK(wrapped.stats().seeks > 0);
}

TEST_CASE("AnySource: a reader without skip_to, stats or timestamps gets the plain equivalents", "[any]") {
  const SyntheticVideo video({.seed = 2, .frames = 30, .width = 32, .height = 24});
  const AnySource any(video);
  AnyReader wrapped = any.open(0);
  auto plain = video.open(0);
  CHECK(wrapped.frame_count() == 30);
  CHECK(wrapped.seekable());
  CHECK(wrapped.frame_timestamps().empty());
  wrapped.skip_to(7);  // by skipping
  plain.seek_frame(7);
  require_same_frame(wrapped.next(), plain.next(), 7);
  wrapped.seek_frame(20);
  plain.seek_frame(20);
  require_same_frame(wrapped.next(), plain.next(), 20);
  CHECK(wrapped.stats().frames == 2);  // the frames it returned
}

TEST_CASE("AnySampler: the same clips, bytes and states as the wrapped sampler, with 1 and 2 decode workers", "[any][videos]") {
  const VideoList one({test::video("vtest_h264.mp4")}, {.threads = 1, .short_side = 64});
  const AnySource any_source(one);
  const SequentialSampler<Frames<8>, Stride<4>> sequential({.seed = 1});
  const AnySampler any(sequential);
  const auto reference = clips_of(one, sequential, 1);
  REQUIRE(reference.size() > 20);
  for (const int w : {1, 2}) {
    INFO("W = " << w);
    require_same_clips(reference, clips_of(one, any, w));
    require_same_clips(reference, clips_of(any_source, any, w));  // both erased
  }
  // restore: the wrapped sampler's states, so either resumes the other's stream.
  const auto resumed = clips_of(one, any, 2, reference[9].resume);
  REQUIRE(resumed.size() == reference.size() - 10);
  require_same_clips(std::vector<Clip>(reference.begin() + 10, reference.end()), resumed);
  // A copy continues on its own from the same point.
  AnySampler copy = any;
  CHECK(copy.state() == any.state());
  CHECK(copy.state() == sequential.state());
}

TEST_CASE("AnySampler: copies fork the stream, shard follows the wrapped sampler", "[any]") {
  const SyntheticVideo video({.seed = 4, .videos = 4, .frames = 40, .width = 32, .height = 24});
  const SequentialSampler<Frames<4>, Stride<2>> sequential({.seed = 3});
  AnySampler any(sequential);
  ClipContext ctx(video, {.decode = false});
  REQUIRE(any.next(ctx));
  AnySampler fork = any;  // deep: advancing one leaves the other
  const auto a = any.next(ctx);
  const auto b = fork.next(ctx);
  REQUIRE(a);
  REQUIRE(b);
  CHECK(a->frames == b->frames);
  CHECK(any.state() == fork.state());
  // shard(b, n) of a ShardableSampler is the wrapped one's.
  REQUIRE(any.shardable());
  ClipContext c1(video, {.decode = false}), c2(video, {.decode = false});
  auto wrapped_shard = AnySampler(sequential).shard(1, 2);
  auto plain_shard = sequential.shard(1, 2);
  for (int i = 0; i < 5; ++i) {
    const auto x = wrapped_shard.next(c1);
    const auto y = plain_shard.next(c2);
    REQUIRE(x.has_value() == y.has_value());
    if (!x) break;
    CHECK(x->video == y->video);
    CHECK(x->frames == y->frames);
  }
  CHECK(wrapped_shard.state() == plain_shard.state());
  // A sampler that cannot be sharded says so.
  const AnySampler replay{ReplayBuffer<Capacity<4>, SequentialSampler<Frames<4>>>{}};
  CHECK_FALSE(replay.shardable());
  CHECK_THROWS_AS(replay.shard(0, 2), config_error);
}
