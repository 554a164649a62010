//! The Python helpers every exported file ends with, verbatim: PReLU over the last axis, an
//! Elman RNN for activations `nn.RNN` lacks, and the safetensors loader `load_netc`.

/// Helpers every exported file carries: PReLU over the last axis, an Elman RNN for
/// activations `nn.RNN` lacks, and netc's safetensors loader (no dependency but torch).
pub(super) const LOADER: &str = r#"def prelu(z, slope):
    """PReLU with one slope per unit of the last axis (netc's `prelu`)."""
    return torch.where(z >= 0, z, slope * z)


_DTYPES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16,
           "BF16": torch.bfloat16, "I64": torch.int64, "I32": torch.int32}


def read_safetensors(path):
    """The tensors of a safetensors file, by name."""
    with open(path, "rb") as f:
        data = f.read()
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + size])
    body = memoryview(data)[8 + size:]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        dtype = _DTYPES[info["dtype"]]
        flat = torch.frombuffer(bytearray(body[start:end]), dtype=dtype)
        tensors[name] = flat.reshape(info["shape"])
    return tensors


class ElmanRNN(nn.Module):
    """`nn.RNN` (the same parameter names and layouts) with any activation."""

    def __init__(self, input_size, hidden_size, bias=True, batch_first=True, act=torch.tanh):
        super().__init__()
        assert batch_first, "netc's sequences are [batch, time, features]"
        self.act = act
        self.weight_ih_l0 = nn.Parameter(torch.empty(hidden_size, input_size))
        self.weight_hh_l0 = nn.Parameter(torch.empty(hidden_size, hidden_size))
        if bias:
            self.bias_ih_l0 = nn.Parameter(torch.empty(hidden_size))
            self.bias_hh_l0 = nn.Parameter(torch.empty(hidden_size))
        else:
            self.register_parameter("bias_ih_l0", None)
            self.register_parameter("bias_hh_l0", None)

    def forward(self, x):
        h = x.new_zeros(x.shape[0], self.weight_hh_l0.shape[0])
        steps = []
        for t in range(x.shape[1]):
            z = F.linear(x[:, t], self.weight_ih_l0, self.bias_ih_l0)
            h = self.act(z + F.linear(h, self.weight_hh_l0, self.bias_hh_l0))
            steps.append(h)
        return torch.stack(steps, 1), h[None]


def load_netc(model, path):
    """Loads a netc weights file (`weights.safetensors` of a run folder) into `model`."""
    own = model.state_dict()
    state = {}
    for name, tensor in read_safetensors(path).items():
        layer, _, what = name.partition(".")
        if what in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            what += "_l0"
        key = f"{layer}.{what}"
        if key in own and own[key].numel() == tensor.numel():
            tensor = tensor.reshape(own[key].shape)
        state[key] = tensor.to(torch.float32)
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [m for m in missing if not m.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise KeyError(f"{path}: missing {missing}, unexpected {unexpected}")
    return model
"#;
