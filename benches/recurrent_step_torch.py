"""PyTorch eager counterpart of benches/recurrent_step.rs: one training step (forward, BPTT,
Adam) of nn.RNN(tanh) / nn.LSTM, T = 100, hidden 128, batch 32, d = 2, dense head, MSE.
Not run in netc's CI (torch is not installed there); run by hand with
`python3 benches/recurrent_step_torch.py` and put the figures next to netc's in
docs/recurrent.md. Single-threaded, as netc's kernel is."""

import time

import torch

torch.set_num_threads(1)
T, N, B, D = 100, 128, 32, 2


def bench(cell: str, iters: int = 20) -> float:
    torch.manual_seed(0)
    rnn = (torch.nn.RNN if cell == "rnn" else torch.nn.LSTM)(D, N, batch_first=True)
    head = torch.nn.Linear(N, 1)
    opt = torch.optim.Adam(list(rnn.parameters()) + list(head.parameters()), lr=1e-3)
    x = torch.rand(B, T, D)
    y = torch.rand(B, 1)

    def step() -> None:
        opt.zero_grad()
        out, _ = rnn(x)
        loss = torch.nn.functional.mse_loss(head(out[:, -1]), y)
        loss.backward()
        opt.step()

    step()
    start = time.perf_counter()
    for _ in range(iters):
        step()
    return (time.perf_counter() - start) * 1e6 / iters


if __name__ == "__main__":
    for cell in ["rnn", "lstm"]:
        print(f"{cell:5} T={T} N={N} B={B}  step {bench(cell):10.1f} µs")
