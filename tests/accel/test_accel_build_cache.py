"""Engine cache keys change with every input; the file lock makes concurrent builds build once."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from torch import nn

from rain_vtuber.accel.build_cache import build_once, cache_key, weights_digest
from rain_vtuber.accel.fused_step import StepSpec
from rain_vtuber.accel.tensorrt_backend import engine_key

REPO = Path(__file__).resolve().parents[2]

SPEC = StepSpec(
    height=512, width=512, groups=4, group_size=4, pose_channels=320, context_dim=768, guidance_dim=512,
    memories=((1, 1, 64, 64, 64),), states=(("d00", (1, 4096, 320)),), dtype=torch.float16,
)
BASE = {"gpu": {"name": "NVIDIA H100 80GB HBM3", "capability": "9.0"}, "tensorrt_version": "10.3.0",
        "spec": SPEC, "weights": "0" * 32, "precision": "fp16"}


def test_engine_key_is_stable_and_changes_with_every_input() -> None:
    base = engine_key(**BASE)
    assert engine_key(**BASE) == base
    variants = {
        "gpu model": {"gpu": {"name": "NVIDIA GeForce RTX 4090", "capability": "9.0"}},
        "capability": {"gpu": {"name": BASE["gpu"]["name"], "capability": "8.9"}},
        "tensorrt": {"tensorrt_version": "10.4.0"},
        "resolution": {"spec": replace(SPEC, height=576)},
        "window": {"spec": replace(SPEC, groups=2)},
        "dtype": {"spec": replace(SPEC, dtype=torch.bfloat16)},
        "weights": {"weights": "1" + "0" * 31},
        "precision": {"precision": "fp32"},
    }
    keys = {name: engine_key(**{**BASE, **change}) for name, change in variants.items()}
    assert base not in keys.values(), keys
    assert len(set(keys.values())) == len(keys), keys


def test_cache_key_ignores_dict_order() -> None:
    assert cache_key({"a": 1, "b": [2, 3]}) == cache_key({"b": [2, 3], "a": 1})
    assert cache_key({"a": 1}) != cache_key({"a": 2})


def test_weights_digest_sees_a_one_ulp_change() -> None:
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(8, 8), nn.LayerNorm(8))
    before = weights_digest(module)
    assert weights_digest(module) == before
    with torch.no_grad():
        module[0].weight[3, 5] = torch.nextafter(module[0].weight[3, 5], torch.tensor(1.0))
    assert weights_digest(module) != before
    assert weights_digest(module.half()) != weights_digest(module.float())


BUILDER = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    from rain_vtuber.accel.build_cache import build_once
    target, log = Path(sys.argv[1]), Path(sys.argv[2])
    arrived = log.with_name("arrived")
    def build(partial):
        with log.open("a") as f:
            f.write(f"{os.getpid()}\\n")
        deadline = time.monotonic() + 120  # hold the lock until the other process is at build_once
        while len(arrived.read_text().split()) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)  # from its arrival to the lock is a file check
        partial.write_text("engine")
    with arrived.open("a") as f:
        f.write(f"{os.getpid()}\\n")
    print(build_once(target, build, wait_s=120))
""")


@pytest.mark.slow  # two fresh processes importing torch and the accel stack
def test_concurrent_builds_build_once(tmp_path: Path) -> None:
    target, log = tmp_path / "cache" / "abc.plan", tmp_path / "builds.log"
    procs = [subprocess.Popen([sys.executable, "-c", BUILDER, str(target), str(log)], cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [p.communicate(timeout=240) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in results]
    assert [out.strip() for out, _ in results] == [str(target)] * 2
    assert len(log.read_text().split()) == 1, "exactly one process built"
    assert target.read_text() == "engine"
    assert not target.with_name(target.name + ".partial").exists()


def test_failed_build_leaves_nothing_and_the_next_call_builds(tmp_path: Path) -> None:
    target = tmp_path / "x.plan"

    def broken(partial: Path) -> None:
        partial.write_text("half")
        raise RuntimeError("builder crashed")

    with pytest.raises(RuntimeError):
        build_once(target, broken)
    assert not target.exists()
    calls = []
    assert build_once(target, lambda p: (calls.append(p), p.write_text("ok"))) == target
    assert build_once(target, lambda p: calls.append(p)) == target  # cached: no second build
    assert len(calls) == 1 and target.read_text() == "ok"
