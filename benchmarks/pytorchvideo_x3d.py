# SPDX-License-Identifier: MIT
"""pytorchvideo's `create_x3d` for the benchmarks' Python peers, importable without torchvision:
pytorchvideo 0.1.5 imports `torchvision.ops` at import time only, so a stub stands in for it."""
import sys
import types

if "torchvision" not in sys.modules:
    try:
        import torchvision  # noqa: F401
    except ImportError:
        tv = types.ModuleType("torchvision")
        tv.ops = types.ModuleType("torchvision.ops")
        tv.ops.RoIAlign = object
        sys.modules["torchvision"], sys.modules["torchvision.ops"] = tv, tv.ops
from pytorchvideo.models.x3d import create_x3d  # noqa: E402,F401
