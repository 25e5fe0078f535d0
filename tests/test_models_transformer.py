"""The assembled transformer (models/transformer.py): whole-model float64 gradient checks across its
options, shapes and mask isolation, `cryptotrain gradcheck` on configs/transformer_1h.yaml, and a
tiny transformer trained and evaluated end to end through the CLI."""

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from cryptotrain.cli import app
from cryptotrain.config import ModelConfig
from cryptotrain.models import init_params, model_forward
from cryptotrain.models.gradcheck import check_model_grads

ROOT = Path(__file__).resolve().parents[1]
TOL = 1e-6
BASE = dict(type="transformer", hidden_size=4, num_heads=2, d_ff=6, head_sizes=[4], dtype="float64",
            w_action=1.0, w_confidence=1.0, w_return=1.0, l2=1e-3)

CASES = {
    "post-sinusoidal-additive": dict(),
    "pre-learned-mean-causal-relu": dict(norm_first=True, positional="learned", pooling="mean", causal=True,
                                         ff_activation="relu"),
    "post-2-last-dropout-learned": dict(num_layers=2, pooling="last", dropout=0.3, head_dropout=0.2,
                                        positional="learned"),
    "pre-2-additive-noconcat-causal-dropout": dict(num_layers=2, norm_first=True, concat_last=False, causal=True,
                                                   dropout=0.25, return_loss="mse", class_weights=[2.0, 0.5, 1.0]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_model_grads(name):
    padded = name != "post-sinusoidal-additive"   # one case without any mask
    results = check_model_grads(ModelConfig(**{**BASE, **CASES[name]}), B=2, T=5, padded=padded)
    bad = {k: v for k, v in results.items() if not v[2] < TOL}
    assert not bad, "gradient mismatch: " + ", ".join(
        f"{k} {tuple(s)} (max abs {a:.2e}, max rel {r:.2e})" for k, (s, a, r) in bad.items())
    if CASES[name].get("positional") == "learned":
        assert "pos" in results


def test_params_and_outputs():
    mcfg = ModelConfig(**{**BASE, "dtype": "float32", "norm_first": True, "positional": "learned", "num_layers": 2})
    params = init_params(mcfg, 3, 6, np.random.default_rng(0))
    assert params["in_proj.W"].shape == (3, 4) and params["pos"].shape == (6, 4)
    assert params["enc.1.ff.W1"].shape == (4, 6) and params["enc.1.attn.Wqkv"].shape == (4, 12)
    assert params["head.0.W"].shape == (8, 4)   # additive pooling with concat_last: 2 D
    assert "enc_norm.gamma" in params and all(v.dtype == np.float32 for v in params.values())
    x = np.random.default_rng(1).normal(size=(2, 6, 3))
    out, _ = model_forward(params, x, mcfg)
    assert out["logits"].shape == (2, 3) and out["confidence"].shape == out["return"].shape == (2,)
    assert all(out[k].dtype == np.float32 for k in ("logits", "confidence", "return", "attention"))
    np.testing.assert_allclose(out["attention"].sum(axis=1), 1.0, rtol=1e-5)
    with pytest.raises(ValueError, match="learned position table"):
        model_forward(params, np.zeros((2, 7, 3)), mcfg)


@pytest.mark.parametrize("pooling", ["last", "mean", "additive"])
def test_padded_steps_do_not_change_outputs(pooling):
    mcfg = ModelConfig(**{**BASE, "pooling": pooling, "num_layers": 2})
    r = np.random.default_rng(2)
    params = init_params(mcfg, 3, 5, r)
    x = r.normal(size=(2, 5, 3))
    mask = np.ones((2, 5), dtype=bool)
    mask[0, :2] = False
    out, _ = model_forward(params, x, mcfg, mask=mask)
    x[0, :2] = 100.0 * r.normal(size=(2, 3))
    out2, _ = model_forward(params, x, mcfg, mask=mask)
    for k in ("logits", "confidence", "return", "attention"):
        np.testing.assert_allclose(out2[k], out[k], rtol=0, atol=1e-12, err_msg=k)
    assert np.all(out["attention"][0, :2] == 0)


def test_gradcheck_cli_transformer_config():
    res = CliRunner().invoke(app, ["gradcheck", "--config", str(ROOT / "configs" / "transformer_1h.yaml")])
    assert res.exit_code == 0, res.output
    assert "enc.1.attn.Wqkv" in res.output and "enc_norm.gamma" in res.output and "FAIL" not in res.output


def test_tiny_transformer_trains_and_evaluates(tmp_path):
    runner = CliRunner()
    res = runner.invoke(app, ["train", "--config", str(ROOT / "configs" / "tiny.yaml"),
                              "--set", "model.type=transformer", "--set", "model.num_heads=2",
                              "--set", "model.d_ff=16", "--set", "model.num_layers=2",
                              "--set", "model.norm_first=true", "--set", "model.dropout=0.1",
                              "--set", f"train.runs_dir={tmp_path}"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    (run,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert "-transformer-" in run.name and (run / "checkpoints" / "best.npz").is_file()
    res = runner.invoke(app, ["evaluate", "--run", str(run)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert (run / "eval" / "test" / "predictions.csv").is_file()
