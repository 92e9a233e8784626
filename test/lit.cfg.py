# -*- Python -*-
# lit configuration of the Hybrid test suite: FileCheck tests of hybrid-opt.

import os
import shutil

import lit.formats
from lit.llvm import llvm_config
from lit.llvm.subst import ToolSubst

config.name = "HYBRID"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.hybrid_obj_root, "test")
config.excludes = ["CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py", "Inputs"]

config.substitutions.append(("%PATH%", config.environment["PATH"]))
config.substitutions.append(("%hybrid_lib_dir", config.hybrid_lib_dir))
config.substitutions.append(("%hybrid_tools_dir", config.hybrid_tools_dir))
config.substitutions.append(("%hybrid_src_root", config.hybrid_src_root))
config.substitutions.append(("%python", config.python_executable))

llvm_config.with_system_environment(["HOME", "TMP", "TEMP"])
llvm_config.use_default_substitutions()

tool_dirs = [config.hybrid_tools_dir, config.llvm_tools_dir]
tools = ["hybrid-opt", "hybrid-run", "hybrid-import", "hybrid-generate", "hybrid-exec",
         "hybrid-step-costs"]
llvm_config.add_tool_substitutions(tools, tool_dirs)
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)

# ptxas (CUDA toolkit) checks the GPU stage's PTX where it is installed; a
# user's machine without it reports those tests UNSUPPORTED.
ptxas = shutil.which("ptxas") or next(
    (p for p in ["/usr/local/cuda/bin/ptxas"] if os.path.exists(p)), None)
if ptxas:
    config.available_features.add("ptxas")
    config.substitutions.append(("%ptxas", ptxas))
