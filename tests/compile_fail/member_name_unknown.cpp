// expected-error: this_name_is_not_a_member_listed_in_LONGFORM_REFLECT
// A key that names no member of a reflected struct (here a CLI flag's key with '-' for '_') does
// not compile: the flags of `longform pretrain` cannot drift from PretrainerOptions.
#include <longform/train/options.hpp>

int main() {
  constexpr longform::member_of<longform::PretrainerOptions> key = "grad-clip";
  (void)key;
}
