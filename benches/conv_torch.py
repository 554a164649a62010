"""PyTorch eager counterpart of `cargo bench --profile dev --bench jit -- conv`: one 3×3
"same" convolution layer (no bias), batch 64, forward alone and forward + the input and weight
gradients of sum(y * r), on 8×8×1 → 16 and 32×32×32 → 64. Single-threaded, as netc's kernel
is; prints the median on-CPU and wall-clock µs of 7 rounds, as the Rust bench does.
Run by hand: `python3 benches/conv_torch.py`; the figures are in docs/performance.md."""

import statistics
import time

import torch
import torch.nn.functional as F

torch.set_num_threads(1)


def rounds(step, reps):
    cpu, wall = [], []
    for _ in range(7):
        c, w = time.thread_time(), time.perf_counter()
        for _ in range(reps):
            step()
        cpu.append((time.thread_time() - c) / reps * 1e6)
        wall.append((time.perf_counter() - w) / reps * 1e6)
    return statistics.median(cpu), statistics.median(wall)


def layer(n, h, w, c, f, reps):
    torch.manual_seed(0)
    x = torch.rand(n, c, h, w, requires_grad=True)
    weight = torch.rand(f, c, 3, 3, requires_grad=True)
    r = torch.rand(n, f, h, w)

    def forward():
        with torch.no_grad():
            F.conv2d(x, weight, padding=1)

    def backward():
        x.grad, weight.grad = None, None
        (F.conv2d(x, weight, padding=1) * r).sum().backward()

    for step in (forward, backward):
        step()
    return rounds(forward, reps), rounds(backward, reps)


def main():
    print(f"torch {torch.__version__}, 1 thread: on-CPU µs (wall µs)")
    for name, shape, reps in [("8×8×1 → 16", (64, 8, 8, 1, 16), 200),
                              ("32×32×32 → 64", (64, 32, 32, 32, 64), 2)]:
        fwd, both = layer(*shape, reps)
        print(f"| {name} | forward | {fwd[0]:.1f} ({fwd[1]:.1f}) |")
        print(f"| {name} | forward + backward | {both[0]:.1f} ({both[1]:.1f}) |")


if __name__ == "__main__":
    main()
