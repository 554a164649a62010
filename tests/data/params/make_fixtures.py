"""Writes the safetensors fixtures of tests/params_*.rs with the reference Python package.

Run from this folder: `pip install safetensors numpy && python3 make_fixtures.py`.
The files are committed; the Rust tests only read them.
"""
import numpy as np
from safetensors.numpy import save_file

# F32, as `safetensors.torch.save_file(model.state_dict(), ...)` writes a small dense model:
# weights [out, in], a scalar, metadata as PyTorch's tools add it.
save_file(
    {
        "hidden1.weight": (np.arange(6, dtype=np.float32).reshape(2, 3) * 0.5 - 1.0),
        "hidden1.bias": np.array([0.1, -0.2], dtype=np.float32),
        "out.weight": np.array([[1e-45, -0.0, 3.4028235e38]], dtype=np.float32),
        "temperature": np.array(1.5, dtype=np.float32),
    },
    "torch_f32.safetensors",
    metadata={"format": "pt", "note": "written by safetensors (Python)"},
)

# Other float widths netc converts: F16 and F64.
save_file(
    {
        "half": np.array([1.0, -2.0, 0.333251953125, 65504.0, 5.960464477539063e-08], dtype=np.float16),
        "double": np.array([[0.1, -1e-3], [2.0, 1e300]], dtype=np.float64),
    },
    "float_widths.safetensors",
)

# A dtype netc refuses.
save_file(
    {
        "ok.weight": np.array([1.0, 2.0], dtype=np.float32),
        "step_count": np.array([7], dtype=np.int64),
    },
    "int64.safetensors",
)
