"""Training behaviour of the assembled models with the optimizer: pinned first losses of tiny
seeded runs (a silent change of the math shows up here) and overfitting one batch of 32 sample
windows to near-zero loss (catches sign errors that symmetric gradient tests miss)."""

from pathlib import Path

import numpy as np
import pytest

from cryptotrain.config import ModelConfig, TrainConfig, load_config
from cryptotrain.models import init_params, loss_and_grads
from cryptotrain.optim import adam_init, adam_step, clip_gradients, learning_rate

ROOT = Path(__file__).resolve().parents[1]

PINNED = {
    "gru-additive": (dict(type="gru_attention", attention="additive"),
                     [1.1535283270665952, 1.1477605748107649, 1.13614116085468, 1.124863732961651,
                      1.1190474192949982]),
    "lstm-both-3layers": (dict(type="lstm_attention", attention="both", num_layers=3, layer_norm=True,
                               residual=True, dropout=0.2, head_dropout=0.1),
                          [1.2762949471837737, 1.233116138666698, 1.3005338964873778, 1.3449716361254398,
                           1.1465325425548898]),
}


def _train(params, x, t, mcfg, tcfg, steps, mask=None):
    state, losses = adam_init(params), []
    for i in range(steps):
        loss, parts, grads, out = loss_and_grads(params, x, t, mcfg, mask=mask, train=True,
                                                 rng=np.random.default_rng(100 + i))
        clip_gradients(grads, tcfg.clip_norm, tcfg.clip_value)
        adam_step(params, grads, state, learning_rate(i, steps, tcfg), tcfg)
        losses.append(loss)
    return losses, out


@pytest.mark.parametrize("name", sorted(PINNED))
def test_first_losses_are_pinned(name):
    cfg, expected = PINNED[name]
    mcfg = ModelConfig(hidden_size=6, num_heads=2, head_sizes=[6], dtype="float64", w_confidence=0.5,
                       w_return=0.2, l2=1e-4, class_weights=[1.5, 0.5, 1.5], **cfg)
    tcfg = TrainConfig(optimizer="adamw", lr=5e-3, weight_decay=0.01, schedule="cosine", warmup_steps=2,
                       clip_value=1.0)
    r = np.random.default_rng(0)
    x = r.normal(size=(8, 6, 3))
    t = {"action": r.integers(0, 3, size=8), "confidence": r.random(8), "return": 0.01 * r.normal(size=8)}
    mask = np.ones((8, 6), dtype=bool)
    mask[0, :2] = False
    params = init_params(mcfg, 3, 6, np.random.default_rng(1))
    losses, _ = _train(params, x, t, mcfg, tcfg, 5, mask)
    np.testing.assert_allclose(losses, expected, rtol=1e-9)


@pytest.mark.parametrize("model_type,attention", [("gru_attention", "additive"), ("lstm_attention", "both")])
def test_tiny_model_overfits_a_batch_of_sample_windows(model_type, attention):
    from cryptotrain.data.dataset import build_dataset

    cfg = load_config(ROOT / "configs" / "tiny.yaml")
    ds = build_dataset(cfg, path=str(ROOT / cfg.data.path))
    x, t = ds.batch(ds.splits["train"][:32])
    mcfg = cfg.model.model_copy(update=dict(type=model_type, attention=attention, hidden_size=16, num_heads=2,
                                            head_sizes=[16], w_confidence=1.0, w_return=0.1))
    params = init_params(mcfg, x.shape[2], x.shape[1], np.random.default_rng(0))
    losses, out = _train(params, x, t, mcfg, TrainConfig(lr=1e-2), 150)
    assert losses[0] > 0.5
    assert losses[-1] < 5e-3, losses[::25]
    assert np.all(out["logits"].argmax(axis=1) == t["action"])
