"""Writes the PyTorch fixtures of tests/kinks_torch.rs: small models whose batch puts
pre-activations and logits exactly at 0, with PyTorch's float64 gradients.

Run from this folder: `pip install torch safetensors numpy && python3 make_fixtures.py`.
Each case NAME gets NAME.net (the netc model, reading NAME.csv with split = 1, so `netc grad`
differentiates the file's rows in order), NAME.csv (the batch), NAME.weights.safetensors (F32
weights under PyTorch's names, every value a multiple of 1/8 so F32 holds it exactly) and
NAME.torch.safetensors (F64: PyTorch's loss and gradient of every parameter).
The files are committed; the Rust tests only read them.
"""
import numpy as np
import torch
import torch.nn.functional as F
from safetensors.numpy import save_file

torch.set_default_dtype(torch.float64)

# Rows of the batch: the zero row puts every hidden pre-activation at its bias; the others put
# the unit whose weight row is [1, -1] (with bias 0) exactly at 0 too.
X = np.array([[0.0, 0.0], [0.5, 0.5], [1.0, -0.5], [-0.25, -0.25]])
W1 = np.array([[1.0, -1.0], [0.5, 0.25], [-0.75, 1.0]])
B1 = np.array([0.0, 0.0, 0.125])
W2 = np.array([[0.5, -1.0, 0.75]])
B2 = np.array([0.0])
Y_REG = np.array([0.25, -0.5, 1.0, 0.0])

ACTIVATIONS = {
    "identity": ("identity", lambda z: z),
    "sigmoid": ("sigmoid", torch.sigmoid),
    "tanh": ("tanh", torch.tanh),
    "relu": ("relu", F.relu),
    "leaky_relu": ("leaky_relu(0.125)", lambda z: F.leaky_relu(z, 0.125)),
    "prelu": ("prelu(init = 0.25)", None),
    "elu": ("elu(alpha = 0.5)", lambda z: F.elu(z, 0.5)),
    "selu": ("selu", F.selu),
    "swish": ("swish", F.silu),
    "mish": ("mish", F.mish),
    "gelu": ("gelu", F.gelu),
    "softplus": ("softplus", F.softplus),
    "softsign": ("softsign", F.softsign),
    "softmax": ("softmax", lambda z: torch.softmax(z, dim=-1)),
}


def net_file(name, layers, loss, target, batch):
    body = "\n".join(f"    {line}" for line in layers)
    return f"""// Written by make_fixtures.py: a batch at the kinks, PyTorch's gradients beside it.
model {name} {{
    input x: [2]
{body}
}}

train {{
    data      = csv("{name}.csv", target = "{target}", scale = none, split = 1)
    loss      = {loss}
    optimizer = sgd(lr = 0.1)
    batch     = {batch}
    epochs    = 1
    seed      = 1
}}
"""


def write_case(name, layers, loss, rows, targets, params, loss_fn):
    """params: {name: np.ndarray}; loss_fn(tensors) -> scalar torch loss."""
    with open(f"{name}.net", "w") as f:
        f.write(net_file(name, layers, loss, "target", len(rows)))
    with open(f"{name}.csv", "w") as f:
        f.write("a,b,target\n")
        for r, t in zip(rows, targets):
            f.write(f"{float(r[0]):g},{float(r[1]):g},{t:g}\n")
    tensors = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    value = loss_fn(tensors)
    value.backward()
    save_file(
        {k: v.astype(np.float32) for k, v in params.items()},
        f"{name}.weights.safetensors",
    )
    grads = {k: t.grad.numpy() for k, t in tensors.items()}
    grads["loss"] = np.array(value.item())
    save_file(grads, f"{name}.torch.safetensors", metadata={"torch": torch.__version__})


def activation_cases():
    x = torch.tensor(X)
    y = torch.tensor(Y_REG).reshape(-1, 1)
    for name, (spelled, fn) in ACTIVATIONS.items():
        params = {"hidden.weight": W1, "hidden.bias": B1, "out.weight": W2, "out.bias": B2}
        if name == "prelu":
            params["hidden.slope"] = np.full(3, 0.25)

        def loss_fn(t, fn=fn, name=name):
            z = x @ t["hidden.weight"].T + t["hidden.bias"]
            if name == "prelu":
                a = F.prelu(z, t["hidden.slope"])
            else:
                a = fn(z)
            out = a @ t["out.weight"].T + t["out.bias"]
            return F.mse_loss(out, y)

        layers = [f"dense 3, act = {spelled} as hidden", "dense 1 as out"]
        write_case(f"act_{name}", layers, "mse", X, Y_REG, params, loss_fn)


def loss_cases():
    x = torch.tensor(X)
    # Binary cross-entropy with every logit at 0 (zero-initialized layer): d/dz = 0.5 - y.
    bce_y = np.array([1.0, 0.0, 1.0, 0.0])
    for name, act in [("bce_fused", ", act = sigmoid"), ("bce_raw", "")]:
        params = {"out.weight": np.zeros((1, 2)), "out.bias": np.zeros(1)}

        def loss_fn(t):
            z = x @ t["out.weight"].T + t["out.bias"]
            return F.binary_cross_entropy_with_logits(z, torch.tensor(bce_y).reshape(-1, 1))

        write_case(name, [f"dense 1{act} as out"], "binary_cross_entropy", X, bce_y, params, loss_fn)
    # Cross-entropy with three equal logits per row (a tie of the row maximum): d/dz = p - y.
    labels = np.array([0, 2, 1, 2])
    for name, act in [("ce_fused", ", act = softmax"), ("ce_raw", "")]:
        params = {"out.weight": np.zeros((3, 2)), "out.bias": np.zeros(3)}

        def loss_fn(t):
            z = x @ t["out.weight"].T + t["out.bias"]
            return F.cross_entropy(z, torch.tensor(labels))

        write_case(name, [f"dense 3{act} as out"], "cross_entropy", X, labels, params, loss_fn)


activation_cases()
loss_cases()
