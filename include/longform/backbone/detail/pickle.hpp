// SPDX-License-Identifier: MIT
/// @file
/// A restricted reader and a minimal writer for Python `torch.save` checkpoints (zip + pickle).
///
/// Why not `torch::pickle_load`: LibTorch's unpickler turns `collections.OrderedDict` into `None`
/// (it only expects one as a tensor's empty backward-hooks argument), so every Python
/// `state_dict()` fails to load with "Expected GenericDict but got None". And `torch::pickle_save`
/// tags dicts with `torch.jit._pickle.restore_type_tag`, which Python's default
/// `torch.load(weights_only=True)` rejects. Both directions are therefore done here:
///   - the reader understands the opcodes of protocols 2-5 and builds tensors from the zip's
///     storages; it never runs code: a global it does not know becomes an inert `object` value
///     (so `argparse.Namespace` or optimizer state in a training checkpoint is skipped, not run);
///   - the writer emits what Python's `torch.save` emits for a tree of dicts (`OrderedDict` for
///     state dicts), lists, tuples, strings, numbers and tensors (`_rebuild_tensor_v2` calls over
///     typed storages), which `weights_only` loading accepts.
///
/// Hostile input (checkpoints are untrusted): every failure is a `std::runtime_error` or a
/// `c10::Error`. A storage must be exactly as large as its record, which may not exceed the
/// archive (nothing is allocated on a file's word); a pickle that builds a cycle (a list holding
/// itself, a leak of reference-counted values) or nests deeper than `max_depth` is refused.
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <c10/util/Exception.h>
#include <caffe2/serialize/file_adapter.h>
#include <caffe2/serialize/in_memory_adapter.h>
#include <caffe2/serialize/inline_container.h>
#include <caffe2/serialize/read_adapter_interface.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace longform::detail::pickle {

static_assert(std::endian::native == std::endian::little, "torch.save checkpoints are read as little-endian");

struct Value;
/// Pickle values are shared: the memo and containers refer to the same object, as in Python.
using ValuePtr = std::shared_ptr<Value>;

/// A Python value as far as a checkpoint needs one.
struct Value {
  /// What the value is.
  enum class Kind { none, boolean, integer, real, string, bytes, tuple, list, dict, tensor, global, object };
  Kind kind = Kind::none;                              ///< the type
  std::int64_t integer = 0;                            ///< `boolean`, `integer`
  double real = 0.0;                                   ///< `real`
  std::string text;                                    ///< `string`, `bytes`; "module.name" of a `global`/`object`
  std::vector<ValuePtr> items;                         ///< `tuple`, `list` (also sets)
  std::vector<std::pair<ValuePtr, ValuePtr>> entries;  ///< `dict` in insertion order
  bool ordered = false;                                ///< `dict`: a `collections.OrderedDict` (a state dict)
  at::Tensor tensor;                                   ///< `tensor` (a storage is a 1-D tensor too)
};

/// Makes a value of `kind`.
inline ValuePtr make(Value::Kind kind) {
  auto v = std::make_shared<Value>();
  v->kind = kind;
  return v;
}

/// The nesting limit of a pickle read: a checkpoint nests a few levels, a hostile pickle millions
/// (whose recursive destruction would overflow the stack).
inline constexpr std::size_t max_depth = 1000;

/// The dtype of a typed-storage class (`torch.FloatStorage` ...); `Undefined` if not one.
inline at::ScalarType storage_dtype(std::string_view name) {
  static const std::map<std::string_view, at::ScalarType> table{{"torch.FloatStorage", at::kFloat},
                                                                {"torch.DoubleStorage", at::kDouble},
                                                                {"torch.HalfStorage", at::kHalf},
                                                                {"torch.BFloat16Storage", at::kBFloat16},
                                                                {"torch.LongStorage", at::kLong},
                                                                {"torch.IntStorage", at::kInt},
                                                                {"torch.ShortStorage", at::kShort},
                                                                {"torch.CharStorage", at::kChar},
                                                                {"torch.ByteStorage", at::kByte},
                                                                {"torch.BoolStorage", at::kBool},
                                                                {"torch.ComplexFloatStorage", at::kComplexFloat},
                                                                {"torch.ComplexDoubleStorage", at::kComplexDouble},
                                                                {"torch.UntypedStorage", at::kByte},
                                                                {"torch.storage.UntypedStorage", at::kByte}};
  auto it = table.find(name);
  return it == table.end() ? at::ScalarType::Undefined : it->second;
}

