// SPDX-License-Identifier: MIT
/// @file
/// Strict JSON for every reflected struct (core/reflect.hpp), on nlohmann-json. Members are written
/// in declaration order; reading sets the members present and keeps the others, and refuses a key
/// that names no member (listing the accepted ones) or a value of the wrong type (naming the member).
///
///     std::string text = longform::to_json(PretrainerOptions{.steps = 10});  // {"steps":10,"batch":8,...}
///     auto o = longform::from_json<PretrainerOptions>(nlohmann::json::parse(text));
///     nlohmann::json j = o;                                                 // nlohmann's conversions too
///     longform::from_json(nlohmann::json{{"lr", "x"}}, o);
///     // json_error: PretrainerOptions::lr: expected a number, got "x"
///
/// Member types: bool, integers (range-checked), floating point, `std::string`,
/// `std::filesystem::path`, reflected enums (as their names), `std::array` (of its exact size),
/// `std::vector`, `std::map<std::string, T>`, `std::optional` (null when empty),
/// `std::chrono::duration` (a count of its ticks: milliseconds for `std::chrono::milliseconds`),
/// reflected structs (nested objects), JSON values as they are, and types with `str()` that are
/// constructible from that text (`c10::Device`).
///
/// Customization: reflect the struct (`LONGFORM_REFLECT`); there is nothing to write per type.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include <longform/core/error.hpp>
#include <longform/core/reflect.hpp>

namespace longform {

/// JSON that does not fit what it is read into. `what()` names the member and the value, e.g.
/// `PretrainerOptions::lr: expected a number, got "x"`, or the key nothing has, with the accepted ones.
struct json_error : config_error {
  using config_error::config_error;
};

namespace detail {

template <class J>
concept JsonValue = nlohmann::detail::is_basic_json<J>::value;

template <class T>
inline constexpr bool is_std_array = false;
template <class T, std::size_t N>
inline constexpr bool is_std_array<std::array<T, N>> = true;
template <class T>
inline constexpr bool is_std_vector = false;
template <class T, class A>
inline constexpr bool is_std_vector<std::vector<T, A>> = true;
template <class T>
inline constexpr bool is_std_optional = false;
template <class T>
inline constexpr bool is_std_optional<std::optional<T>> = true;
template <class T>
inline constexpr bool is_string_map = false;
template <class T, class C, class A>
inline constexpr bool is_string_map<std::map<std::string, T, C, A>> = true;
template <class T>
inline constexpr bool is_duration = false;
template <class R, class P>
inline constexpr bool is_duration<std::chrono::duration<R, P>> = true;

/// A value written as its text and read back from it (`c10::Device`).
template <class T>
concept TextValue = !std::is_arithmetic_v<T> && requires(const T& v, const std::string& s) {
  { v.str() } -> std::convertible_to<std::string>;
  T(s);
};

template <class T>
inline constexpr bool always_false = false;

// The offending value, shortened: error messages stay one line.
template <JsonValue J>
std::string shown(const J& j) {
  std::string text = j.dump();
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}

[[noreturn]] inline void refuse(const std::string& where, const std::string& expected, const std::string& got) {
  throw json_error(where + ": expected " + expected + ", got " + got);
}

template <JsonValue J, class T>
void write_value(J& j, const T& v) {
  if constexpr (Reflected<T>) {
    j = J::object();
    for_each_member(v, [&](std::string_view name, const auto& member) { write_value(j[std::string(name)], member); });
  } else if constexpr (ReflectedEnum<T>) {
    j = std::string(enum_name(v));
  } else if constexpr (is_std_array<T> || is_std_vector<T>) {
    j = J::array();
    for (const auto& e : v) write_value(j.emplace_back(), e);
  } else if constexpr (is_string_map<T>) {
    j = J::object();
    for (const auto& [key, e] : v) write_value(j[key], e);
  } else if constexpr (is_std_optional<T>) {
    if (v)
      write_value(j, *v);
    else
      j = nullptr;
  } else if constexpr (is_duration<T>) {
    j = v.count();
  } else if constexpr (std::is_same_v<T, std::filesystem::path>) {
    j = v.string();
  } else if constexpr (TextValue<T>) {
    j = std::string(v.str());
  } else {
    j = v;  // numbers, booleans, strings, JSON
  }
}

template <JsonValue J, Reflected... T>
void read_object(const J& j, const std::string& where, T&... targets);

template <JsonValue J, class T>
void read_value(const J& j, T& v, const std::string& where) {
  if constexpr (Reflected<T>) {
    read_object(j, where, v);
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!j.is_boolean()) refuse(where, "true or false", shown(j));
    v = j.template get<bool>();
  } else if constexpr (std::is_integral_v<T>) {
    const std::string range =
        sizeof(T) == 8 ? (std::is_signed_v<T> ? "an integer" : "an integer >= 0")
                       : "an integer from " + std::to_string(std::numeric_limits<T>::min()) + " to " + std::to_string(std::numeric_limits<T>::max());
    if (!j.is_number_integer()) refuse(where, range, shown(j));
    const bool fits = j.is_number_unsigned() ? std::in_range<T>(j.template get<std::uint64_t>()) : std::in_range<T>(j.template get<std::int64_t>());
    if (!fits) refuse(where, range, shown(j));
    v = j.template get<T>();
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!j.is_number()) refuse(where, "a number", shown(j));
    v = j.template get<T>();
  } else if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, std::filesystem::path>) {
    if (!j.is_string()) refuse(where, "a string", shown(j));
    v = j.template get<std::string>();
  } else if constexpr (ReflectedEnum<T>) {
    constexpr auto names = enum_names(T{});
    std::array<std::string_view, names.size()> accepted;
    for (std::size_t i = 0; i < names.size(); ++i) accepted[i] = names[i].second;
    const std::string expected = "one of " + joined(accepted);
    if (!j.is_string()) refuse(where, expected, shown(j));
    for (const auto& [e, name] : names) {
      if (name == j.template get_ref<const std::string&>()) {
        v = e;
        return;
      }
    }
    refuse(where, expected, shown(j));
  } else if constexpr (is_std_array<T>) {
    if (!j.is_array() || j.size() != v.size()) refuse(where, "an array of " + std::to_string(v.size()), shown(j));
    for (std::size_t i = 0; i < v.size(); ++i) read_value(j[i], v[i], where + "[" + std::to_string(i) + "]");
  } else if constexpr (is_std_vector<T>) {
    if (!j.is_array()) refuse(where, "an array", shown(j));
    T read(j.size());
    for (std::size_t i = 0; i < read.size(); ++i) read_value(j[i], read[i], where + "[" + std::to_string(i) + "]");
    v = std::move(read);
  } else if constexpr (is_string_map<T>) {
    if (!j.is_object()) refuse(where, "an object", shown(j));
    T read;
    for (const auto& [key, e] : j.items()) read_value(e, read[key], where + "." + key);
    v = std::move(read);
  } else if constexpr (is_std_optional<T>) {
    if (j.is_null()) {
      v.reset();
    } else {
      typename T::value_type read{};
      read_value(j, read, where);
      v = std::move(read);
    }
  } else if constexpr (is_duration<T>) {
    typename T::rep count{};
    read_value(j, count, where);
    v = T(count);
  } else if constexpr (JsonValue<T>) {
    v = j;
  } else if constexpr (TextValue<T>) {
    if (!j.is_string()) refuse(where, "a string", shown(j));
    try {
      v = T(j.template get<std::string>());
    } catch (const std::exception&) {
      refuse(where, "a valid value", shown(j));
    }
  } else {
    static_assert(always_false<T>, "longform: this member type has no JSON form (see core/json.hpp for those that do)");
  }
}

