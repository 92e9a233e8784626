//===- Runtime.cpp - Modules called with numpy arrays ---------------------===//
//
// Arguments are viewed in place where their layout allows (C-contiguous,
// the argument's dtype); results are numpy arrays over the runtime's own
// buffers, which they keep alive. bf16 travels as uint16 (numpy has no
// bf16). Mistakes raise ValueError naming the argument.
//
//===----------------------------------------------------------------------===//

#include "Bindings.h"

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

namespace py = pybind11;

namespace hybrid::python {
namespace {

/// The numpy dtype of a hybrid dtype (bf16: uint16).
py::dtype numpyDtype(hybrid_dtype dtype) {
  switch (dtype) {
  case HYBRID_DTYPE_F32:
    return py::dtype::of<float>();
  case HYBRID_DTYPE_F16:
    return py::dtype("float16");
  case HYBRID_DTYPE_BF16:
    return py::dtype::of<uint16_t>();
  case HYBRID_DTYPE_F64:
    return py::dtype::of<double>();
  case HYBRID_DTYPE_I64:
    return py::dtype::of<int64_t>();
  case HYBRID_DTYPE_I32:
    return py::dtype::of<int32_t>();
  case HYBRID_DTYPE_I8:
    return py::dtype::of<int8_t>();
  case HYBRID_DTYPE_BOOL:
    return py::dtype::of<bool>();
  }
  return py::dtype::of<float>();
}

std::string shapeText(const hybrid_value_info &info) {
  std::string text = hybrid_dtype_name(info.dtype);
  text += "[";
  for (size_t d = 0; d < info.rank; ++d)
    text += (d ? ", " : "") +
            (info.shape[d] < 0 ? std::string("?")
                               : std::to_string(info.shape[d]));
  return text + "]";
}

py::dict describe(const hybrid_value_info &info, const char *name,
                  bool inout) {
  py::dict d;
  d["name"] = name ? py::object(py::str(name)) : py::none();
  d["kind"] = info.kind == HYBRID_VALUE_SCALAR ? "scalar" : "tensor";
  d["dtype"] = hybrid_dtype_name(info.dtype);
  py::list shape;
  for (size_t i = 0; i < info.rank; ++i)
    shape.append(info.shape[i] < 0 ? py::object(py::none())
                                   : py::object(py::int_(info.shape[i])));
  d["shape"] = py::tuple(shape);
  d["inout"] = inout;
  return d;
}

/// A result tensor as a numpy array that owns it.
py::array toNumpy(const hybrid::Tensor &tensor) {
  auto *owner = new hybrid::Tensor(tensor);
  py::capsule free(owner, [](void *p) {
    delete static_cast<hybrid::Tensor *>(p);
  });
  std::vector<int64_t> shape = tensor.shape();
  return py::array(numpyDtype(tensor.dtype()),
                   std::vector<py::ssize_t>(shape.begin(), shape.end()),
                   tensor.data(), free);
}

} // namespace

std::shared_ptr<Module> Module::load(const std::string &path,
                                     const std::string &folder) {
  auto m = std::make_shared<Module>();
  hybrid::Status s = hybrid::Module::load(path, m->module);
  if (!s)
    throw RuntimeFailure(s.message());
  if (m->module.numParameters() && !folder.empty())
    if (hybrid::Status b = m->module.bindParameters(folder); !b)
      throw RuntimeFailure(b.message());
  return m;
}

py::dict Module::signature(const std::string &entry) const {
  size_t numArgs = 0, numResults = 0;
  hybrid::Status s(hybrid_module_entry_signature(
      module.get(), entry.c_str(), &numArgs, &numResults));
  if (!s)
    throw py::key_error(s.message());
  py::list args, results;
  for (size_t i = 0; i < numArgs; ++i) {
    hybrid_value_info info;
    (void)module.argInfo(entry, i, info);
    args.append(describe(info,
                         hybrid_module_entry_arg_name(module.get(),
                                                      entry.c_str(), i),
                         module.argIsInOut(entry, i)));
  }
  for (size_t i = 0; i < numResults; ++i) {
    hybrid_value_info info;
    (void)hybrid_module_entry_result(module.get(), entry.c_str(), i, &info);
    results.append(describe(info, nullptr, false));
  }
  py::dict d;
  d["args"] = args;
  d["results"] = results;
  return d;
}

py::object Module::call(const std::string &entry, py::args args) {
  size_t numArgs = 0, numResults = 0;
  hybrid::Status s(hybrid_module_entry_signature(
      module.get(), entry.c_str(), &numArgs, &numResults));
  if (!s)
    throw py::key_error(s.message());
  if (args.size() != numArgs)
    throw py::value_error("'" + entry + "' takes " + std::to_string(numArgs) +
                          " arguments, got " + std::to_string(args.size()));
  std::vector<hybrid::Tensor> tensors;
  std::vector<py::array> keepAlive;
  for (size_t i = 0; i < numArgs; ++i) {
    hybrid_value_info info;
    (void)module.argInfo(entry, i, info);
    const char *name =
        hybrid_module_entry_arg_name(module.get(), entry.c_str(), i);
    std::string what = "argument " + std::to_string(i) +
                       (name ? std::string(" ('") + name + "')" : "") +
                       " of '" + entry + "'";
    py::dtype want = numpyDtype(info.dtype);
    bool inout = module.argIsInOut(entry, i);
    py::array array;
    if (py::isinstance<py::array>(args[i])) {
      array = py::reinterpret_borrow<py::array>(args[i]);
      if (array.dtype().attr("name").cast<std::string>() !=
          want.attr("name").cast<std::string>())
        throw py::value_error(what + " is " + shapeText(info) + ", got a " +
                              py::str(array.dtype()).cast<std::string>() +
                              " array");
    } else if (info.kind == HYBRID_VALUE_SCALAR || info.rank == 0) {
      array = py::module_::import("numpy")
                  .attr("asarray")(args[i], want)
                  .cast<py::array>();
    } else {
      throw py::value_error(what + " is " + shapeText(info) +
                            ", got a " +
                            py::str(py::type::of(args[i])).cast<std::string>());
    }
    if (!(array.flags() & py::array::c_style)) {
      if (inout)
        throw py::value_error(what + " is updated in place: pass a "
                                     "C-contiguous array");
      array = py::array::ensure(array, py::array::c_style);
    }
    if (inout && !array.writeable())
      throw py::value_error(what + " is updated in place: pass a writable "
                                   "array");
    std::vector<int64_t> shape(array.shape(), array.shape() + array.ndim());
    hybrid::Tensor t;
    if (hybrid::Status w = hybrid::Tensor::wrap(
            info.dtype, shape, const_cast<void *>(array.data()), t);
        !w)
      throw py::value_error(what + ": " + w.message());
    tensors.push_back(t);
    keepAlive.push_back(array);
  }
  std::vector<hybrid::Tensor> results;
  hybrid::Status run;
  {
    py::gil_scoped_release unlocked;
    run = module.invoke(entry, tensors, results);
  }
  if (!run) {
    // Argument mismatches are the caller's; anything else the call's.
    const std::string &message = run.message();
    if (message.find("argument") != std::string::npos)
      throw py::value_error(message);
    throw RuntimeFailure(message);
  }
  if (results.size() == 1)
    return toNumpy(results[0]);
  py::tuple out(results.size());
  for (size_t i = 0; i < results.size(); ++i)
    out[i] = toNumpy(results[i]);
  return out;
}

void Module::setNumThreads(int n) {
  if (hybrid::Status s = module.setNumThreads(n); !s)
    throw py::value_error(s.message());
}

py::dict Module::moeActivity() const {
  hybrid_moe_activity a = module.moeActivity();
  py::dict d;
  d["active_pairs"] = a.active_pairs;
  d["chunks"] = a.chunks;
  d["pairs"] = a.pairs;
  return d;
}

void bindRuntime(py::module_ &m) {
  m.def("runtime_version", &hybrid_runtime_version,
        "The thin runtime's version (major.minor.patch).");
  py::class_<Module, std::shared_ptr<Module>>(m, "_Module")
      .def_property_readonly("entries", &Module::entries,
                             "The entry points, in module order.")
      .def("signature", &Module::signature, py::arg("entry"),
           "The entry point's arguments and results: name, kind, dtype, "
           "shape (None where dynamic), and whether the call updates the "
           "argument in place.")
      .def("call", &Module::call, py::arg("entry"),
           "Runs an entry point on numpy arrays; returns an array, or a "
           "tuple of them.")
      .def("set_num_threads", &Module::setNumThreads, py::arg("n"),
           "Threads per call (0: all cores).")
      .def("moe_activity", &Module::moeActivity,
           "Chunk-level MoE activity since loading: active (expert, "
           "chunk) pairs, chunks, all pairs.");
}

} // namespace hybrid::python