/// The typed-storage class name of `dtype` (the inverse of `storage_dtype`).
inline std::string storage_class(at::ScalarType dtype) {
  switch (dtype) {
    case at::kFloat:
      return "FloatStorage";
    case at::kDouble:
      return "DoubleStorage";
    case at::kHalf:
      return "HalfStorage";
    case at::kBFloat16:
      return "BFloat16Storage";
    case at::kLong:
      return "LongStorage";
    case at::kInt:
      return "IntStorage";
    case at::kShort:
      return "ShortStorage";
    case at::kChar:
      return "CharStorage";
    case at::kByte:
      return "ByteStorage";
    case at::kBool:
      return "BoolStorage";
    default:
      TORCH_CHECK(false, "cannot save tensors of dtype ", dtype, " in a torch.save checkpoint");
  }
}

/// Reads one pickle program. Storages are fetched through `load_storage(key, dtype, numel)`.
class Unpickler {
 public:
  /// Loader of the zip record `data/<key>` as a 1-D tensor of `numel` elements.
  using StorageLoader = std::function<at::Tensor(const std::string& key, at::ScalarType dtype, std::int64_t numel)>;

  /// Parses `program`; `load_storage` resolves persistent ids.
  Unpickler(std::string_view program, StorageLoader load_storage) : in_(program), load_storage_(std::move(load_storage)) {}

  /// Runs the program to `STOP` and returns the top of the stack. Throws `std::runtime_error`
  /// (or `c10::Error` from a tensor view that does not fit its storage).
  ValuePtr run() {
    try {
      auto root = execute();
      check_graph();
      containers_.clear();
      return root;
    } catch (...) {
      // Break every reference between values, so that a cycle is not leaked and a deep chain is
      // freed one value at a time (`containers_` keeps each alive until all links are cut).
      for (auto& v : containers_) {
        v->items.clear();
        v->entries.clear();
      }
      containers_.clear();
      stack_.clear();
      memo_.clear();
      throw;
    }
  }

