import torch
from torch import nn

from labelwise.config import TrainConfig
from labelwise.training import build_optimizer


class _Model(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4))
        self.head = nn.Linear(4, 2)


def _lr_of(opt: torch.optim.Optimizer) -> dict[int, tuple[float, float]]:
    return {id(p): (g["lr"], g["weight_decay"]) for g in opt.param_groups for p in g["params"]}


def test_head_lr_applies_outside_the_encoder_and_decay_only_to_matrices():
    model, loss = _Model(), nn.Linear(2, 2)  # a loss with parameters (a projection head, say)
    opt = build_optimizer(nn.ModuleDict({"model": model, "loss": loss}),
                          TrainConfig(lr=1e-5, head_lr=1e-3, weight_decay=0.1))
    lr = _lr_of(opt)
    assert lr[id(model.encoder[0].weight)] == (1e-5, 0.1)
    assert lr[id(model.encoder[1].weight)] == (1e-5, 0.0)  # a norm: no decay
    assert lr[id(model.head.weight)] == (1e-3, 0.1)
    assert lr[id(model.head.bias)] == (1e-3, 0.0)
    assert lr[id(loss.weight)] == (1e-3, 0.1)


def test_without_head_lr_one_rate_in_the_two_groups_of_earlier_versions():
    model = _Model()
    model.encoder[0].requires_grad_(False)  # frozen parameters are left out
    opt = build_optimizer(nn.ModuleDict({"model": model}), TrainConfig(lr=2e-4))
    assert len(opt.param_groups) == 2
    lr = _lr_of(opt)
    assert {v[0] for v in lr.values()} == {2e-4}
    assert id(model.encoder[0].weight) not in lr


def test_the_fused_update_matches_the_per_tensor_one():
    torch.manual_seed(0)
    a, b = _Model(), _Model()
    b.load_state_dict(a.state_dict())
    cfg = TrainConfig(lr=1e-2, head_lr=3e-2, weight_decay=0.1)
    fused = build_optimizer(nn.ModuleDict({"model": a}), cfg)
    assert fused.defaults["fused"] is True
    plain = torch.optim.AdamW([{**g, "params": list(q), "fused": None, "foreach": False} for g, q in zip(
        fused.param_groups, ([dict(b.named_parameters())[n] for n, p in a.named_parameters()
                              if any(p is r for r in g["params"])] for g in fused.param_groups), strict=True)])
    assert not any(g["fused"] for g in plain.param_groups)
    for _ in range(3):
        x = torch.randn(5, 4)
        for model, opt in ((a, fused), (b, plain)):
            opt.zero_grad()
            model.head(model.encoder(x)).square().sum().backward()
            opt.step()
    for (name, p), q in zip(a.named_parameters(), b.parameters(), strict=True):
        assert torch.allclose(p, q, atol=1e-6), name
