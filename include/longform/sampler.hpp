// SPDX-License-Identifier: MIT
/// @file
/// The sampler family. Available samplers and when to use them:
///
/// 1. `SequentialSampler<Frames<T>, Stride<τ>, Hop<h>>` — the paper's sequential clips: an online
///    stream through whole videos, forward decoding only. Online pre-training at batch size 1.
/// 2. `RandomSampler<SegmentSeconds<10>, Frames<T>, Stride<τ>, ShuffleFrames>` — the paper's random
///    clips: random 10-s segment, T frames with stride τ, shuffled. The offline baseline; seeks.
/// 3. `MultiStream<Streams<B>, Sampler>` — B sequential streams over B different videos,
///    round-robin: online pre-training at batch size B without random access.
/// 4. `ReplayBuffer<Capacity<C>, Sampler>` — a shuffle buffer of decoded clips over a sequential
///    stream: decorrelates consecutive clips at the cost of C clips of memory.
/// 5. `IIDSampler<Frames<T>, Stride<τ>>` — the i.i.d. reference: clips uniformly over every clip
///    start of the whole source, a shuffled epoch at a time, frames in order. Seeks.
/// 6. `TwoTierReplay<ShortTerm<S>, LongTerm<L>, Batch<B>, Fresh<F>, Sampler>` — replay with reuse
///    (Memory Storyboard): F stream clips per batch of B, the rest drawn again from a FIFO of the
///    last S clips and a reservoir of L older ones, kept as indices and decoded again.
/// 7. `Dedup<Gap<G>, Batch<B>, Sampler>` — no two clips of a batch within G frames in one video:
///    holds back clips that would be, over a source that mixes videos (3, 6).
///
/// Parameters go in any order and each has a default (`SequentialSampler<Stride<8>>`: 16 frames
/// 8 apart, back to back); the counts of 3 to 6 are required. Every parameter has a static form
/// (`Stride<4>`) and a run-time twin (`Stride<dynamic>{4}`), given to the constructor in any order.
#pragma once

#include <longform/sampler/any_sampler.hpp>
#include <longform/sampler/concepts.hpp>
#include <longform/sampler/context.hpp>
#include <longform/sampler/dedup.hpp>
#include <longform/sampler/iid.hpp>
#include <longform/sampler/multistream.hpp>
#include <longform/sampler/params.hpp>
#include <longform/sampler/random.hpp>
#include <longform/sampler/replay_buffer.hpp>
#include <longform/sampler/sequential.hpp>
#include <longform/sampler/two_tier_replay.hpp>