 private:
  ValuePtr execute() {
    for (;;) {
      const auto op = static_cast<unsigned char>(read(1)[0]);
      switch (op) {
        case 0x80:
          read(1);
          break;  // PROTO
        case 0x95:
          read(8);
          break;  // FRAME (length only matters for streaming)
        case '.':
          return pop();  // STOP
        case '(':
          marks_.push_back(stack_.size());
          break;  // MARK
        case '0':
          pop();
          break;  // POP
        case '1':
          pop_mark();
          break;  // POP_MARK
        case '2':
          stack_.push_back(top());
          break;  // DUP
        case 'N':
          push(make(Value::Kind::none));
          break;
        case 0x88:
          push_bool(true);
          break;  // NEWTRUE
        case 0x89:
          push_bool(false);
          break;  // NEWFALSE
        case 'J':
          push_int(read_le<std::int32_t>());
          break;  // BININT
        case 'K':
          push_int(read_le<std::uint8_t>());
          break;  // BININT1
        case 'M':
          push_int(read_le<std::uint16_t>());
          break;  // BININT2
        case 0x8a:
          push_long(read_le<std::uint8_t>());
          break;  // LONG1
        case 0x8b:
          push_long(read_le<std::int32_t>());
          break;  // LONG4
        case 'G':
          push_double();
          break;  // BINFLOAT
        case 'X':
          push_text(Value::Kind::string, read_le<std::uint32_t>());
          break;  // BINUNICODE
        case 0x8c:
          push_text(Value::Kind::string, read_le<std::uint8_t>());
          break;  // SHORT_BINUNICODE
        case 0x8d:
          push_text(Value::Kind::string, read_le<std::uint64_t>());
          break;  // BINUNICODE8
        case 'T':
          push_text(Value::Kind::string, read_le<std::uint32_t>());
          break;  // BINSTRING
        case 'U':
          push_text(Value::Kind::string, read_le<std::uint8_t>());
          break;  // SHORT_BINSTRING
        case 'B':
          push_text(Value::Kind::bytes, read_le<std::uint32_t>());
          break;  // BINBYTES
        case 'C':
          push_text(Value::Kind::bytes, read_le<std::uint8_t>());
          break;  // SHORT_BINBYTES
        case 0x8e:
          push_text(Value::Kind::bytes, read_le<std::uint64_t>());
          break;  // BINBYTES8
        case ')':
          push(make(Value::Kind::tuple));
          break;  // EMPTY_TUPLE
        case 't':
          push_sequence(Value::Kind::tuple, pop_mark());
          break;  // TUPLE
        case 0x85:
          push_tuple(1);
          break;  // TUPLE1
        case 0x86:
          push_tuple(2);
          break;  // TUPLE2
        case 0x87:
          push_tuple(3);
          break;  // TUPLE3
        case ']':
          push(make(Value::Kind::list));
          break;  // EMPTY_LIST
        case 0x8f:
          push(make(Value::Kind::list));
          break;  // EMPTY_SET (kept as a list)
        case 'l':
          push_sequence(Value::Kind::list, pop_mark());
          break;  // LIST
        case 0x91:
          push_sequence(Value::Kind::list, pop_mark());
          break;     // FROZENSET
        case 'a': {  // APPEND
          auto v = pop();
          top()->items.push_back(std::move(v));
          break;
        }
        case 'e':
        case 0x90: {  // APPENDS, ADDITEMS
          auto items = pop_mark();
          auto& target = top()->items;
          target.insert(target.end(), items.begin(), items.end());
          break;
        }
        case '}':
          push(make(Value::Kind::dict));
          break;     // EMPTY_DICT
        case 'd': {  // DICT
          auto items = pop_mark();
          auto d = make(Value::Kind::dict);
          for (std::size_t i = 0; i + 1 < items.size(); i += 2) d->entries.emplace_back(items[i], items[i + 1]);
          push(d);
          break;
        }
        case 's': {  // SETITEM
          auto v = pop();
          auto k = pop();
          set_item(top(), std::move(k), std::move(v));
          break;
        }
        case 'u': {  // SETITEMS
          auto items = pop_mark();
          auto d = top();
          for (std::size_t i = 0; i + 1 < items.size(); i += 2) set_item(d, items[i], items[i + 1]);
          break;
        }
        case 'q':
          memo_[read_le<std::uint8_t>()] = top();
          break;  // BINPUT
        case 'r':
          memo_[read_le<std::uint32_t>()] = top();
          break;  // LONG_BINPUT
        case 0x94:
          memo_[memo_.size()] = top();
          break;  // MEMOIZE
        case 'h':
          push(memo(read_le<std::uint8_t>()));
          break;  // BINGET
        case 'j':
          push(memo(read_le<std::uint32_t>()));
          break;     // LONG_BINGET
        case 'c': {  // GLOBAL "module\nname\n"
          auto module = read_line();
          push_global(module + "." + read_line());
          break;
        }
        case 0x93: {  // STACK_GLOBAL
          auto name = pop();
          auto module = pop();
          push_global(module->text + "." + name->text);
          break;
        }
        case 'R': {  // REDUCE
          auto args = pop();
          auto callable = pop();
          push(reduce(*callable, *args));
          break;
        }
        case 0x81: {  // NEWOBJ
          auto args = pop();
          auto cls = pop();
          push(reduce(*cls, *args));
          break;
        }
        case 0x92: {  // NEWOBJ_EX
          pop();      // kwargs
          auto args = pop();
          auto cls = pop();
          push(reduce(*cls, *args));
          break;
        }
        case 'b':
          pop();
          break;  // BUILD: object state (e.g. a state_dict's `_metadata`) is not needed
        case 'Q':
          push(persistent_load(*pop()));
          break;  // BINPERSID
        default:
          fail("unsupported pickle opcode 0x" + hex(op));
      }
    }
  }

