// SPDX-License-Identifier: MIT
// Catch2 for test TUs. Include it *after* every longform/ATen header: c10's logging header
// defines a glog-style CHECK macro that would otherwise replace Catch's CHECK.
#pragma once

#undef CHECK
#include <catch2/catch.hpp>