// Reads the member named `key` of the first target that has one; false if none has. A member is
// named by its path ("VideoMAEOptions::decoder::depth") when there is one target, else by its
// struct ("PretrainerOptions::lr").
template <JsonValue J, class T, class... Rest>
bool read_member(const std::string& key, const J& j, const std::string& where, bool one_target, T& target, Rest&... rest) {
  bool found = false;
  for_each_member(target, [&](std::string_view name, auto& member) {
    if (found || name != key) return;
    read_value(j, member, (one_target ? where : std::string(type_name<T>)) + "::" + key);
    found = true;
  });
  if constexpr (sizeof...(Rest) > 0) {
    if (!found) return read_member(key, j, where, one_target, rest...);
  }
  return found;
}

template <JsonValue J, Reflected... T>
void read_object(const J& j, const std::string& where, T&... targets) {
  if (!j.is_object()) refuse(where, "an object", shown(j));
  for (const auto& [key, value] : j.items()) {
    if (read_member(key, value, where, sizeof...(T) == 1, targets...)) continue;
    std::vector<std::string_view> accepted;
    (accepted.insert(accepted.end(), member_names<T>.begin(), member_names<T>.end()), ...);
    throw json_error("unknown key '" + key + "' in " + where + " (accepted: " + joined(accepted) + ")");
  }
}

}  // namespace detail

/// Sets the members `j` has, strictly; all or none of them.
/// @throws json_error naming an unknown key (with the accepted ones) or a member of the wrong type.
template <Reflected T>
void from_json(const nlohmann::json& j, T& value) {
  T read = value;
  detail::read_object(j, std::string(type_name<T>), read);
  value = std::move(read);
}

/// The struct as one line of JSON text, members in declaration order (logs, checkpoints).
template <Reflected T>
[[nodiscard]] std::string to_json(const T& value) {
  nlohmann::ordered_json j;
  detail::write_value(j, value);
  return j.dump();
}

/// A T with the members `j` has and defaults for the others. @throws json_error as `from_json(j, value)`.
template <Reflected T>
[[nodiscard]] T from_json(const nlohmann::json& j) {
  T value{};
  from_json(j, value);
  return value;
}

/// Sets members of several reflected structs from one JSON object: each key goes to the first
/// target with a member of that name (a command's own arguments beside a library's options); all
/// or none of them.
/// @param where how an error names the object, e.g. `"pretrain"`.
/// @throws json_error naming a key no target has (with every accepted key) or a member of the wrong type.
template <Reflected... T>
void from_json_into(const nlohmann::json& j, const std::string& where, T&... targets) {
  std::tuple<T...> read(targets...);  // all or nothing: the targets change only when every key fits
  std::apply([&](T&... copies) { detail::read_object(j, where, copies...); }, read);
  std::tie(targets...) = std::move(read);
}

}  // namespace longform

/// nlohmann-json's conversions of every reflected struct, in whatever namespace it is declared:
/// `nlohmann::json j = options;`, `j.get<PretrainerOptions>()` (strict, as `longform::from_json`).
namespace nlohmann {
template <longform::Reflected T>
struct adl_serializer<T, void> {
  template <class J>
  static void to_json(J& j, const T& value) {
    longform::detail::write_value(j, value);
  }
  static void from_json(const nlohmann::json& j, T& value) { longform::from_json(j, value); }
};
}  // namespace nlohmann