  // Every value made: no cycle, nesting at most `max_depth` (heights memoized: shared values
  // are visited once, so a DAG of many shared references costs its size, not its paths).
  void check_graph() {
    std::unordered_map<const Value*, std::size_t> height;  // finished values
    std::unordered_set<const Value*> open;                 // on the current path
    struct Frame {
      const Value* v;
      std::size_t next;
      std::size_t h;
    };
    auto child = [](const Value& v, std::size_t i) -> const Value* {
      if (i < v.items.size()) return v.items[i].get();
      i -= v.items.size();
      return i % 2 == 0 ? v.entries[i / 2].first.get() : v.entries[i / 2].second.get();
    };
    std::vector<Frame> path;
    for (const auto& start : containers_) {
      if (height.contains(start.get())) continue;
      path.push_back({start.get(), 0, 1});
      open.insert(start.get());
      while (!path.empty()) {
        const Value* v = path.back().v;
        if (path.back().next < v->items.size() + 2 * v->entries.size()) {
          const Value* c = child(*v, path.back().next++);
          if (open.contains(c)) fail("a value holds itself (cyclic pickle)");
          if (auto it = height.find(c); it != height.end()) {
            path.back().h = std::max(path.back().h, it->second + 1);
            continue;
          }
          open.insert(c);
          path.push_back({c, 0, 1});
          continue;
        }
        const std::size_t h = path.back().h;
        if (h > max_depth) fail("values nested deeper than " + std::to_string(max_depth));
        height.emplace(v, h);
        open.erase(v);
        path.pop_back();
        if (!path.empty()) path.back().h = std::max(path.back().h, h + 1);
      }
    }
  }

  [[noreturn]] void fail(const std::string& what) const { throw std::runtime_error("pickle: " + what + " at byte " + std::to_string(pos_)); }

  static std::string hex(unsigned value) {
    const char* digits = "0123456789abcdef";
    return {digits[(value >> 4) & 0xF], digits[value & 0xF]};
  }

  std::string_view read(std::size_t n) {
    if (n > in_.size() - pos_) fail("truncated program");
    auto s = in_.substr(pos_, n);
    pos_ += n;
    return s;
  }

  template <class T>
  T read_le() {
    T v;
    std::memcpy(&v, read(sizeof(T)).data(), sizeof(T));  // the host is little-endian (static_assert above)
    return v;
  }

