"""Writes the PyTorch fixtures of tests/it/conv_torch.rs: torch.nn.functional's conv2d,
max_pool2d and avg_pool2d in float64 on NCHW-permuted copies of channels-last data, with the
gradients of L = sum(y * r) for a random r.

Run from this folder: `pip install torch safetensors numpy && python3 make_fixtures.py`.
Each case NAME gets NAME.safetensors holding F64 tensors in netc's layouts: x [N, H, W, C],
w [F, C, KH, KW] (convolutions only), r and y [N, OH, OW, F or C], dx, and dw; its metadata
holds the op and the window (kernel, stride, dilation, padding as top, bottom, left, right).
The files are committed; the Rust tests only read them.
"""
import json

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.numpy import save_file

torch.set_default_dtype(torch.float64)
RNG = np.random.default_rng(16)

# name, op, x shape [N, H, W, C], filters, kernel, stride, dilation, padding (t, b, l, r)
CASES = [
    ("conv_same", "conv2d", [2, 5, 5, 3], 4, [3, 3], [1, 1], [1, 1], [1, 1, 1, 1]),
    ("conv_valid_strided", "conv2d", [2, 7, 6, 2], 3, [3, 2], [2, 3], [1, 1], [0, 0, 0, 0]),
    ("conv_dilated_asymmetric", "conv2d", [1, 6, 7, 2], 2, [2, 3], [1, 2], [2, 1], [0, 1, 2, 0]),
    ("conv_kernel_is_input", "conv2d", [3, 4, 4, 2], 5, [4, 4], [1, 1], [1, 1], [0, 0, 0, 0]),
    ("conv_1x1", "conv2d", [2, 3, 5, 4], 3, [1, 1], [1, 1], [1, 1], [0, 0, 0, 0]),
    ("conv_stride_over_kernel", "conv2d", [1, 8, 8, 1], 2, [2, 2], [3, 3], [1, 1], [1, 1, 1, 1]),
    ("maxpool_2", "max_pool2d", [2, 6, 6, 3], 0, [2, 2], [2, 2], [1, 1], [0, 0, 0, 0]),
    ("maxpool_overlapping", "max_pool2d", [1, 7, 5, 2], 0, [3, 2], [2, 1], [1, 1], [0, 0, 0, 0]),
    ("maxpool_dilated", "max_pool2d", [1, 7, 7, 2], 0, [2, 2], [1, 2], [2, 3], [0, 0, 0, 0]),
    ("avgpool_2", "avg_pool2d", [2, 6, 6, 3], 0, [2, 2], [2, 2], [1, 1], [0, 0, 0, 0]),
    ("avgpool_padded", "avg_pool2d", [2, 5, 5, 2], 0, [3, 3], [2, 2], [1, 1], [1, 1, 1, 1]),
]


def nchw(t):
    return t.permute(0, 3, 1, 2)


def nhwc(t):
    return t.permute(0, 2, 3, 1)


def forward(op, x, w, kernel, stride, dilation, padding):
    top, bottom, left, right = padding
    if op == "conv2d":
        # F.conv2d pads symmetrically; F.pad takes (left, right, top, bottom).
        padded = F.pad(nchw(x), (left, right, top, bottom))
        return nhwc(F.conv2d(padded, w, stride=stride, dilation=dilation))
    if op == "max_pool2d":
        return nhwc(F.max_pool2d(nchw(x), kernel, stride=stride, dilation=dilation))
    assert top == bottom == left == right and dilation == [1, 1]
    pooled = F.avg_pool2d(nchw(x), kernel, stride=stride, padding=top, count_include_pad=True)
    return nhwc(pooled)


def main():
    for name, op, shape, filters, kernel, stride, dilation, padding in CASES:
        x = torch.tensor(RNG.uniform(-1, 1, shape), requires_grad=True)
        w = None
        if op == "conv2d":
            w_shape = [filters, shape[3], kernel[0], kernel[1]]
            w = torch.tensor(RNG.uniform(-1, 1, w_shape), requires_grad=True)
        y = forward(op, x, w, kernel, stride, dilation, padding)
        r = torch.tensor(RNG.uniform(-1, 1, list(y.shape)))
        (y * r).sum().backward()
        tensors = {"x": x, "r": r, "y": y, "dx": x.grad}
        if w is not None:
            tensors.update({"w": w, "dw": w.grad})
        arrays = {k: np.ascontiguousarray(v.detach().numpy()) for k, v in tensors.items()}
        window = {"kernel": kernel, "stride": stride, "dilation": dilation, "padding": padding}
        metadata = {"op": op, "window": json.dumps(window), "torch": torch.__version__}
        save_file(arrays, f"{name}.safetensors", metadata=metadata)


if __name__ == "__main__":
    main()
