// SPDX-License-Identifier: MIT
/// @file
/// `ColorJitter`: torchvision's `ColorJitter` made temporally consistent — brightness, contrast,
/// saturation and hue factors, and their random order, are drawn once per clip and applied to every
/// frame (the clip is one `(C, T·H, W)` image, as in SlowFast's `color_jitter_video_ssl`), with
/// probability `p` (MoCo v2: 0.8). Pixels are `float` in [0, 1]; `uint8` input is mapped there first.
///
/// Factors: brightness, contrast, saturation uniform in `[max(0, 1 − v), 1 + v]`, hue uniform in
/// `[−hue, hue]` (hue ≤ 0.5). Contrast blends with the mean grey level of the whole clip.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <numeric>

#include <ATen/core/Tensor.h>
#include <ATen/ops/stack.h>

#include <longform/core/splitmix.hpp>
#include <longform/transform/compose.hpp>
#include <longform/transform/concepts.hpp>

namespace longform {

namespace detail {
/// ITU-R 601 luma of `[…, 3, T, H, W]` RGB, keeping a channel dimension of size 1.
inline at::Tensor grey(const at::Tensor& rgb) {
  return rgb.select(-4, 0).mul(0.2989).add_(rgb.select(-4, 1), 0.587).add_(rgb.select(-4, 2), 0.114).unsqueeze(-4);
}
/// `a·f + b·(1 − f)`, clamped to [0, 1] (torchvision's `_blend`).
inline at::Tensor blend(const at::Tensor& a, const at::Tensor& b, double f) { return a.mul(f).add_(b, 1.0 - f).clamp_(0.0, 1.0); }

/// Hue rotation by `shift` (a fraction of the colour wheel), via HSV (torchvision's `adjust_hue`).
inline at::Tensor shift_hue(const at::Tensor& rgb, double shift) {
  const at::Tensor r = rgb.select(-4, 0), g = rgb.select(-4, 1), b = rgb.select(-4, 2);
  const at::Tensor maxc = r.maximum(g).maximum(b), minc = r.minimum(g).minimum(b);
  const at::Tensor flat = maxc.eq(minc);
  const at::Tensor range = maxc.sub(minc);
  const at::Tensor s = range.div(maxc.masked_fill(flat, 1.0));
  const at::Tensor divisor = range.masked_fill(flat, 1.0);
  const at::Tensor rc = maxc.sub(r).div_(divisor), gc = maxc.sub(g).div_(divisor), bc = maxc.sub(b).div_(divisor);
  const at::Tensor is_r = maxc.eq(r), is_g = maxc.eq(g).logical_and_(is_r.logical_not());
  const at::Tensor is_b = is_r.logical_not().logical_and_(maxc.ne(g));
  at::Tensor h = bc.sub(gc).mul_(is_r).add_(rc.sub(bc).add_(2.0).mul_(is_g)).add_(gc.sub(rc).add_(4.0).mul_(is_b));
  h = h.div_(6.0).add_(1.0).remainder_(1.0).add_(shift).remainder_(1.0);
  // HSV -> RGB: sector i of six, fraction f inside it.
  const at::Tensor v = maxc;
  const at::Tensor h6 = h.mul(6.0);
  const at::Tensor i = h6.floor();
  const at::Tensor f = h6.sub(i);
  const at::Tensor sector = i.remainder(6.0);
  const at::Tensor p = s.neg().add_(1.0).mul_(v).clamp_(0.0, 1.0);                          // v (1 - s)
  const at::Tensor q = s.mul(f).neg_().add_(1.0).mul_(v).clamp_(0.0, 1.0);                  // v (1 - s f)
  const at::Tensor t = s.mul(f.neg().add_(1.0)).neg_().add_(1.0).mul_(v).clamp_(0.0, 1.0);  // v (1 - s (1 - f))
  auto pick = [&](const at::Tensor& a0, const at::Tensor& a1, const at::Tensor& a2, const at::Tensor& a3, const at::Tensor& a4,
                  const at::Tensor& a5) {
    at::Tensor out = a0;
    out = a1.where(sector.eq(1.0), out);
    out = a2.where(sector.eq(2.0), out);
    out = a3.where(sector.eq(3.0), out);
    out = a4.where(sector.eq(4.0), out);
    return a5.where(sector.eq(5.0), out);
  };
  return at::stack({pick(v, q, p, p, t, v), pick(t, v, v, q, p, p), pick(p, p, t, v, v, q)}, -4);
}
}  // namespace detail

/// Temporally consistent colour jitter. Output `float` in [0, 1].
struct ColorJitter : transform_interface<ColorJitter> {
  double brightness = 0.4;
  double contrast = 0.4;
  double saturation = 0.4;
  double hue = 0.1;
  double p = 1.0;  ///< probability of jittering a clip at all
  std::uint64_t seed = 0;
  SplitMix64 rng{seed};  ///< the transform's own generator, seeded from `seed`

  /// The factors of one draw, in application order (for tests and logging).
  struct Draw {
    bool apply = false;
    std::array<int, 4> order{0, 1, 2, 3};  ///< 0 brightness, 1 contrast, 2 saturation, 3 hue
    double brightness = 1, contrast = 1, saturation = 1, hue = 0;
  };

  Draw draw() {
    Draw d;
    d.apply = rng.uniform() < p;
    detail::shuffle(d.order, rng);
    d.brightness = rng.uniform(std::max(0.0, 1 - brightness), 1 + brightness);
    d.contrast = rng.uniform(std::max(0.0, 1 - contrast), 1 + contrast);
    d.saturation = rng.uniform(std::max(0.0, 1 - saturation), 1 + saturation);
    d.hue = rng.uniform(-hue, hue);
    return d;
  }

  /// Applies the factors of `d` to every frame of `x`.
  static at::Tensor apply_draw(const at::Tensor& x, const Draw& d) {
    at::Tensor img = detail::as_float(x);
    if (!d.apply) return img;
    for (int op : d.order) {
      switch (op) {
        case 0:
          if (d.brightness != 1) img = img.mul(d.brightness).clamp_(0.0, 1.0);
          break;
        case 1:
          if (d.contrast != 1) img = detail::blend(img, detail::grey(img).mean(at::IntArrayRef{-4, -3, -2, -1}, /*keepdim=*/true), d.contrast);
          break;
        case 2:
          if (d.saturation != 1) img = detail::blend(img, detail::grey(img), d.saturation);
          break;
        default:
          if (d.hue != 0) img = detail::shift_hue(img, d.hue);
          break;
      }
    }
    return img;
  }

  at::Tensor apply(const at::Tensor& x) {
    detail::check_video(x, "longform::ColorJitter", /*rgb=*/true);
    TORCH_CHECK(brightness >= 0 && contrast >= 0 && saturation >= 0 && hue >= 0 && hue <= 0.5,
                "longform::ColorJitter: factors must be >= 0 and hue <= 0.5");
    return apply_draw(x, draw());
  }
};

static_assert(ClipTransform<ColorJitter>);

}  // namespace longform
