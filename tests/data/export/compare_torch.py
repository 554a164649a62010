"""Runs a module written by `netc export --torch` on the batch of a `netc grad` file and
prints, as JSON, netc's loss and PyTorch's, and the largest gradient difference.

Usage: python3 compare_torch.py MODEL.py WEIGHTS.safetensors GRADS.safetensors [MODEL.py ...]
(one JSON line per triple). Used by tests/export_torch.rs (only where torch is importable).
"""
import importlib.util
import json
import sys

import torch
import torch.nn.functional as F


def main(module_path, weights, grads_path):
    spec = importlib.util.spec_from_file_location("exported", module_path)
    exported = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(exported)
    classes = [v for v in vars(exported).values()
               if isinstance(v, type) and issubclass(v, torch.nn.Module)
               and v.__module__ == "exported" and v.__name__ != "ElmanRNN"]
    model = classes[0]()
    exported.load_netc(model, weights)
    grads = exported.read_safetensors(grads_path)
    with open(grads_path, "rb") as f:
        size = int.from_bytes(f.read(8), "little")
        netc_loss = float(json.loads(f.read(size))["__metadata__"]["loss"])
    x, y = grads.pop("input.x"), grads.pop("input.y")
    # `netc grad` differentiates with dropout off and batch statistics on, as here.
    F.dropout = lambda h, p=0.5, training=True, inplace=False: h
    model.train()
    loss = exported.loss_fn(model, x.float(), y.float())
    loss.backward()
    params = dict(model.named_parameters())
    worst = {"name": None, "error": 0.0}
    for name, g in grads.items():
        layer, _, what = name.partition(".")
        if what in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            what += "_l0"
        torch_grad = params[f"{layer}.{what}"].grad.reshape(g.shape).double()
        g = g.double()
        scale = torch_grad.abs().max().item()
        diff = (g - torch_grad).abs()
        # |netc − torch| ≤ 1e-4·|torch| + 1e-5·max|torch| is the bound asserted by the test.
        error = (diff / (torch_grad.abs() + 0.1 * scale + 1e-12)).max().item()
        if error > worst["error"]:
            worst = {"name": name, "error": error}
    print(json.dumps({"model": module_path, "netc_loss": netc_loss,
                      "torch_loss": loss.item(), "worst_grad": worst, "grads": len(grads)}))


if __name__ == "__main__":
    args = sys.argv[1:]
    dropout = F.dropout
    for i in range(0, len(args), 3):
        F.dropout = dropout
        main(*args[i:i + 3])