  std::string read_line() {
    auto end = in_.find('\n', pos_);
    if (end == std::string_view::npos) fail("unterminated GLOBAL");
    std::string s(in_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return s;
  }

  void push(ValuePtr v) {
    containers_.push_back(v);  // any value: APPEND adds items to whatever is on top
    stack_.push_back(std::move(v));
  }
  ValuePtr pop() {
    if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) fail("stack underflow");
    auto v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  ValuePtr& top() {
    if (stack_.empty()) fail("stack underflow");
    return stack_.back();
  }
  std::vector<ValuePtr> pop_mark() {
    if (marks_.empty()) fail("MARK missing");
    std::vector<ValuePtr> items(stack_.begin() + static_cast<std::ptrdiff_t>(marks_.back()), stack_.end());
    stack_.resize(marks_.back());
    marks_.pop_back();
    return items;
  }
  ValuePtr memo(std::size_t key) {
    auto it = memo_.find(key);
    if (it == memo_.end()) fail("memo key " + std::to_string(key) + " missing");
    return it->second;
  }

  void push_bool(bool b) {
    auto v = make(Value::Kind::boolean);
    v->integer = b;
    push(v);
  }
  void push_int(std::int64_t i) {
    auto v = make(Value::Kind::integer);
    v->integer = i;
    push(v);
  }
  void push_long(std::int64_t n) {
    if (n < 0 || n > 8) fail("integer wider than 64 bits");
    auto bytes = read(static_cast<std::size_t>(n));
    std::uint64_t u = 0;
    for (std::size_t i = 0; i < bytes.size(); ++i) u |= std::uint64_t(static_cast<unsigned char>(bytes[i])) << (8 * i);
    // Two's complement of n bytes: sign-extend from the top byte.
    if (n > 0 && n < 8 && (static_cast<unsigned char>(bytes.back()) & 0x80)) u |= ~std::uint64_t(0) << (8 * n);
    push_int(static_cast<std::int64_t>(u));
  }
  void push_double() {
    // BINFLOAT is big-endian.
    auto bytes = read(8);
    std::uint64_t u = 0;
    for (char c : bytes) u = (u << 8) | static_cast<unsigned char>(c);
    auto v = make(Value::Kind::real);
    v->real = std::bit_cast<double>(u);
    push(v);
  }
  void push_text(Value::Kind kind, std::uint64_t n) {
    auto v = make(kind);
    v->text = std::string(read(static_cast<std::size_t>(n)));
    push(v);
  }
  void push_sequence(Value::Kind kind, std::vector<ValuePtr> items) {
    auto v = make(kind);
    v->items = std::move(items);
    push(v);
  }
  void push_tuple(std::size_t n) {
    if (stack_.size() < n || (!marks_.empty() && stack_.size() - n < marks_.back())) fail("stack underflow");
    std::vector<ValuePtr> items(stack_.end() - static_cast<std::ptrdiff_t>(n), stack_.end());
    stack_.resize(stack_.size() - n);
    push_sequence(Value::Kind::tuple, std::move(items));
  }
  void push_global(std::string name) {
    auto v = make(Value::Kind::global);
    v->text = std::move(name);
    push(v);
  }
  void set_item(const ValuePtr& d, ValuePtr k, ValuePtr v) {
    // Objects we do not model (their state is dropped) swallow items; only dicts keep them.
    if (d->kind == Value::Kind::dict) d->entries.emplace_back(std::move(k), std::move(v));
  }

  // The only callables with an effect: OrderedDict and the tensor rebuilders. Everything else is
  // recorded by name and never run, which is what makes reading untrusted checkpoints safe.
  ValuePtr reduce(const Value& callable, const Value& args) {
    const std::string& name = callable.text;
    if (callable.kind == Value::Kind::global) {
      if (name == "collections.OrderedDict" || name == "builtins.dict") {
        auto d = make(Value::Kind::dict);
        d->ordered = name == "collections.OrderedDict";
        return d;
      }
      if (name == "torch._utils._rebuild_tensor_v2" || name == "torch._utils._rebuild_tensor") return rebuild_tensor(args);
      if ((name == "torch._utils._rebuild_parameter" || name == "torch._utils._rebuild_parameter_with_state") && !args.items.empty() &&
          args.items[0]->kind == Value::Kind::tensor)
        return args.items[0];
    }
    auto v = make(Value::Kind::object);
    v->text = name;
    return v;
  }

  ValuePtr rebuild_tensor(const Value& args) {
    // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
    if (args.items.size() < 4 || args.items[0]->kind != Value::Kind::tensor) fail("malformed _rebuild_tensor_v2");
    auto ints = [&](const Value& t) {
      std::vector<std::int64_t> out;
      for (auto& i : t.items) out.push_back(i->integer);
      return out;
    };
    auto v = make(Value::Kind::tensor);
    v->tensor = args.items[0]->tensor.as_strided(ints(*args.items[2]), ints(*args.items[3]), args.items[1]->integer);
    return v;
  }

  ValuePtr persistent_load(const Value& pid) {
    // ('storage', <storage class>, key, location, numel)
    if (pid.kind != Value::Kind::tuple || pid.items.size() < 5 || pid.items[0]->text != "storage") fail("unsupported persistent id");
    const auto dtype = storage_dtype(pid.items[1]->text);
    if (dtype == at::ScalarType::Undefined) fail("unsupported storage type " + pid.items[1]->text);
    const std::string& key = pid.items[2]->text;
    if (pid.items[4]->kind != Value::Kind::integer || pid.items[4]->integer < 0) fail("storage " + key + ": bad size");
    auto it = storages_.find(key);
    if (it == storages_.end()) it = storages_.emplace(key, load_storage_(key, dtype, pid.items[4]->integer)).first;
    auto v = make(Value::Kind::tensor);
    v->tensor = it->second;
    return v;
  }

  std::string_view in_;
  std::size_t pos_ = 0;
  StorageLoader load_storage_;
  std::vector<ValuePtr> stack_;
  std::vector<std::size_t> marks_;
  std::map<std::size_t, ValuePtr> memo_;
  std::map<std::string, at::Tensor> storages_;  // tensors that share a storage stay shared
  std::vector<ValuePtr> containers_;            // every value pushed (check_graph, and the cleanup after a failure)
};

/// Reads a `torch.save` zip archive (through `in`) and returns its unpickled root value.
inline ValuePtr load(std::shared_ptr<caffe2::serialize::ReadAdapterInterface> in) {
  const std::size_t archive_bytes = in->size();
  caffe2::serialize::PyTorchStreamReader reader(std::move(in));
  // A record larger than the archive is a lie (torch.save stores records uncompressed): refuse it
  // before allocating for it.
  auto record_size = [&](const std::string& name) {
    const std::size_t size = reader.getRecordSize(name);
    if (size > archive_bytes)
      throw std::runtime_error("record " + name + " claims " + std::to_string(size) + " bytes, more than the archive's " +
                               std::to_string(archive_bytes));
    return size;
  };
  if (reader.hasRecord("byteorder")) {
    record_size("byteorder");
    auto [ptr, size] = reader.getRecord("byteorder");
    std::string order(static_cast<const char*>(ptr.get()), size);
    if (order != "little") throw std::runtime_error("checkpoint is " + order + "-endian");
  }
  if (!reader.hasRecord("data.pkl")) throw std::runtime_error("no data.pkl record (not a torch.save archive)");
  record_size("data.pkl");
  auto [program, program_size] = reader.getRecord("data.pkl");
  Unpickler unpickler(std::string_view(static_cast<const char*>(program.get()), program_size),
                      [&](const std::string& key, at::ScalarType dtype, std::int64_t numel) {
                        const std::string name = "data/" + key;
                        if (!reader.hasRecord(name)) throw std::runtime_error("no storage record " + name);
                        const std::size_t size = record_size(name);
                        const auto item = static_cast<std::size_t>(c10::elementSize(dtype));
                        if (static_cast<std::uint64_t>(numel) > size / item || static_cast<std::size_t>(numel) * item != size)
                          throw std::runtime_error("storage " + name + " holds " + std::to_string(size) + " bytes, expected " +
                                                   std::to_string(numel) + " elements of " + std::to_string(item) + " bytes");
                        auto t = at::empty({numel}, at::TensorOptions().dtype(dtype));
                        if (size > 0 && reader.getRecord(name, t.data_ptr(), size) != size)
                          throw std::runtime_error("storage " + name + " is truncated");
                        return t;
                      });
  return unpickler.run();
}

/// Reads a `torch.save` zip archive file.
inline ValuePtr load(const std::string& path) { return load(std::make_shared<caffe2::serialize::FileAdapter>(path)); }

/// Reads a `torch.save` zip archive held in memory (the bytes must outlive the call).
inline ValuePtr load_bytes(std::string_view bytes) {
  return load(std::make_shared<caffe2::serialize::MemoryReadAdapter>(bytes.data(), static_cast<off_t>(bytes.size())));
}

/// Pickles `root` (protocol 2, as `torch.save`) and writes the zip archive through `sink`, which
/// must accept every byte (see `write_atomically`): dicts become `dict` (`OrderedDict` when
/// `ordered`), tuples and lists themselves, tensors `_rebuild_tensor_v2` calls, each over its own
/// contiguous CPU storage. Throws `std::runtime_error` for a value that has no such form.
inline void save(const Value& root, const std::function<std::size_t(const void*, std::size_t)>& sink) {
  std::string pkl;
  std::vector<at::Tensor> storages;
  auto op = [&](char c) { pkl.push_back(c); };
  auto u32 = [&](std::uint32_t v) { pkl.append(reinterpret_cast<const char*>(&v), 4); };
  auto text = [&](char opcode, const std::string& s) {
    if (s.size() > 0xffffffffu) throw std::runtime_error("pickle: a string of more than 4 GiB");
    op(opcode);
    u32(static_cast<std::uint32_t>(s.size()));
    pkl += s;
  };
  auto str = [&](const std::string& s) { text('X', s); };  // BINUNICODE
  auto integer = [&](std::int64_t v) {
    if (v >= -(std::int64_t(1) << 31) && v < (std::int64_t(1) << 31)) {
      op('J');  // BININT, 4 bytes signed
      u32(static_cast<std::uint32_t>(static_cast<std::int32_t>(v)));
    } else {
      op(static_cast<char>(0x8a));  // LONG1, 8 bytes two's complement
      op(8);
      pkl.append(reinterpret_cast<const char*>(&v), 8);
    }
  };
  auto tuple = [&](c10::IntArrayRef values) {
    op('(');
    for (auto v : values) integer(v);
    op('t');
  };
  auto global = [&](const std::string& module, const std::string& name) { pkl += "c" + module + "\n" + name + "\n"; };
  auto tensor = [&](const at::Tensor& value) {
    // Each tensor gets its own contiguous storage: simple, and what a state dict holds anyway.
    auto t = value.detach().to(at::kCPU).contiguous();
    const auto key = std::to_string(storages.size());
    const std::string storage = storage_class(t.scalar_type());
    storages.push_back(t);
    global("torch._utils", "_rebuild_tensor_v2");
    op('(');
    op('(');
    str("storage");
    global("torch", storage);
    str(key);
    str("cpu");
    integer(t.numel());
    op('t');
    op('Q');     // BINPERSID
    integer(0);  // storage offset
    tuple(t.sizes());
    tuple(t.strides());
    op(static_cast<char>(0x89));           // requires_grad = False
    global("collections", "OrderedDict");  // backward hooks: an empty OrderedDict
    op(')');
    op('R');
    op('t');
    op('R');
  };
  std::function<void(const Value&, std::size_t)> value = [&](const Value& v, std::size_t depth) {
    if (depth > max_depth) throw std::runtime_error("pickle: values nested deeper than " + std::to_string(max_depth));
    switch (v.kind) {
      case Value::Kind::none:
        op('N');
        break;
      case Value::Kind::boolean:
        op(static_cast<char>(v.integer ? 0x88 : 0x89));
        break;
      case Value::Kind::integer:
        integer(v.integer);
        break;
      case Value::Kind::real: {
        op('G');  // BINFLOAT, big-endian
        const auto u = std::bit_cast<std::uint64_t>(v.real);
        for (int shift = 56; shift >= 0; shift -= 8) pkl.push_back(static_cast<char>((u >> shift) & 0xff));
        break;
      }
      case Value::Kind::string:
        str(v.text);
        break;
      case Value::Kind::bytes:
        text('B', v.text);
        break;  // BINBYTES (protocol 3: `bytes` under Python 3)
      case Value::Kind::tuple:
      case Value::Kind::list:
        op(v.kind == Value::Kind::list ? ']' : '(');
        if (v.kind == Value::Kind::list && !v.items.empty()) op('(');
        for (const auto& item : v.items) value(*item, depth + 1);
        if (v.kind == Value::Kind::tuple)
          op('t');
        else if (!v.items.empty())
          op('e');  // APPENDS
        break;
      case Value::Kind::dict:
        if (v.ordered) {
          global("collections", "OrderedDict");
          op(')');
          op('R');
        } else {
          op('}');
        }
        if (!v.entries.empty()) {
          op('(');
          for (const auto& [k, item] : v.entries) {
            value(*k, depth + 1);
            value(*item, depth + 1);
          }
          op('u');  // SETITEMS
        }
        break;
      case Value::Kind::tensor:
        tensor(v.tensor);
        break;
      default:
        throw std::runtime_error("pickle: cannot save a " + v.text + " value");
    }
  };
  pkl += "\x80\x02";  // PROTO 2, as torch.save
  value(root, 0);
  op('.');  // STOP

  caffe2::serialize::PyTorchStreamWriter writer(sink);
  writer.writeRecord("data.pkl", pkl.data(), pkl.size());
  writer.writeRecord("byteorder", "little", 6);
  for (std::size_t i = 0; i < storages.size(); ++i) {
    const auto& t = storages[i];
    writer.writeRecord("data/" + std::to_string(i), t.data_ptr(), static_cast<std::size_t>(t.nbytes()));
  }
  writer.writeEndOfFile();
}

/// The value under string key `key` of dict `d`; null when there is none (or `d` is no dict).
inline const Value* find(const Value& d, std::string_view key) {
  for (const auto& [k, v] : d.entries)
    if (k->kind == Value::Kind::string && k->text == key) return v.get();
  return nullptr;
}

/// A Python `str`.
inline ValuePtr string(std::string s) {
  auto v = make(Value::Kind::string);
  v->text = std::move(s);
  return v;
}

/// `(name, tensor)` pairs as an `OrderedDict` (a state dict).
inline ValuePtr state_dict_value(const std::vector<std::pair<std::string, at::Tensor>>& entries) {
  auto d = make(Value::Kind::dict);
  d->ordered = true;
  for (const auto& [name, t] : entries) {
    auto v = make(Value::Kind::tensor);
    v->tensor = t;
    d->entries.emplace_back(string(name), std::move(v));
  }
  return d;
}

/// Writes `(name, tensor)` pairs as Python's `torch.save(OrderedDict)` does (pickle protocol 2).
inline void save(const std::vector<std::pair<std::string, at::Tensor>>& entries, const std::string& path) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error("cannot create " + path);
  save(*state_dict_value(entries), [&](const void* data, std::size_t n) {
    out.write(static_cast<const char*>(data), static_cast<std::streamsize>(n));
    return n;  // the writer must never see a short write; the stream's state is checked below
  });
  out.close();
  if (!out) throw std::runtime_error("cannot write " + path);
}

}  // namespace longform::detail::pickle
