"""Pack the release checkpoint manifests (../shared/golden/manifests) into the package.

The strict loader needs the exact key/shape sets of the published checkpoints at run time, on
machines without ../shared; this keeps only what it needs: [key, shape, kind] in file order.
Run from the repo root: python scripts/pack_manifests.py
"""

from __future__ import annotations

import json
from pathlib import Path

SRC = Path(__file__).resolve().parents[1].parent / "shared" / "golden" / "manifests"
DST = Path(__file__).resolve().parents[1] / "rain_vtuber" / "model" / "manifests"
NAMES = ["reference_unet", "motion_unet", "pose_guider", "taesdv", "sd_vae_ft_mse", "image_encoder"]


def main() -> None:
    DST.mkdir(parents=True, exist_ok=True)
    for name in NAMES:
        manifest = json.loads((SRC / f"{name}.json").read_text())
        rows = [[t["key"], t["shape"], t["kind"]] for t in manifest["tensors"]]
        (DST / f"{name}.json").write_text(json.dumps({"checkpoint": manifest["checkpoint"], "tensors": rows}))
        print(f"{name}: {len(rows)} tensors")


if __name__ == "__main__":
    main()
