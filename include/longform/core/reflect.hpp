// SPDX-License-Identifier: MIT
/// @file
/// Reflection: a struct's members and an enum's values, named once, next to their declaration.
/// Every `*Options` aggregate of the library is reflected, so one generic `to_json` / `from_json`
/// (core/json.hpp) reads and writes each of them, and command lines name their members safely.
///
///     namespace app { struct Probe { std::int64_t k = 20; double temperature = 0.07; }; }
///     LONGFORM_REFLECT(app::Probe, k, temperature);         // at global scope, after the struct
///
///     longform::for_each_member(probe, [](std::string_view name, auto& value) { ... });
///     longform::member_names<app::Probe>                      // {"k", "temperature"}
///     longform::member_of<app::Probe> key = "k";              // "kk" does not compile
///
///     namespace app { enum class Mode { fast, exact }; LONGFORM_REFLECT_ENUM(Mode, fast, exact) }
///     longform::enum_name(app::Mode::exact)                   // "exact"
///     longform::enum_from_name<app::Mode>("fast")             // throws config_error on "quick"
///
/// Customization: `LONGFORM_REFLECT(TYPE, members...)` at global scope (it is Boost.Hana's
/// `BOOST_HANA_ADAPT_STRUCT` plus the type's name, so Hana's algorithms see the struct too);
/// `LONGFORM_REFLECT_ENUM(ENUM, values...)` in the enum's own namespace (found by ADL).
#pragma once

#include <algorithm>
#include <array>
#include <concepts>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <boost/hana/accessors.hpp>
#include <boost/hana/adapt_struct.hpp>
#include <boost/hana/core/to.hpp>
#include <boost/hana/first.hpp>
#include <boost/hana/for_each.hpp>
#include <boost/hana/second.hpp>
#include <boost/hana/string.hpp>
#include <boost/hana/unpack.hpp>
#include <boost/preprocessor/seq/for_each.hpp>
#include <boost/preprocessor/stringize.hpp>
#include <boost/preprocessor/variadic/to_seq.hpp>

#include <longform/core/error.hpp>

namespace longform {

/// What `LONGFORM_REFLECT` records beside Hana's accessors: `name`, the type's name without its
/// namespaces. Empty for types that are not reflected.
template <class T>
struct reflection {};

/// A struct described by `LONGFORM_REFLECT`.
template <class T>
concept Reflected = requires {
  { reflection<T>::name } -> std::convertible_to<std::string_view>;
};

/// An enum described by `LONGFORM_REFLECT_ENUM`.
template <class E>
concept ReflectedEnum = std::is_enum_v<E> && requires(E e) { enum_names(e); };

namespace detail {
consteval std::string_view unqualified(std::string_view name) {
  const auto colons = name.rfind("::");
  return colons == std::string_view::npos ? name : name.substr(colons + 2);
}

/// "a, b, c": the accepted names an error lists.
template <class Names>
std::string joined(const Names& names) {
  std::string out;
  for (const auto& name : names) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}
}  // namespace detail

/// The struct's name as given to `LONGFORM_REFLECT`, without namespaces: "PretrainerOptions".
template <Reflected T>
inline constexpr std::string_view type_name = reflection<T>::name;

/// T's member names, in the order `LONGFORM_REFLECT` lists them.
template <Reflected T>
inline constexpr auto member_names = boost::hana::unpack(boost::hana::accessors<T>(), [](auto... member) {
  return std::array<std::string_view, sizeof...(member)>{std::string_view(boost::hana::to<const char*>(boost::hana::first(member)))...};
});

/// Calls `f(name, member)` for each reflected member of `value`, in order; `member` is a reference
/// into `value` (const when `value` is).
template <class T, class F>
  requires Reflected<std::remove_cvref_t<T>>
constexpr void for_each_member(T&& value, F&& f) {
  boost::hana::for_each(boost::hana::accessors<std::remove_cvref_t<T>>(), [&](auto member) {
    f(std::string_view(boost::hana::to<const char*>(boost::hana::first(member))), boost::hana::second(member)(value));
  });
}

namespace detail {
// Not constexpr: reached while compiling a `member_of`, it puts its name in the compiler's error.
inline void this_name_is_not_a_member_listed_in_LONGFORM_REFLECT() {}
}  // namespace detail

/// The name of one of T's members, checked when it is compiled: `member_of<PretrainerOptions>("lr")`
/// compiles, `member_of<PretrainerOptions>("lr_")` does not (a command line's keys cannot drift
/// from the struct they set).
template <Reflected T>
class member_of {
 public:
  // NOTE: implicit, so that a string literal converts where a member_of is expected.
  consteval member_of(const char* name) : name_(name) {  // NOLINT(google-explicit-constructor)
    if (std::find(member_names<T>.begin(), member_names<T>.end(), name_) == member_names<T>.end())
      detail::this_name_is_not_a_member_listed_in_LONGFORM_REFLECT();
  }
  [[nodiscard]] constexpr std::string_view name() const noexcept { return name_; }

 private:
  std::string_view name_;
};

/// The value's name as `LONGFORM_REFLECT_ENUM` lists it, e.g. "sgd"; empty for a value without one.
template <ReflectedEnum E>
[[nodiscard]] constexpr std::string_view enum_name(E value) noexcept {
  for (const auto& [e, name] : enum_names(E{}))
    if (e == value) return name;
  return {};
}

/// The value named `name`. @throws config_error naming the text and the accepted names.
template <ReflectedEnum E>
[[nodiscard]] E enum_from_name(std::string_view name) {
  constexpr auto names = enum_names(E{});
  for (const auto& [e, n] : names)
    if (n == name) return e;
  std::array<std::string_view, names.size()> accepted;
  std::transform(names.begin(), names.end(), accepted.begin(), [](const auto& entry) { return entry.second; });
  throw config_error("unknown value '" + std::string(name) + "' (accepted: " + detail::joined(accepted) + ")");
}

}  // namespace longform

/// Reflects the struct TYPE (fully qualified) over the listed members; at global scope.
#define LONGFORM_REFLECT(TYPE, ...)                                                \
  BOOST_HANA_ADAPT_STRUCT(TYPE, __VA_ARGS__);                                      \
  template <>                                                                      \
  struct longform::reflection<TYPE> {                                              \
    static constexpr std::string_view name = longform::detail::unqualified(#TYPE); \
  }

#define LONGFORM_DETAIL_ENUM_ENTRY(r, ENUM, value) std::pair{ENUM::value, std::string_view(BOOST_PP_STRINGIZE(value))},

/// Names the values of the enum ENUM (an `enum_names` overload found by ADL); in ENUM's namespace.
#define LONGFORM_REFLECT_ENUM(ENUM, ...)                                                                               \
  [[nodiscard]] constexpr auto enum_names(ENUM) noexcept {                                                             \
    return std::array{BOOST_PP_SEQ_FOR_EACH(LONGFORM_DETAIL_ENUM_ENTRY, ENUM, BOOST_PP_VARIADIC_TO_SEQ(__VA_ARGS__))}; \
  }
