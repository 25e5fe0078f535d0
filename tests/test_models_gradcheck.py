"""Full-model gradient checks (float64, Richardson-extrapolated central differences, max relative
error < 1e-6 for the input and every parameter), across the model configurations, and the
`cryptotrain gradcheck` command."""

import pytest
from typer.testing import CliRunner

from cryptotrain.cli import app
from cryptotrain.config import ModelConfig
from cryptotrain.models.gradcheck import check_model_grads

TOL = 1e-6
BASE = dict(hidden_size=4, num_heads=2, head_sizes=[4], dtype="float64", w_action=1.0, w_confidence=1.0,
            w_return=1.0, l2=1e-3)

CASES = {
    "gru-1-additive": dict(type="gru_attention"),
    "lstm-1-additive-noconcat-mse": dict(type="lstm_attention", concat_last=False, return_loss="mse"),
    "gru-3-additive-ln-res": dict(num_layers=3, layer_norm=True, residual=True),
    "lstm-3-multihead-last-causal": dict(type="lstm_attention", num_layers=3, attention="multihead",
                                         pooling="last", causal=True),
    "gru-1-multihead-mean": dict(attention="multihead", pooling="mean", class_weights=[2.0, 0.5, 1.0]),
    "gru-1-multihead-additive-tanh-nohidden": dict(attention="multihead", pooling="additive", head_sizes=[],
                                                   head_activation="tanh"),
    "lstm-1-both-ln": dict(type="lstm_attention", attention="both", layer_norm=True),
    "gru-3-both-dropout-res": dict(num_layers=3, attention="both", residual=True, dropout=0.3, head_dropout=0.2),
    "lstm-3-additive-ln-res-dropout-gelu": dict(type="lstm_attention", num_layers=3, layer_norm=True,
                                                residual=True, dropout=0.25, head_sizes=[4, 4],
                                                head_activation="gelu"),
}


def _assert_all_pass(results):
    bad = {k: v for k, v in results.items() if not v[2] < TOL}
    assert not bad, "gradient mismatch: " + ", ".join(
        f"{k} {tuple(s)} (max abs {a:.2e}, max rel {r:.2e})" for k, (s, a, r) in bad.items())


@pytest.mark.parametrize("name", sorted(CASES))
def test_model_grads(name):
    mcfg = ModelConfig(**{**BASE, **CASES[name]})
    _assert_all_pass(check_model_grads(mcfg, B=2, T=4, padded=True))


def test_model_grads_unpadded_batch_of_three():
    mcfg = ModelConfig(**{**BASE, "attention": "both", "causal": True})
    results = check_model_grads(mcfg, B=3, T=5, padded=False)
    assert set(results) >= {"x", "mha.Wqkv", "mha.bq", "mha.bv", "mha.Wo", "mha.bo", "mha_norm.gamma",
                            "pool.W", "pool.v", "head.out.W", "rnn.0.Wh"}
    _assert_all_pass(results)


def test_gradcheck_cli_tiny_config():
    res = CliRunner().invoke(app, ["gradcheck", "--config", "configs/tiny.yaml"])
    assert res.exit_code == 0, res.output
    assert "rnn.0.Wx" in res.output and "pass" in res.output and "FAIL" not in res.output
    assert "tolerance" in res.output


def test_gradcheck_cli_fails_with_impossible_tolerance():
    res = CliRunner().invoke(app, ["gradcheck", "--config", "configs/tiny.yaml", "--tol", "1e-30"])
    assert res.exit_code == 1
    assert "FAIL" in res.output
