"""The example bank from the command line: what an operator adds counts at the next screening, no retraining."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from service.cli import main


def scene(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = np.zeros((240, 320, 3), np.uint8)
    for _ in range(12):
        x, y = rng.integers(0, 280), rng.integers(0, 200)
        img[y : y + 40, x : x + 40] = rng.integers(0, 255, 3)
    return img


def test_add_list_screen_remove(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("ASSETSCREEN_DATA", str(tmp_path / "var"))
    monkeypatch.delenv("ASSETSCREEN_YOLO_MODEL", raising=False)
    taught, other = tmp_path / "taught.png", tmp_path / "other.png"
    Image.fromarray(scene(1)).save(taught)
    sky = np.linspace(60, 250, 320, dtype=np.uint8)[None, :, None] * np.ones((240, 1, 3), np.uint8)
    Image.fromarray(sky).save(other)  # a different picture altogether

    assert main(["examples", "add", "--kind", "uniform", str(taught), "--note", "district police, winter kit"]) == 0
    assert main(["examples", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out.split("bank:")[-1].split("\n", 1)[1])
    assert listed["by_kind"] == {"uniform": 1} and listed["items"][0]["note"] == "district police, winter kit"

    assert main(["screen", str(taught), "--json"]) == 0
    v = json.loads(capsys.readouterr().out)
    bank = [e for e in v["evidence"] if e["detector"] == "examples"]
    assert [e["kind"] for e in bank] == ["uniform"] and bank[0]["details"]["neighbours"][0]["id"] == "ex-0001"
    assert v["decision"] != "clear"
    assert any(bank_index in f["evidence"] for f in v["findings"] for bank_index in [v["evidence"].index(bank[0])])

    assert main(["screen", str(other), "--json"]) == 0
    assert not [e for e in json.loads(capsys.readouterr().out)["evidence"] if e["detector"] == "examples"]

    assert main(["examples", "remove", "ex-0001"]) == 0
    assert main(["examples", "remove", "ex-0001"]) == 2
