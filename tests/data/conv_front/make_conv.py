"""Writes the conv fixture of tests/it/conv_export.rs: a PyTorch conv net (NCHW inside) whose
state dict uses netc's names, the rows it is evaluated on (channels-last images, flattened
row-major as netc reads them), and PyTorch's loss in eval mode (batch norm's running
statistics, set to non-trivial values so a layout mistake shows).

Run from this folder: `python3 make_conv.py` (needs torch and safetensors). The files are
committed; the Rust tests only read them.
"""
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import nn


class ConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(2, 4, 3, padding=1)
        self.batchnorm1 = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 6, 3, padding="same")
        self.residual1 = nn.Conv2d(4, 6, 1, bias=False)
        self.conv3 = nn.Conv2d(6, 5, 2, bias=False)
        self.dense1 = nn.Linear(20, 3)

    def forward(self, x):
        h = x.permute(0, 3, 1, 2)  # netc's [N, H, W, C] to PyTorch's [N, C, H, W]
        h = self.batchnorm1(F.relu(self.conv1(h)))
        h = torch.tanh(self.conv2(h)) + self.residual1(h)
        h = F.max_pool2d(h, 2)
        h = self.conv3(h)
        h = h.permute(0, 2, 3, 1).flatten(1)  # netc flattens channels last
        return self.dense1(h)


torch.manual_seed(0)
net = ConvNet()
with torch.no_grad():
    net.batchnorm1.running_mean.copy_(torch.randn(4) * 0.5)
    net.batchnorm1.running_var.copy_(torch.rand(4) + 0.5)
    net.batchnorm1.weight.copy_(torch.rand(4) + 0.5)
    net.batchnorm1.bias.copy_(torch.randn(4) * 0.1)
net.eval()
x = torch.randn(12, 6, 6, 2)
y = torch.arange(12) % 3
with open("conv.csv", "w") as f:
    f.write(",".join(f"p{i}" for i in range(72)) + ",label\n")
    for row, label in zip(x.flatten(1).tolist(), y.tolist()):
        f.write(",".join(repr(v) for v in row) + f",{label}\n")
with torch.no_grad():
    loss = F.cross_entropy(net(x), y)
state = {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
save_file(state, "conv.safetensors", metadata={"format": "pt", "loss": repr(loss.item())})
print("loss", loss.item())
