import numpy as np
import pytest
import torch
from torch import nn

from bad_input_table import table_tests
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
    with pytest.raises(ValueError, match="X must hold numbers or booleans"):
        make_loader([["a", "b"]], np.zeros(1))
    with pytest.raises(ValueError, match="epochs must be an integer >= 1"):
        fit(nn.Linear(2, 2), (np.zeros((2, 2)), np.zeros(2)), nn.CrossEntropyLoss(),
            torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1), epochs=0)


# --- regressions: silent wrong answers found by probing ---------------------------------------------

def test_labels_of_shape_n_by_1_are_refused_instead_of_giving_accuracy_above_one():
    torch.manual_seed(0)
    model, X = nn.Linear(3, 4), torch.randn(10, 3)
    y = torch.randint(0, 4, (10, 1))  # argmax (N,) == y (N, 1) broadcast to (N, N): the old accuracy was 3.7
    with pytest.raises(ValueError, match=r"integer labels must have shape \(10,\)"):
        evaluate(model, (X, y), device="cpu")
    with pytest.raises(ValueError, match="labels must lie in 0..3"):
        evaluate(model, (X, torch.full((10,), 4)), device="cpu")


@pytest.mark.parametrize("target_shape", [(20,), (20, 1)])
@pytest.mark.parametrize("as_float", [False, True])
def test_one_logit_models_are_scored_by_the_sign_of_their_logit(target_shape, as_float):
    torch.manual_seed(1)
    X = torch.randn(20, 3)
    y = torch.randint(0, 2, (20,))
    model = nn.Linear(3, 1)
    with torch.no_grad():
        expected = ((model(X)[:, 0] > 0).long() == y).float().mean().item()
    target = y.reshape(target_shape).float() if as_float else y.reshape(target_shape)
    _, acc = evaluate(model, (X, target), batch_size=6, device="cpu")
    assert acc == pytest.approx(expected)  # the old code took argmax over one column: always class 0
    squeezed = nn.Sequential(model, nn.Flatten(0))  # output (N,)
    assert evaluate(squeezed, (X, target), device="cpu")[1] == pytest.approx(expected)
    with pytest.raises(ValueError, match="must be 0 or 1"):
        evaluate(model, (X, torch.full((20,), 2)), device="cpu")


def test_accuracy_is_nan_where_it_is_not_defined():
    torch.manual_seed(2)
    X = torch.randn(8, 3)
    multi_label = torch.randint(0, 2, (8, 4)).float()  # the old code counted all 32 entries over 8 examples
    assert np.isnan(evaluate(nn.Linear(3, 4), (X, multi_label), device="cpu")[1])
    assert np.isnan(evaluate(nn.Linear(3, 1), (X, torch.randn(8, 1)), device="cpu")[1])  # regression
    history = fit(nn.Linear(3, 1), (X, torch.randn(8, 1)), nn.MSELoss(),
                  torch.optim.SGD(nn.Linear(3, 1).parameters(), lr=0.1), epochs=1, progress=False, device="cpu")
    assert np.isnan(history.train_acc[0]) and np.isfinite(history.train_loss[0])


def test_fit_refuses_bad_labels_before_the_loss_raises_a_torch_error():
    X, y = torch.randn(6, 2), torch.randint(0, 3, (6, 1))
    model = nn.Linear(2, 3)
    with pytest.raises(ValueError, match="integer labels must have shape"):
        fit(model, (X, y), nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=0.1), 1, progress=False)


def test_empty_data_is_a_value_error_not_a_zero_division():
    with pytest.raises(ValueError, match="empty"):
        evaluate(nn.Linear(3, 2), (torch.ones(0, 3), torch.ones(0, dtype=torch.long)), device="cpu")
    empty = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.ones(0, 3), torch.ones(0)))
    with pytest.raises(ValueError, match="no examples"):
        evaluate(nn.Linear(3, 2), empty, device="cpu")


def test_make_loader_converts_float_targets_to_float32_and_accepts_lists():
    xb, yb = next(iter(make_loader([[0.0, 1.0], [2.0, 3.0]], np.array([0.5, 1.0]), shuffle=False)))
    assert xb.dtype == yb.dtype == torch.float32  # float64 targets used to clash with float32 outputs
    xb, yb = next(iter(make_loader(np.asfortranarray(np.ones((3, 2))), np.array([0, 1, 1], dtype=np.int32))))
    assert xb.dtype == torch.float32 and yb.dtype == torch.int64
    with pytest.raises(ValueError, match="bools are not numbers"):
        make_loader(np.ones((2, 2)), np.array([True, False]))
    with pytest.raises(ValueError, match="finite"):
        make_loader(np.full((2, 2), np.nan), np.zeros(2))


# --- every public function refuses bad input with a ValueError ----------------------------------------

from dlcourse import training  # noqa: E402
from dlcourse.training import History  # noqa: E402

XT, YT = np.random.default_rng(0).normal(size=(6, 2)), np.array([0, 1, 0, 1, 1, 0])
MODEL = nn.Linear(2, 2)
NOT_ARRAYS = [None, ["a", "b"], "text"]
BAD_SIZE = [0, -1, True, 2.5, None, "3"]

TABLE = {
    "History": (History, dict(train_loss=[1.0]), dict(train_loss=[None, "1.0", [True], ["a"]], val_acc=[3, [None]])),
    "make_loader": (make_loader, dict(X=XT, y=YT), dict(X=NOT_ARRAYS + [XT > 0, np.full((6, 2), np.nan), XT[:4],
                                                                        np.ones((0, 2)), np.float64(1.0)],
                                                        y=NOT_ARRAYS + [YT > 0, YT[:3]], batch_size=BAD_SIZE,
                                                        shuffle=[1, "yes", None], seed=[-1, 1.5, None])),
    "evaluate": (evaluate, dict(model=MODEL, data=(XT, YT), device="cpu"),
                 dict(model=[None, lambda x: x, "linear"], data=[None, XT, (XT,), (XT, YT[:, None]), (XT, YT + 2)],
                      loss_fn=[3, "mse"], batch_size=BAD_SIZE, device=["gpu0", 3])),
    "fit": (fit, dict(model=MODEL, train_data=(XT, YT), loss_fn=nn.CrossEntropyLoss(),
                      optimizer=torch.optim.SGD(MODEL.parameters(), lr=0.01), epochs=1, progress=False),
            dict(model=[None, "m"], train_data=[None, (XT, YT[:3]), (XT, YT[:, None])], loss_fn=[None, 3],
                 optimizer=[None, "sgd"], epochs=BAD_SIZE, val_data=[(XT,), (XT > 0, YT)], batch_size=BAD_SIZE,
                 device=["gpu0"], progress=[1, None], seed=[-1, None], scheduler=[3, "cosine"])),
}


globals().update(table_tests(TABLE, [training]))


