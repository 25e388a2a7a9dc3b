// SPDX-License-Identifier: MIT
// Conformance of the type-erased objective (objective/any_objective.hpp): the protocol reaches the
// wrapped objective, its generator is the one it draws from (so checkpoints restore its draws),
// MoCo's key gather is called, and an objective without either still trains as it would unwrapped.
#include <cmath>
#include <functional>

#include <ATen/ops/allclose.h>
#include <ATen/ops/equal.h>

#include <longform/objective.hpp>
#include <longform/train/pretrainer.hpp>

#include "../train/tiny_objective.hpp"
#include "common.hpp"

#include "../catch.hpp"

using namespace longform;

static_assert(SslObjective<AnyObjective>);
static_assert(ObjectiveWithGenerator<AnyObjective> && ObjectiveWithKeyGather<AnyObjective>);

TEST_CASE("AnyObjective: the wrapped objective's module, parameters, loss and generator", "[objective][any]") {
  test::NextFrame wrapped({.seed = 11});
  AnyObjective any(wrapped);  // copies share the network and the generator, as with module holders
  CHECK(&any.module() == &wrapped.module());
  const auto params = any.parameters();
  REQUIRE(params.size() == wrapped.parameters().size());
  for (std::size_t i = 0; i < params.size(); ++i) CHECK(params[i].is_same(wrapped.parameters()[i]));
  any.module().train(false);
  CHECK_FALSE(wrapped.module().is_training());
  any.module().train(true);
  // The generator it shows is the one the objective draws its noise from: restoring its state
  // repeats the draw, whichever handle the loss is computed through.
  CHECK(any.generator() == wrapped.generator());
  const ClipBatch batch = test::synthetic_batch(2, 0, 4, 16);
  const at::Tensor state = any.generator().get_state();
  const at::Tensor through_any = any.loss(batch);
  any.generator().set_state(state);
  const at::Tensor through_wrapped = wrapped.loss(batch);
  CHECK(at::equal(through_any, through_wrapped));
  // after_step reaches it: the loss average it keeps moves.
  const at::Tensor before = wrapped.net()->ema_loss.clone();
  any.after_step();
  CHECK_FALSE(at::equal(before, wrapped.net()->ema_loss));
  // It has no key gather: setting one changes nothing.
  any.set_key_gather([](const at::Tensor& t) { return t; });
}

TEST_CASE("AnyObjective: MoCo's keys go through the key gather; its generator is the wrapper's own", "[objective][any]") {
  MoCo<X3D> moco(MoCoOptions{.dim = 8, .mlp_hidden = 16, .queue_size = 8}, X3D(test::tiny_x3d(X3DOutput::features)));
  AnyObjective any(moco);
  int gathered = 0;
  any.set_key_gather([&](const at::Tensor& keys) {
    ++gathered;
    return keys;
  });
  const ClipBatch batch = test::synthetic_batch(4);
  const at::Tensor loss = any.loss(batch);
  CHECK(loss.dim() == 0);
  CHECK(std::isfinite(loss.item<double>()));
  loss.backward();
  any.after_step();
  CHECK(gathered == 1);  // the step's keys, on their way into the queue
  // MoCo draws from seeds of its own options, not a generator: the wrapper's is defined, and
  // nothing draws from it.
  const at::Tensor state = any.generator().get_state();
  (void)any.loss(batch);
  CHECK(at::equal(state, any.generator().get_state()));
}
