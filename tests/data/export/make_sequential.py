"""Writes the nn.Sequential fixture of tests/export_torch.rs: a state dict whose names are
PyTorch's (`0.weight`, `2.bias`, `4.weight`), the rows it is evaluated on, and PyTorch's loss.

Run from this folder: `pip install torch safetensors && python3 make_sequential.py`.
The files are committed; the Rust tests only read them.
"""
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import nn

torch.manual_seed(0)
net = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 3))
x = torch.randn(12, 4)
y = torch.arange(12) % 3
with open("sequential.csv", "w") as f:
    f.write("f0,f1,f2,f3,label\n")
    for row, label in zip(x.tolist(), y.tolist()):
        f.write(",".join(repr(v) for v in row) + f",{label}\n")
loss = F.cross_entropy(net(x), y)
save_file(net.state_dict(), "sequential.safetensors",
          metadata={"format": "pt", "loss": repr(loss.item())})
print("loss", loss.item())

# A recurrent model as PyTorch names it: nn.LSTM's tensors carry the layer index `_l0`.
class Recurrent(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm1 = nn.LSTM(2, 16, batch_first=True)
        self.dense1 = nn.Linear(16, 1)


save_file(Recurrent().state_dict(), "lstm_l0.safetensors", metadata={"format": "pt"})
