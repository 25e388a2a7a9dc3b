// SPDX-License-Identifier: MIT
/// @file
/// `Distill<Teacher, Student>`: label-free knowledge distillation as an `SslObjective`: a frozen
/// teacher, loaded from a checkpoint, supervises a student trained from scratch on the same clips.
///
/// Available here: `DistillOptions`, `distillation_kl`, `feature_cosine`, `DistillImpl`, the
/// holder `Distill<Teacher, Student>`.
/// When to use: online pre-training of a student from a fixed Kinetics-trained teacher (e.g.
/// X3D-M with PyTorchVideo's weights) on unlabeled long videos.
///
/// Loss: `T² · KL(softmax(z_t / T) ‖ softmax(z_s / T))`, the KL summed over classes and averaged
/// over the batch (`F.kl_div(..., reduction="batchmean")`; the `T²` keeps gradient magnitudes
/// comparable across temperatures, Hinton et al.), plus optionally
/// `feature_weight · mean(1 − cos(h_s, h_t))` on the pooled features of both networks
/// (`forward_features`, as X3D has; the widths must match).
///
/// The teacher: every parameter has `requires_grad = false`, it is not in `parameters()`, it runs
/// under no-grad, and it stays in eval mode — `train(true)` on the root module (as a Pretrainer
/// does) is overridden to keep it there, so its BatchNorm statistics never move either. It is a
/// submodule (`teacher.*`) so checkpoints are self-contained.
#pragma once

#include <longform/backbone/concepts.hpp>
#include <longform/backbone/weights.hpp>
#include <longform/backbone/x3d.hpp>
#include <longform/core/clip.hpp>
#include <longform/core/error.hpp>
#include <longform/core/reflect.hpp>
#include <longform/objective/concepts.hpp>
#include <longform/objective/detail/holder.hpp>

#include <ATen/ops/cosine_similarity.h>
#include <ATen/ops/log_softmax.h>
#include <ATen/ops/softmax.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace longform {

/// Hyper-parameters of `Distill`.
struct DistillOptions {
  double temperature = 4.0;     ///< T softening both distributions
  double feature_weight = 0.0;  ///< weight of the feature cosine term; 0 disables it
  std::string teacher;          ///< checkpoint of the teacher (e.g. `X3D_M.pyth`); empty: the teacher's weights as given
};

/// Throws `config_error` naming the first invalid field of `o`.
inline void validate(const DistillOptions& o) {
  if (!(o.temperature > 0)) throw config_error("longform::DistillOptions: temperature must be > 0 (was " + std::to_string(o.temperature) + ")");
  if (!(o.feature_weight >= 0))
    throw config_error("longform::DistillOptions: feature_weight must be >= 0 (was " + std::to_string(o.feature_weight) + ")");
}

/// `T² · KL(softmax(teacher/T) ‖ softmax(student/T))`, summed over classes, mean over the batch
/// (`[N, C]` logits each; no gradient flows into `teacher`).
inline at::Tensor distillation_kl(const at::Tensor& student, const at::Tensor& teacher, double temperature) {
  TORCH_CHECK(student.dim() == 2 && student.sizes() == teacher.sizes(),
              "longform::distillation_kl: student and teacher logits must both be [N, C], got ", student.sizes(), " and ", teacher.sizes());
  const auto log_p_s = at::log_softmax(student.div(temperature), 1);
  const auto log_p_t = at::log_softmax(teacher.detach().to(student.scalar_type()).div(temperature), 1);
  const auto kl = (log_p_t.exp() * (log_p_t - log_p_s)).sum(1).mean();
  return kl.mul(temperature * temperature);
}

/// `mean(1 − cos(student_i, teacher_i))` over the rows of `[N, D]` features (no gradient into `teacher`).
inline at::Tensor feature_cosine(const at::Tensor& student, const at::Tensor& teacher) {
  TORCH_CHECK(student.dim() == 2 && student.sizes() == teacher.sizes(),
              "longform::feature_cosine: student and teacher features must both be [N, D], got ", student.sizes(), " and ", teacher.sizes());
  return (1.0 - at::cosine_similarity(student, teacher.detach().to(student.scalar_type()), 1, 1e-8)).mean();
}

namespace detail {
template <class M>
concept has_forward_features = requires(M& m, const at::Tensor& x) {
  { m.forward_features(x) } -> std::same_as<at::Tensor>;
};
}  // namespace detail

