// SPDX-License-Identifier: MIT
/// @file
/// Procedural motion for the built-in benchmark: rectangles that slide, rotate, orbit, bounce or
/// pulse over a textured background, rendered in closed form from the frame number (so any frame
/// can be drawn without the ones before it, and seeking is exact).
///
/// Shared by the two halves of the benchmark, so that pre-training sees the motions the downstream
/// task asks about: `SyntheticStream` (long-form videos, several objects with random motions,
/// scene changes) and `SyntheticActions` (short clips, one actor whose motion is the class).
///
/// Appearance (size, aspect, colour, angle, position, background) is drawn independently of the
/// motion, so one frame says nothing about the motion: telling motions apart needs time.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <string_view>
#include <vector>

#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>

#include <longform/core/splitmix.hpp>

namespace longform {

/// How a synthetic object moves. The order is the class order of `SyntheticActions`.
enum class Motion : int {
  slide_right,       ///< constant velocity to the right, wrapping around the frame
  slide_left,        ///< ... to the left
  slide_up,          ///< ... upwards
  slide_down,        ///< ... downwards
  slide_right_fast,  ///< to the right at three times the speed: only speed tells it from `slide_right`
  rotate_cw,         ///< spins clockwise in place
  rotate_ccw,        ///< spins counter-clockwise in place
  orbit,             ///< circles counter-clockwise around a point
  bounce,            ///< falls and bounces back up (|sin|), as a ball under gravity
  pulse,             ///< grows and shrinks in place
};

/// Number of `Motion` values.
inline constexpr int motion_count = 10;

/// The snake_case name of a motion (`SyntheticActions` class names are its CamelCase form).
[[nodiscard]] constexpr std::string_view motion_name(Motion m) noexcept {
  constexpr std::array<std::string_view, motion_count> names{"SlideRight", "SlideLeft", "SlideUp", "SlideDown", "SlideRightFast",
                                                             "RotateCW",   "RotateCCW", "Orbit",   "Bounce",    "Pulse"};
  return names[static_cast<std::size_t>(m)];
}

/// One rectangle and its motion; lengths in pixels, angles in radians, time in frames.
struct MovingObject {
  Motion motion = Motion::slide_right;
  double cx = 0, cy = 0;          ///< centre at t = 0 (orbit, bounce: the centre of the path)
  double half_w = 4, half_h = 2;  ///< half extents before rotation
  double angle = 0;               ///< orientation at t = 0
  double speed = 1;               ///< px/frame (slides), rad/frame (rotation, orbit), cycles/frame · 2π (bounce, pulse)
  double radius = 0;              ///< orbit radius, bounce height
  double phase = 0;               ///< where on its cycle the object starts
  std::array<std::uint8_t, 3> color{255, 255, 255};
};

/// A still background: a vertical colour gradient with a few static blocks (clutter).
struct Background {
  std::array<double, 3> top{60, 60, 60}, bottom{90, 90, 90};
  struct Block {
    double x0, y0, x1, y1;
    std::array<std::uint8_t, 3> color;
  };
  std::vector<Block> blocks;
};

namespace detail {
// Euclidean modulo, so wrapped positions are continuous for negative velocities too.
inline double wrap(double x, double span) {
  const double r = std::fmod(x, span);
  return r < 0 ? r + span : r;
}
}  // namespace detail

/// A random background for a `width × height` frame.
[[nodiscard]] inline Background random_background(SplitMix64& rng, std::int64_t width, std::int64_t height) {
  Background bg;
  for (int c = 0; c < 3; ++c) {
    bg.top[static_cast<std::size_t>(c)] = rng.uniform(10, 110);
    bg.bottom[static_cast<std::size_t>(c)] = rng.uniform(10, 110);
  }
  const double w = static_cast<double>(width), h = static_cast<double>(height);
  const int blocks = 2 + static_cast<int>(rng() % 3);
  for (int i = 0; i < blocks; ++i) {
    const double bw = rng.uniform(0.1, 0.3) * w, bh = rng.uniform(0.1, 0.3) * h;
    const double x0 = rng.uniform(0, w - bw), y0 = rng.uniform(0, h - bh);
    Background::Block b{x0, y0, x0 + bw, y0 + bh, {}};
    for (auto& c : b.color) c = static_cast<std::uint8_t>(rng.uniform(30, 140));  // darker than the objects
    bg.blocks.push_back(b);
  }
  return bg;
}

/// A random object with motion `m` in a `width × height` frame: appearance independent of `m`,
/// speeds drawn from one range per family (so within a family only the direction differs).
[[nodiscard]] inline MovingObject random_object(SplitMix64& rng, Motion m, std::int64_t width, std::int64_t height) {
  const double w = static_cast<double>(width), h = static_cast<double>(height), side = std::min(w, h);
  MovingObject o;
  o.motion = m;
  o.half_w = rng.uniform(0.12, 0.2) * side;
  o.half_h = o.half_w * rng.uniform(0.3, 0.5);
  o.angle = rng.uniform(0, std::numbers::pi);
  o.cx = rng.uniform(0.3, 0.7) * w;
  o.cy = rng.uniform(0.3, 0.7) * h;
  o.phase = rng.uniform(0, 2 * std::numbers::pi);
  for (auto& c : o.color) c = static_cast<std::uint8_t>(rng.uniform(150, 256));
  switch (m) {
    case Motion::slide_right:
    case Motion::slide_left:
    case Motion::slide_up:
    case Motion::slide_down:
      o.cx = rng.uniform(0, w);  // wraps: anywhere
      o.cy = rng.uniform(0, h);
      o.speed = rng.uniform(0.02, 0.035) * side;
      break;
    case Motion::slide_right_fast:
      o.cx = rng.uniform(0, w);
      o.cy = rng.uniform(0, h);
      o.speed = 3 * rng.uniform(0.02, 0.035) * side;
      break;
    case Motion::rotate_cw:
    case Motion::rotate_ccw:
      o.speed = rng.uniform(0.12, 0.2);
      break;
    case Motion::orbit:
      o.speed = rng.uniform(0.12, 0.2);
      o.radius = rng.uniform(0.15, 0.22) * side;
      break;
    case Motion::bounce:
      o.speed = rng.uniform(0.06, 0.1);
      o.radius = rng.uniform(0.25, 0.35) * h;
      o.cy = rng.uniform(0.75, 0.85) * h;  // the floor
      break;
    case Motion::pulse:
      o.speed = rng.uniform(0.15, 0.25);
      break;
  }
  return o;
}

/// Where `o` is at frame `t`: centre, half extents and angle.
struct ObjectPose {
  double cx, cy, half_w, half_h, angle;
};

/// The closed-form pose of `o` at frame `t` in a `width × height` frame.
[[nodiscard]] inline ObjectPose pose_at(const MovingObject& o, double t, std::int64_t width, std::int64_t height) {
  const double w = static_cast<double>(width), h = static_cast<double>(height);
  // Slides wrap over the frame plus a margin, so the object leaves fully before it re-enters.
  const double mx = 2 * o.half_w, my = 2 * o.half_w;
  ObjectPose p{o.cx, o.cy, o.half_w, o.half_h, o.angle};
  switch (o.motion) {
    case Motion::slide_right:
    case Motion::slide_right_fast:
      p.cx = detail::wrap(o.cx + o.speed * t + mx, w + 2 * mx) - mx;
      break;
    case Motion::slide_left:
      p.cx = detail::wrap(o.cx - o.speed * t + mx, w + 2 * mx) - mx;
      break;
    case Motion::slide_down:
      p.cy = detail::wrap(o.cy + o.speed * t + my, h + 2 * my) - my;
      break;
    case Motion::slide_up:
      p.cy = detail::wrap(o.cy - o.speed * t + my, h + 2 * my) - my;
      break;
    case Motion::rotate_cw:
      p.angle = o.angle + o.speed * t;
      break;  // image y points down: + is clockwise on screen
    case Motion::rotate_ccw:
      p.angle = o.angle - o.speed * t;
      break;
    case Motion::orbit:
      p.cx = o.cx + o.radius * std::cos(o.phase - o.speed * t);
      p.cy = o.cy + o.radius * std::sin(o.phase - o.speed * t);
      break;
    case Motion::bounce:
      p.cy = o.cy - o.radius * std::fabs(std::sin(o.phase + o.speed * t));
      break;
    case Motion::pulse: {
      const double s = 1 + 0.45 * std::sin(o.phase + o.speed * t);
      p.half_w *= s;
      p.half_h *= s;
      break;
    }
  }
  return p;
}

/// Draws `background` then `objects` (in order, later ones on top) at frame `t` into a new
/// `uint8 [height, width, 3]` RGB tensor.
[[nodiscard]] inline at::Tensor render_motion(const Background& background, const std::vector<MovingObject>& objects, double t, std::int64_t width,
                                              std::int64_t height) {
  at::Tensor img = at::empty({height, width, 3}, at::kByte);
  auto* px = img.data_ptr<std::uint8_t>();
  for (std::int64_t y = 0; y < height; ++y) {
    const double g = (static_cast<double>(y) + 0.5) / static_cast<double>(height);
    std::uint8_t row[3];
    for (std::size_t c = 0; c < 3; ++c) row[c] = static_cast<std::uint8_t>(background.top[c] + (background.bottom[c] - background.top[c]) * g);
    for (std::int64_t x = 0; x < width; ++x) std::copy(row, row + 3, px + (y * width + x) * 3);
  }
  auto fill = [&](double x0, double y0, double x1, double y1, auto&& inside, const std::array<std::uint8_t, 3>& color) {
    const auto xa = std::max<std::int64_t>(0, static_cast<std::int64_t>(std::floor(x0)));
    const auto ya = std::max<std::int64_t>(0, static_cast<std::int64_t>(std::floor(y0)));
    const auto xb = std::min<std::int64_t>(width, static_cast<std::int64_t>(std::ceil(x1)));
    const auto yb = std::min<std::int64_t>(height, static_cast<std::int64_t>(std::ceil(y1)));
    for (std::int64_t y = ya; y < yb; ++y)
      for (std::int64_t x = xa; x < xb; ++x)
        if (inside(static_cast<double>(x) + 0.5, static_cast<double>(y) + 0.5)) std::copy(color.begin(), color.end(), px + (y * width + x) * 3);
  };
  for (const auto& b : background.blocks) fill(b.x0, b.y0, b.x1, b.y1, [](double, double) { return true; }, b.color);
  for (const auto& o : objects) {
    const ObjectPose p = pose_at(o, t, width, height);
    const double c = std::cos(p.angle), s = std::sin(p.angle), r = std::hypot(p.half_w, p.half_h);
    fill(
        p.cx - r, p.cy - r, p.cx + r, p.cy + r,
        [&](double x, double y) {
          const double dx = x - p.cx, dy = y - p.cy;
          return std::fabs(c * dx + s * dy) <= p.half_w && std::fabs(-s * dx + c * dy) <= p.half_h;
        },
        o.color);
  }
  return img;
}

}  // namespace longform
