"""The symbol embedding of universe runs (model.symbol_embedding, models/__init__.py): gradients,
checkpoints and what a run with it does on the data of a pair it knows or does not."""

from __future__ import annotations

import numpy as np
import pytest

from cryptotrain.config import ModelConfig
from cryptotrain.evaluate.scorer import score
from cryptotrain.errors import UserError
from cryptotrain.models import init_params, model_backward, model_forward, model_loss
from cryptotrain.models.gradcheck import check_model_grads, small_model_config
from cryptotrain.predict import predict
from cryptotrain.train.checkpoint import load_checkpoint
from cryptotrain.train.trainer import fit
from test_universe import config, cut, make_universe


@pytest.mark.parametrize("kind", ["gru_attention", "lstm_attention", "transformer"])
def test_symbol_embedding_passes_the_gradient_check(kind):
    """dE must be the sum over time steps and over the batch rows of each pair of the input gradient's
    last K columns (a gradient from the last step only, or one that overwrites instead of adding for
    two windows of one pair, fails the central-difference check)."""
    res = check_model_grads(small_model_config(ModelConfig(type=kind, symbol_embedding=2)), B=3)
    shape, _, rel = res["symbol_embedding"]
    assert shape == (3, 2) and rel < 1e-6, res["symbol_embedding"]
    assert max(r for _, _, r in res.values()) < 1e-6


def test_embedding_changes_the_output_only_through_the_pair():
    """Two windows with the same features and different pairs get different outputs (the embedding
    reaches the model); the same pair, the same outputs; with K = 0 the parameters are exactly those
    of a model without the option (a single-pair run unchanged)."""
    m = ModelConfig(hidden_size=4, head_sizes=[4], symbol_embedding=3, dtype="float64")
    p = init_params(m, 5, 6, np.random.default_rng(0), n_pairs=4)
    x = np.repeat(np.random.default_rng(1).normal(size=(1, 6, 5)), 3, axis=0)
    out, _ = model_forward(p, x, m, pairs=np.array([1, 1, 2]))
    assert np.array_equal(out["logits"][0], out["logits"][1]) and not np.allclose(out["logits"][0], out["logits"][2])
    plain = init_params(ModelConfig(hidden_size=4, head_sizes=[4], dtype="float64"), 5, 6, np.random.default_rng(0))
    off = init_params(ModelConfig(hidden_size=4, head_sizes=[4], dtype="float64", symbol_embedding=0), 5, 6,
                      np.random.default_rng(0), n_pairs=4)
    assert plain.keys() == off.keys() and all(np.array_equal(plain[k], off[k]) for k in plain)
    _, cache = model_forward(p, x, m, pairs=np.array([1, 1, 2]))
    _, _, dout = model_loss(out, {"action": np.array([0, 1, 2]), "confidence": np.zeros(3), "return": np.zeros(3)},
                            m, p)
    _, grads = model_backward(p, cache, dout, m)
    assert not grads["symbol_embedding"][[0, 3]].any() and grads["symbol_embedding"][[1, 2]].any()


def test_embedding_run_trains_evaluates_and_keeps_its_pairs(tmp_path):
    """A universe run with the embedding: its checkpoint holds the (P, K) table and the pair list
    (the stored config's data.universe); evaluation on one known pair's file uses that pair's row (its
    predictions equal the run's own for that pair), predict of one candle of it gives evaluate's bits,
    and a file of another pair is refused, naming it."""
    data_dir = make_universe(tmp_path / "data")
    run = fit(config(tmp_path, data_dir, "model.symbol_embedding=2")).run_dir
    ck = load_checkpoint(run / "checkpoints" / "best.npz")
    assert ck.params["symbol_embedding"].shape == (3, 2)
    assert ck.config.data.universe == ["BTC/USDT", "ETH/USDT", "SOL/USDT"]
    own = score(run, split="test").predictions
    eth = score(run, split="test", data=data_dir / "ETH_USDT-1h.csv").predictions
    mine = own[own["symbol"] == "ETH/USDT"].merge(eth, on="timestamp")
    assert len(mine) > 0 and (mine["p_buy_x"] == mine["p_buy_y"]).all()
    last = eth.iloc[-1]   # predict scores one candle alone: evaluate's bits for that pair
    got = predict(run, data=data_dir / "ETH_USDT-1h.csv", at=str(int(last["timestamp"])), allow_stale=True).result
    assert got["p_buy"] == last["p_buy"] and got["data"]["symbol"] == "ETH/USDT"
    cut("DOGE_USDT", tmp_path)
    with pytest.raises(UserError, match="DOGE_USDT.*not trained on"):
        score(run, split="test", data=tmp_path / "DOGE_USDT-1h.csv")


def test_universe_resume_after_an_epoch_is_bit_identical(tmp_path, monkeypatch):
    """A universe run stopped after epoch 1 and resumed ends with the uninterrupted run's parameters
    bit for bit (dropout on, so the generators matter; the embedding trained): a resume that rebuilt
    the pairs in another order, refitted the per-pair normalizer or lost the shuffle state would not."""
    import cryptotrain.train.trainer as trainer_mod

    data_dir = make_universe(tmp_path / "data")
    extra = ("model.symbol_embedding=2", "model.dropout=0.2", "model.num_layers=2", "train.epochs=2")
    full = fit(config(tmp_path, data_dir, *extra), tmp_path / "full").run_dir
    real_save = trainer_mod.save_checkpoint

    def save_then_die(path, ck):
        real_save(path, ck)
        if path.name == "last.npz" and ck.epoch == 1:
            raise RuntimeError("simulated stop after epoch 1")

    monkeypatch.setattr(trainer_mod, "save_checkpoint", save_then_die)
    with pytest.raises(RuntimeError, match="simulated stop"):
        fit(config(tmp_path, data_dir, *extra), tmp_path / "cut")
    monkeypatch.setattr(trainer_mod, "save_checkpoint", real_save)
    fit(None, resume=tmp_path / "cut")
    a, b = (load_checkpoint(d / "checkpoints" / "last.npz").params for d in (full, tmp_path / "cut"))
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
