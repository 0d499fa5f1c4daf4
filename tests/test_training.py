import numpy as np
import pytest
import torch
from torch import nn

from dlcourse import seed_everything
from dlcourse.data import make_blobs
from dlcourse.training import evaluate, fit, make_loader


def test_fit_learns_separable_blobs_and_records_history():
    seed_everything(0)
    X, y = make_blobs(300, centers=3, std=0.5, seed=0)
    model = nn.Linear(2, 3)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    history = fit(model, (X, y), nn.CrossEntropyLoss(), opt, epochs=15, val_data=(X, y), progress=False)
    assert history.epochs == 15 and len(history.val_acc) == 15 and len(history.epoch_time) == 15
    assert history.train_loss[-1] < history.train_loss[0]
    assert history.val_acc[-1] >= 0.97


def test_evaluate_matches_a_direct_computation():
    torch.manual_seed(0)
    X = torch.randn(50, 4)
    y = torch.randint(0, 3, (50,))
    model = nn.Linear(4, 3)
    loss, acc = evaluate(model, (X, y), nn.CrossEntropyLoss(), batch_size=7, device="cpu")
    with torch.no_grad():
        logits = model(X)
    assert acc == pytest.approx((logits.argmax(1) == y).float().mean().item())
    assert loss == pytest.approx(nn.functional.cross_entropy(logits, y).item(), rel=1e-6)


def test_binary_accuracy_uses_the_zero_threshold_on_logits():
    X = torch.tensor([[1.0], [-1.0], [2.0], [-3.0]])
    y = torch.tensor([[1.0], [0.0], [0.0], [0.0]])
    model = nn.Linear(1, 1)
    with torch.no_grad():
        model.weight.fill_(1.0)
        model.bias.zero_()
    _, acc = evaluate(model, (X, y), device="cpu")
    assert acc == pytest.approx(0.75)


def test_fit_is_deterministic_given_the_seed():
    X, y = make_blobs(64, seed=1)

    def run():
        seed_everything(5)
        model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))
        opt = torch.optim.SGD(model.parameters(), lr=0.05)
        return fit(model, (X, y), nn.CrossEntropyLoss(), opt, epochs=3, batch_size=16, progress=False).train_loss

    assert run() == run()


def test_make_loader_validates_inputs():
    with pytest.raises(ValueError, match="same length"):
        make_loader(np.zeros((3, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="NumPy array or a torch tensor"):
        make_loader([[0, 1]], np.zeros(1))
    with pytest.raises(ValueError, match="epochs must be >= 1"):
        fit(nn.Linear(2, 2), (np.zeros((2, 2)), np.zeros(2)), nn.CrossEntropyLoss(),
            torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1), epochs=0)
