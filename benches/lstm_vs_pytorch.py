"""PyTorch side of the lstm benchmark (docs/lstm.md, "Implementation choices"): one training step (forward, backward, Adam)
at batch 64 x 100 steps x 146 features, hidden 128 + Linear(128->146), MSE; and the original
shape LSTM(146) + ReLU with RMSprop (PyTorch has only logistic gates). 2 warm-up steps, then
the median of 12 steps. Prints `torch <shape> threads=<n> seq_per_s=<x>` lines."""
import statistics
import sys
import time

import torch

B, T, F = 64, 100, 146


def run(shape, threads):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    x = torch.rand(T, B, F)
    y = torch.rand(T, B, F)
    if shape == "h128":
        lstm = torch.nn.LSTM(F, 128)
        head = torch.nn.Linear(128, F)
        params = list(lstm.parameters()) + list(head.parameters())
        opt = torch.optim.Adam(params, lr=1e-3)
        fwd = lambda: head(lstm(x)[0])
    else:
        lstm = torch.nn.LSTM(F, F)
        params = list(lstm.parameters())
        opt = torch.optim.RMSprop(params, lr=1e-3, alpha=0.9, eps=1e-7)
        fwd = lambda: torch.relu(lstm(x)[0])
    times = []
    for i in range(14):
        if i == 2:
            cpu0 = time.process_time()
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(fwd(), y)
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t0)
    cpu = time.process_time() - cpu0
    med = statistics.median(times[2:])
    # CPU-time throughput (12 steps / process CPU seconds): robust on a loaded machine,
    # comparable to wall time only for 1 thread
    print(f"torch {shape} threads={threads} cpu_seq_per_s={12 * B / cpu:.1f} seq_per_s={B / med:.1f}", flush=True)


if __name__ == "__main__":
    threads = [int(a) for a in sys.argv[1:]] or [1, 2]
    for shape in ["h128", "orig"]:
        for n in threads:
            run(shape, n)
