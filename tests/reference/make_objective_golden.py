#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Golden numbers of the objective tests (tests/objective/objectives.cpp), computed independently
of the C++ code with PyTorch's own functional ops, the way the reference implementations write them:

  * InfoNCE (facebookresearch/moco `moco/builder.py`): l_pos = einsum('nc,nc->n'), l_neg = q @ queue,
    logits = cat([l_pos, l_neg]) / T, cross entropy against label 0. (The queue is stored [K, D]
    on the C++ side, [D, K] upstream; the script transposes.)
  * Distillation: F.kl_div(F.log_softmax(s / T), F.softmax(t / T), 'batchmean') * T^2,
    and the feature term (1 - F.cosine_similarity(h_s, h_t)).mean().

Inputs are closed-form (sin/cos of an index grid, float64), so the C++ test rebuilds them with no
files: x[i, j] = sin(a * i + b * j + c). Run `python3 tests/reference/make_objective_golden.py`;
it rewrites golden/objectives.json (the package versions are recorded in it).
"""
import json
import os
import sys

import torch
import torch.nn.functional as F

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden")
torch.set_default_dtype(torch.float64)


def grid(rows, cols, a, b, c):
    i = torch.arange(rows, dtype=torch.float64).unsqueeze(1)
    j = torch.arange(cols, dtype=torch.float64).unsqueeze(0)
    return torch.sin(a * i + b * j + c)


def unit(x):
    return x / x.norm(dim=1, keepdim=True)


out = {"versions": {"torch": torch.__version__, "python": sys.version.split()[0]}}

# InfoNCE: N=4 queries, D=8, K=16 negatives.
q = unit(grid(4, 8, 0.37, 0.11, 0.5))
k = unit(grid(4, 8, 0.29, -0.17, 1.3))
queue = unit(grid(16, 8, 0.53, 0.07, -0.4))  # [K, D]
cases = []
for T in (0.07, 0.2, 1.0):
    l_pos = torch.einsum("nc,nc->n", [q, k]).unsqueeze(-1)
    l_neg = torch.einsum("nc,ck->nk", [q, queue.t()])
    logits = torch.cat([l_pos, l_neg], dim=1) / T
    labels = torch.zeros(logits.shape[0], dtype=torch.long)
    cases.append({"temperature": T, "loss": F.cross_entropy(logits, labels).item()})
out["info_nce"] = {"q": [4, 8, 0.37, 0.11, 0.5], "k": [4, 8, 0.29, -0.17, 1.3], "queue": [16, 8, 0.53, 0.07, -0.4],
                   "cases": cases}

# Distillation: N=3 samples, C=10 classes, D=6 features.
s = 2.0 * grid(3, 10, 0.41, 0.23, 0.1)
t = 3.0 * grid(3, 10, -0.19, 0.31, 0.7)
hs = grid(3, 6, 0.13, 0.47, -1.1)
ht = grid(3, 6, 0.61, -0.09, 0.25)
cases = []
for T in (1.0, 2.0, 4.0):
    kd = F.kl_div(F.log_softmax(s / T, dim=1), F.softmax(t / T, dim=1), reduction="batchmean") * T * T
    cases.append({"temperature": T, "loss": kd.item()})
cos = (1 - F.cosine_similarity(hs, ht, dim=1)).mean().item()
out["distill"] = {"student": [3, 10, 0.41, 0.23, 0.1, 2.0], "teacher": [3, 10, -0.19, 0.31, 0.7, 3.0],
                  "h_student": [3, 6, 0.13, 0.47, -1.1], "h_teacher": [3, 6, 0.61, -0.09, 0.25],
                  "kl_cases": cases, "cosine": cos}

os.makedirs(OUT, exist_ok=True)
with open(os.path.join(OUT, "objectives.json"), "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
print(json.dumps(out, indent=1))
