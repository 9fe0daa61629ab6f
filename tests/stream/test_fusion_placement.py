"""After fusing, CLIP, the VAE encoder and ReferenceNet leave the compute device (tiny weights, CPU).

On CPU host and device are the same, so the accounting test parks the fusion networks on the
meta device (a stand-in host) and sums the bytes of every tensor the engine still keeps on the CPU.
"""

from __future__ import annotations

import numpy as np
import torch

from rain_vtuber.accel.memory import estimate_resident, module_bytes, resident_bytes
from rain_vtuber.stream.placement import FusionPlacement, fusion_modules
from tests.accel.accel_fixtures import golden_poses, tiny_engine

CPU = torch.device("cpu")


def _image() -> np.ndarray:
    return np.random.default_rng(1).integers(0, 256, (128, 128, 3), dtype=np.uint8)


def test_only_the_stream_stays_on_the_device_after_fusing() -> None:
    engine = tiny_engine()  # keep_fusion_models defaults to False: parked on the host between fusions
    first = engine.fuser.compute(_image())
    again = engine.fuser.compute(_image())  # brought back to the device and parked again
    assert all(torch.equal(first.states[n], again.states[n]) for n in first.states)
    engine.set_reference(first)
    engine.stream.iterate(golden_poses()[:4].permute(0, 3, 1, 2).float() / 255)

    models = engine.models
    before = resident_bytes(engine)
    FusionPlacement(models, keep=False, host="meta")  # park on a stand-in host to account on CPU
    after = resident_bytes(engine, CPU)
    assert after["reference_unet"] == after["image_encoder"] == 0
    fusion_in_vae = sum(module_bytes(m, torch.device("meta")) for n, m in fusion_modules(models).items() if n.startswith("vae."))
    assert fusion_in_vae > 0 and after["vae"] == before["vae"] - fusion_in_vae  # the decoder stays
    for name in ("motion_unet", "pose_guider", "taesdv", "reference_kv", "stream_state"):
        assert after[name] == before[name] > 0, name
    parked = before["reference_unet"] + before["image_encoder"] + fusion_in_vae
    assert after["total"] == before["total"] - parked
    print(f"tiny engine on CPU: {before['total']} bytes resident with the fusion networks, {after['total']} without")


def test_keep_fusion_models_leaves_them_resident() -> None:
    engine = tiny_engine()
    engine.fuser.placement = FusionPlacement(engine.models, keep=True, host="meta")
    engine.fuser.compute(_image())
    assert resident_bytes(engine, CPU)["reference_unet"] == module_bytes(engine.models.reference_unet, CPU) > 0


def test_release_at_512_fp16_with_four_characters_fits_in_8_gib_between_fusions() -> None:
    parked = estimate_resident(512, torch.float16, characters=4)
    kept = estimate_resident(512, torch.float16, characters=4, keep_fusion_models=True)
    print(parked.as_dict(), kept.as_dict(), sep="\n")
    assert 2.3 * 2**30 < parked.stream_weights < 2.8 * 2**30  # motion UNet 1.31 G params + small nets, fp16
    assert 2.0 * 2**30 < parked.fusion_weights < 2.5 * 2**30  # ReferenceNet 0.86 G + CLIP + VAE encoder
    assert kept.resident - parked.resident == parked.fusion_weights
    assert parked.while_fusing == kept.resident
