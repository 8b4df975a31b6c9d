"""Prefill and decode speed of GGUF files in llama.cpp: the median of 3 loads of each file.

    DT=1 .venv/bin/python reports/2026-12-06-degenerate/speed.py A.gguf B.gguf ...

The prompt is 195 tokens (a compact prompt's median length), evaluated on 2
threads; a decode step is one token on DT threads (default 1, as nlq runs it
on a 2-core machine).  A step costs the same whatever the token, so the steps
feed the prompt's own tokens again instead of sampling.
"""
import os
import statistics
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as nlq.models.llamacpp sets it
import llama_cpp  # noqa: E402

PROMPT = "Write one PromQL query. Catalog:\nhttp_requests_total counter service=checkout|cart route=/a|/b code=200|500\n"
STEPS = 20

timings: dict[str, list[tuple[float, float]]] = {}
for _ in range(3):
    for path in sys.argv[1:]:
        llm = llama_cpp.Llama(model_path=path, n_ctx=1024, n_threads=int(os.environ.get("DT", "1")),
                              n_threads_batch=2, verbose=False)
        tokens = llm.tokenize((PROMPT * 6).encode())[:195]
        t0 = time.perf_counter()
        llm.eval(tokens)
        prefill = time.perf_counter() - t0
        t0 = time.perf_counter()
        for token in tokens[:STEPS]:
            llm.eval([token])
        timings.setdefault(path, []).append((prefill, (time.perf_counter() - t0) / STEPS))
        llm.close()
for path, runs in timings.items():
    print(f"{os.path.basename(path)[:60]:60s} prefill {len(tokens)} tokens: "
          f"{statistics.median(p for p, _ in runs) * 1000:7.1f} ms   decode per token: "
          f"{statistics.median(d for _, d in runs) * 1000:6.2f} ms")