/// The distillation module: `teacher` (frozen) and `student` (trained).
/// @tparam Teacher a `Backbone` module holder (`X3D`, ...), outputs the targets
/// @tparam Student a `Backbone` module holder with outputs of the teacher's width
template <Backbone Teacher = X3D, Backbone Student = Teacher>
class DistillImpl : public torch::nn::Module {
  static_assert(
      requires { typename Teacher::ContainedType; } && requires { typename Student::ContainedType; },
      "longform::Distill<Teacher, Student>: both must be module holders such as longform::X3D");

 public:
  using TeacherImpl = backbone_impl_t<Teacher>;
  using StudentImpl = backbone_impl_t<Student>;

  /// Default-built networks (X3D-M logits for `X3D`); the teacher is loaded from `options.teacher`.
  explicit DistillImpl(DistillOptions options = {}) : DistillImpl(std::move(options), Teacher(), Student()) {}

  /// `teacher` (loaded from `options.teacher` when set, then frozen) supervises `student`.
  DistillImpl(DistillOptions options, Teacher teacher_net, Student student_net) : options_(std::move(options)) {
    validate(options_);
    if (!options_.teacher.empty()) load_checkpoint(*teacher_net, options_.teacher);  // throws naming the file
    if (options_.feature_weight > 0 && !(detail::has_forward_features<TeacherImpl> && detail::has_forward_features<StudentImpl>))
      throw config_error("longform::Distill: feature_weight > 0 needs forward_features() on teacher and student");
    teacher = this->register_module("teacher", teacher_net.ptr());
    student = this->register_module("student", student_net.ptr());
    for (auto& p : teacher->parameters()) p.set_requires_grad(false);
    teacher->eval();
  }

  /// Keeps the teacher in eval mode whatever the root is set to (file comment).
  void train(bool on = true) override {
    torch::nn::Module::train(on);
    teacher->eval();
  }

  /// The distillation loss of one batch (file comment).
  at::Tensor loss(const ClipBatch& batch) {
    const auto& x = batch.data;
    if (!x.defined() || x.dim() != 5 || !at::isFloatingType(x.scalar_type()))
      throw config_error("longform::Distill::loss: batch.data must be float [B, C, T, H, W], got " +
                         (x.defined() ? detail::shape_string(x.sizes()) : std::string("undefined")));
    teacher->eval();  // NOTE: also guards against `teacher->train()` called directly on the submodule
    at::Tensor z_t, h_t;
    {
      at::NoGradGuard no_grad;
      z_t = teacher->forward(x);
      if constexpr (detail::has_forward_features<TeacherImpl>)
        if (options_.feature_weight > 0) h_t = teacher->forward_features(x);
    }
    const auto z_s = student->forward(x);
    if (z_s.sizes() != z_t.sizes())
      throw config_error("longform::Distill::loss: student outputs " + detail::shape_string(z_s.sizes()) + " but teacher outputs " +
                         detail::shape_string(z_t.sizes()));
    auto l = distillation_kl(z_s, z_t, options_.temperature);
    if constexpr (detail::has_forward_features<StudentImpl>)
      if (options_.feature_weight > 0) l = l + options_.feature_weight * feature_cosine(student->forward_features(x), h_t);
    return l;
  }

  /// The student's parameters (never the teacher's).
  std::vector<at::Tensor> trainable_parameters() const { return student->parameters(); }

  /// Nothing to do after a step: the teacher is fixed.
  void after_step() {}

  /// The options the objective was built with.
  [[nodiscard]] const DistillOptions& options() const noexcept { return options_; }

  torch::nn::ModuleHolder<TeacherImpl> teacher{nullptr};  ///< frozen, eval mode
  torch::nn::ModuleHolder<StudentImpl> student{nullptr};  ///< trained

 private:
  DistillOptions options_;
};

/// `Distill<Teacher, Student>`: the objective (an `SslObjective`), a holder of
/// `DistillImpl<Teacher, Student>`; its parameters are the student's.
///
///   longform::Distill<longform::X3D> kd(longform::DistillOptions{.teacher = "X3D_M.pyth"});
template <Backbone Teacher = X3D, Backbone Student = Teacher>
class Distill : public detail::ObjectiveHolder<DistillImpl<Teacher, Student>> {
 public:
  using detail::ObjectiveHolder<DistillImpl<Teacher, Student>>::ObjectiveHolder;
};

static_assert(SslObjective<Distill<X3D>>);

}  // namespace longform

LONGFORM_REFLECT(longform::DistillOptions, temperature, feature_weight, teacher);
