"""Chapter 7 from scratch against independent references: brute-force loops, closed forms, autograd,
torch.nn.functional.triplet_margin_loss, sklearn's ROC/AUC (tests only) and the Mann-Whitney statistic."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402
from sklearn.metrics import roc_curve as sk_roc_curve  # noqa: E402

from bad_input_table import table_tests  # noqa: E402
from dlcourse import metric_diagrams, metric_learning  # noqa: E402
from dlcourse import metric_learning as ml  # noqa: E402

RNG = np.random.default_rng(0)


def _brute_distances(A, B):
    return np.array([[np.sqrt(np.sum((a - b) ** 2)) for b in B] for a in A]).reshape(len(A), len(B))


# ---------------------------------------------------------------- distances

def test_pairwise_distances_match_a_loop_torch_cdist_and_the_torch_twin():
    A, B = RNG.normal(size=(7, 5)), RNG.normal(size=(4, 5))
    expected = _brute_distances(A, B)
    np.testing.assert_allclose(ml.pairwise_distances(A, B), expected, atol=1e-12)
    np.testing.assert_allclose(ml.pairwise_distances(A, B), torch.cdist(torch.tensor(A), torch.tensor(B)).numpy(),
                               atol=1e-12)
    np.testing.assert_allclose(ml.pairwise_distances(A, B, squared=True), expected ** 2, atol=1e-12)
    np.testing.assert_allclose(ml.pairwise_distances_torch(A, B).numpy(), expected, atol=1e-12)
    within = ml.pairwise_distances(A)
    assert np.all(np.diag(within) == 0) and np.allclose(within, within.T)


def test_pairwise_distances_survive_a_large_common_offset():
    A = RNG.normal(size=(6, 3)) + 1e6  # the expansion without centring would lose every digit
    np.testing.assert_allclose(ml.pairwise_distances(A), _brute_distances(A, A), atol=1e-7)


def test_torch_distances_have_finite_gradients_even_for_duplicate_points():
    Z = torch.tensor(np.vstack([RNG.normal(size=(3, 4)), np.zeros((2, 4))]), requires_grad=True)
    ml.pairwise_distances_torch(Z).sum().backward()
    assert torch.all(torch.isfinite(Z.grad))
    W = torch.tensor(RNG.normal(size=(5, 4)), requires_grad=True)
    ml.pairwise_distances_torch(W).sum().backward()
    reference = W.detach().clone().requires_grad_(True)
    torch.cdist(reference, reference).sum().backward()
    np.testing.assert_allclose(W.grad.numpy(), reference.grad.numpy(), atol=1e-10)


def test_paired_distances_match_torch_pairwise_distance_without_eps():
    A, B = RNG.normal(size=(6, 3)), RNG.normal(size=(6, 3))
    expected = torch.nn.functional.pairwise_distance(torch.tensor(A), torch.tensor(B), eps=0.0).numpy()
    np.testing.assert_allclose(ml.paired_distances(A, B), expected, atol=1e-12)
    np.testing.assert_allclose(ml.paired_distances_torch(A, B).numpy(), expected, atol=1e-12)


# ---------------------------------------------------------------- contrastive loss

def test_contrastive_loss_worked_values_with_the_y_zero_same_convention():
    d, y = np.array([0.0, 0.5, 0.0, 0.4, 1.5]), np.array([0, 0, 1, 1, 1])
    # same pairs cost d^2 / 2; different pairs max(0, m - d)^2 / 2 with m = 1
    expected = np.array([0.0, 0.125, 0.5, 0.18, 0.0])
    np.testing.assert_allclose(ml.contrastive_loss(d, y, 1.0, reduction="none"), expected)
    assert ml.contrastive_loss(d, y, 1.0) == pytest.approx(expected.mean())
    assert ml.contrastive_loss(d, y, 1.0, reduction="sum") == pytest.approx(expected.sum())
    # the unsquared form of the lecture notes: a different pair at d = 0 costs m / 2, not m
    assert ml.contrastive_loss([0.0], [1], margin=2.0, power=1) == pytest.approx(1.0)
    assert ml.contrastive_loss([0.7], [0], margin=2.0, power=1) == pytest.approx(0.35)


def test_contrastive_loss_in_the_other_convention_is_the_same_with_y_flipped():
    d, y = RNG.uniform(0, 2, 50), RNG.integers(0, 2, 50)
    similar = 1 - y  # "1 = similar", as Keras examples write it
    other = np.mean(similar / 2 * d ** 2 + (1 - similar) / 2 * np.maximum(0, 1.0 - d) ** 2)
    assert ml.contrastive_loss(d, y, 1.0) == pytest.approx(other, rel=1e-12)


@pytest.mark.parametrize("power", [1, 2])
def test_contrastive_gradient_matches_the_closed_form(power):
    z1, z2 = RNG.normal(size=(12, 3)), RNG.normal(size=(12, 3)) * 0.3
    y = np.arange(12) % 2
    Z1 = torch.tensor(z1, requires_grad=True)
    loss = ml.contrastive_loss_torch(ml.paired_distances_torch(Z1, torch.tensor(z2)), y, 1.2, power, "sum")
    loss.backward()
    d = np.linalg.norm(z1 - z2, axis=1)
    unit = (z1 - z2) / d[:, None]  # dd/dz1
    hinge = np.maximum(0, 1.2 - d)
    dL_dd = np.where(y == 0, power / 2 * d ** (power - 1), -power / 2 * hinge ** (power - 1) * (hinge > 0))
    np.testing.assert_allclose(Z1.grad.numpy(), dL_dd[:, None] * unit, atol=1e-10)
    assert loss.item() == pytest.approx(ml.contrastive_loss(d, y, 1.2, power, "sum"), rel=1e-12)


# ---------------------------------------------------------------- triplet loss

@pytest.mark.parametrize("margin", [1e-3, 0.2, 1.0, 3.0])  # torch refuses margin 0
def test_triplet_loss_matches_torch_triplet_margin_loss(margin):
    a, p, n = (RNG.normal(size=(20, 6)) for _ in range(3))
    expected = torch.nn.functional.triplet_margin_loss(*(torch.tensor(x) for x in (a, p, n)), margin=margin,
                                                       eps=0.0, reduction="none").numpy()
    np.testing.assert_allclose(ml.triplet_loss(a, p, n, margin, reduction="none"), expected, atol=1e-12)
    assert ml.triplet_loss(a, p, n, margin) == pytest.approx(expected.mean(), abs=1e-12)
    np.testing.assert_allclose(ml.triplet_loss_torch(a, p, n, margin, "none").numpy(), expected, atol=1e-12)


def test_triplet_loss_has_the_sign_that_pulls_positives_in():
    a = np.zeros((1, 2))
    near, far = np.array([[0.1, 0.0]]), np.array([[2.0, 0.0]])
    assert ml.triplet_loss(a, near, far, 0.5) == 0.0            # positive close, negative far: satisfied
    assert ml.triplet_loss(a, far, near, 0.5) == pytest.approx(2.4)  # 0.5 + 2.0 - 0.1
    A = torch.tensor(a, requires_grad=True)
    P = torch.tensor(far, requires_grad=True)
    ml.triplet_loss_torch(A, P, torch.tensor(near), 0.5).backward()
    assert P.grad[0, 0] > 0  # so a descent step -grad moves the positive (at x = 2) towards the anchor


# ---------------------------------------------------------------- mining

def _brute_batch_hard(D, labels):
    out = []
    for i in range(len(D)):
        pos = [j for j in range(len(D)) if j != i and labels[j] == labels[i]]
        neg = [j for j in range(len(D)) if labels[j] != labels[i]]
        if pos and neg:
            hp = max(pos, key=lambda j: (D[i, j], -j))
            hn = min(neg, key=lambda j: (D[i, j], j))
            out.append((i, hp, hn))
    return out


def _brute_semi_hard(D, labels):
    out = []
    for a in range(len(D)):
        neg = [j for j in range(len(D)) if labels[j] != labels[a]]
        for p in range(len(D)):
            if p == a or labels[p] != labels[a] or not neg:
                continue
            farther = [j for j in neg if D[a, j] > D[a, p]]
            n = min(farther, key=lambda j: (D[a, j], j)) if farther else max(neg, key=lambda j: (D[a, j], -j))
            out.append((a, p, n))
    return out


@pytest.mark.parametrize("seed", range(6))
def test_batch_hard_and_semi_hard_mining_match_brute_force_loops(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 14))
    labels = rng.integers(0, 3, n)
    D = ml.pairwise_distances(rng.integers(-2, 3, size=(n, 2)))  # integer points: many tied distances
    assert list(zip(*ml.batch_hard_triplets(D, labels))) == _brute_batch_hard(D, labels)
    assert list(zip(*ml.semi_hard_triplets(D, labels))) == _brute_semi_hard(D, labels)


def test_batch_hard_loss_twins_agree_and_match_the_mined_triplets():
    Z, labels = RNG.normal(size=(16, 4)), np.repeat(np.arange(4), 4)
    a, p, n = ml.batch_hard_triplets(ml.pairwise_distances(Z), labels)
    expected = ml.triplet_loss(Z[a], Z[p], Z[n], 0.3)
    assert ml.batch_hard_triplet_loss(Z, labels, 0.3) == pytest.approx(expected, rel=1e-12)
    assert ml.batch_hard_triplet_loss_torch(Z, labels, 0.3).item() == pytest.approx(expected, rel=1e-12)


# ---------------------------------------------------------------- verification

def test_roc_curve_and_auc_match_sklearn_and_the_mann_whitney_statistic():
    d = np.round(RNG.uniform(0, 3, 200), 1)  # rounded: many ties
    y = (RNG.uniform(size=200) < 0.5 + 0.15 * (d - 1.5)).astype(int)  # different pairs lie farther
    fpr, tpr, thresholds = ml.roc_curve(d, y)
    sk_fpr, sk_tpr, _ = sk_roc_curve(y == 0, -d, drop_intermediate=False)
    np.testing.assert_allclose(fpr, sk_fpr)
    np.testing.assert_allclose(tpr, sk_tpr)
    same, diff = d[y == 0], d[y == 1]
    mann_whitney = (np.sum(same[:, None] < diff[None, :]) + 0.5 * np.sum(same[:, None] == diff[None, :])) / (
        len(same) * len(diff))
    assert ml.roc_auc(d, y) == pytest.approx(mann_whitney, abs=1e-12)
    assert ml.roc_auc(d, y) == pytest.approx(roc_auc_score(y == 0, -d), abs=1e-12)
    assert thresholds[0] == -np.inf and np.all(np.diff(thresholds) > 0)


def test_verification_accuracy_and_best_threshold_against_a_scan():
    d = np.array([0.1, 0.2, 0.35, 0.4, 0.9, 1.0])
    y = np.array([0, 0, 1, 0, 1, 1])
    assert ml.verification_accuracy(d, y, 0.2) == pytest.approx(5 / 6)
    assert ml.verification_accuracy(d, y, -np.inf) == pytest.approx(0.5)
    scan = {t: np.mean((d <= t) == (y == 0)) for t in np.r_[-np.inf, d]}
    best = max(scan.values())
    assert ml.best_threshold(d, y) == min(t for t, acc in scan.items() if acc == best) == 0.2


# ---------------------------------------------------------------- identification and retrieval

def test_knn_classify_against_a_vote_loop():
    for seed in range(5):
        rng = np.random.default_rng(seed)
        D, labels, k = rng.integers(0, 4, size=(9, 12)).astype(float), rng.integers(0, 3, 12), 5
        for q, row in enumerate(D):
            order = sorted(range(12), key=lambda j: (row[j], j))[:k]
            counts = {c: sum(labels[j] == c for j in order) for c in labels[order]}
            winner = next(labels[j] for j in order if counts[labels[j]] == max(counts.values()))
            assert ml.knn_classify(D, labels, k)[q] == winner


def test_identify_uses_the_mean_distance_to_each_class_templates_and_refuses_beyond_gamma():
    D = np.array([[0.1, 3.0, 0.5, 0.6], [2.0, 2.0, 2.5, 2.5]])
    labels = np.array([0, 0, 1, 1])  # class 0: mean 1.55 for query 0; class 1: mean 0.55
    np.testing.assert_array_equal(ml.identify(D, labels, 3), [1, 0])
    np.testing.assert_array_equal(ml.identify(D, labels, 3, threshold=1.0), [1, -1])
    one_template = ml.identify(D[:, [0, 2]], labels[[0, 2]], 2)  # template matching: argmin distance
    np.testing.assert_array_equal(one_template, D[:, [0, 2]].argmin(1))


def test_recall_at_k_against_a_loop_and_leave_one_out():
    rng = np.random.default_rng(3)
    Z, labels = rng.normal(size=(30, 2)), rng.integers(0, 4, 30)
    D = ml.pairwise_distances(Z)
    np.fill_diagonal(D, np.inf)
    for k in (1, 3, 7):
        hits = [any(labels[j] == labels[q] for j in np.argsort(D[q], kind="stable")[:k]) for q in range(30)]
        assert ml.recall_at_k(D, labels, labels, k) == pytest.approx(np.mean(hits))
    assert ml.recall_at_k(np.array([[np.inf, 1.0]]), [0], [0, 1], 1) == 0.0  # the excluded item is no hit
    ks = [ml.recall_at_k(D, labels, labels, k) for k in range(1, 10)]
    assert all(a <= b for a, b in zip(ks, ks[1:]))


def test_pca_matches_the_covariance_eigenvectors_up_to_the_fixed_sign():
    X = RNG.normal(size=(100, 4)) @ np.diag([3.0, 2.0, 1.0, 0.5])
    projected, components, ratios = ml.pca(X, 2)
    values, vectors = np.linalg.eigh(np.cov(X.T))
    top = vectors[:, ::-1][:, :2].T
    np.testing.assert_allclose(np.abs(components), np.abs(top), atol=1e-10)
    np.testing.assert_allclose(ratios, values[::-1][:2] / values.sum(), atol=1e-12)
    np.testing.assert_allclose(projected, (X - X.mean(0)) @ components.T)
    assert np.all(components[np.arange(2), np.abs(components).argmax(1)] > 0)


# ---------------------------------------------------------------- drawings

def test_siamese_and_triplet_diagrams_draw_one_shared_network_per_branch():
    for k in (2, 3):
        ax = metric_diagrams.draw_siamese_network(k)
        gids = [p.get_gid() for p in ax.patches]
        assert gids.count("branch") == k and gids.count("embedding") == k and gids.count("loss") == 1
        assert sum(line.get_gid() == "share" for line in ax.lines) == k - 1
        plt.close(ax.figure)


def test_verification_figure_marks_the_operating_point_of_the_threshold():
    d, y = np.array([0.1, 0.3, 0.5, 0.9]), np.array([0, 1, 0, 1])
    fig = metric_diagrams.plot_verification(d, y, 0.5)
    point = fig.axes[1].lines[1].get_xydata()[0]
    np.testing.assert_allclose(point, [0.5, 1.0])  # FPR 1/2, TPR 2/2
    assert "accuracy 0.750" in fig._suptitle.get_text()
    plt.close(fig)


# ---------------------------------------------------------------- bad input

_Z = RNG.normal(size=(6, 3))
_LAB = np.array([0, 0, 1, 1, 2, 2])
_D = ml.pairwise_distances(_Z)
_d, _y = np.array([0.1, 0.5, 0.9]), np.array([0, 1, 1])
_BOOL = np.ones((6, 3), dtype=bool)
_NAN = np.full((6, 3), np.nan)
TABLE = {
    "pairwise_distances": (ml.pairwise_distances, {"A": _Z, "B": _Z[:2]},
                           {"A": [_BOOL, _NAN, np.ones(3), "x"], "B": [np.ones((2, 4)), _BOOL],
                            "squared": [1, "yes"]}),
    "pairwise_distances_torch": (ml.pairwise_distances_torch, {"A": _Z, "B": _Z[:2]},
                                 {"A": [torch.ones(6, 3, dtype=torch.bool), torch.tensor(_NAN), np.ones(3)],
                                  "B": [np.ones((2, 4))], "squared": [1]}),
    "paired_distances": (ml.paired_distances, {"A": _Z, "B": _Z},
                         {"B": [_Z[:2], _Z[:, :2], _BOOL], "squared": [0]}),
    "paired_distances_torch": (ml.paired_distances_torch, {"A": _Z, "B": _Z},
                               {"B": [_Z[:2], torch.tensor(_NAN)], "squared": [0]}),
    "contrastive_loss": (ml.contrastive_loss, {"distances": _d, "y": _y},
                         {"distances": [-_d, np.array([np.nan, 1, 1]), _d[:2], _d[:, None]],
                          "y": [np.array([0, 2, 1]), np.array([True, False, True]), np.array([0.0, 1, 1])],
                          "margin": [-1.0, np.nan, True], "power": [3, 0], "reduction": ["avg"]}),
    "contrastive_loss_torch": (ml.contrastive_loss_torch, {"distances": torch.tensor(_d), "y": _y},
                               {"distances": [torch.tensor(-_d), torch.tensor([np.nan, 1, 1])],
                                "y": [np.array([0, 2, 1])], "margin": [-1.0], "power": [3],
                                "reduction": ["avg"]}),
    "triplet_loss": (ml.triplet_loss, {"anchor": _Z, "positive": _Z, "negative": _Z},
                     {"positive": [_Z[:2], _BOOL], "negative": [_NAN, _Z.T], "margin": [-0.1, "1"],
                      "reduction": ["max"]}),
    "triplet_loss_torch": (ml.triplet_loss_torch, {"anchor": _Z, "positive": _Z, "negative": _Z},
                           {"positive": [_Z[:2]], "negative": [torch.tensor(_NAN)], "margin": [-0.1]}),
    "batch_hard_triplets": (ml.batch_hard_triplets, {"D": _D, "labels": _LAB},
                            {"D": [_D[:3], -_D, np.full((6, 6), np.nan)], "labels": [_LAB[:3], _LAB * 1.5]}),
    "semi_hard_triplets": (ml.semi_hard_triplets, {"D": _D, "labels": _LAB},
                           {"D": [_D[:, :2], -_D], "labels": [_LAB.astype(bool)]}),
    "batch_hard_triplet_loss": (ml.batch_hard_triplet_loss, {"embeddings": _Z, "labels": _LAB},
                                {"embeddings": [_NAN, _BOOL], "labels": [_LAB[:2], np.zeros(6, int)],
                                 "margin": [-1]}),
    "batch_hard_triplet_loss_torch": (ml.batch_hard_triplet_loss_torch, {"embeddings": _Z, "labels": _LAB},
                                      {"embeddings": [torch.tensor(_NAN)], "labels": [np.zeros(6, int)],
                                       "margin": [-1]}),
    "roc_curve": (ml.roc_curve, {"distances": _d, "y": _y},
                  {"distances": [-_d, _d[:2]], "y": [np.zeros(3, int), np.array([0, 1, 3])]}),
    "roc_auc": (ml.roc_auc, {"distances": _d, "y": _y}, {"y": [np.ones(3, int)], "distances": [_d * np.nan]}),
    "verification_accuracy": (ml.verification_accuracy, {"distances": _d, "y": _y, "threshold": 0.5},
                              {"threshold": [np.nan, True, "0.5", [0.5]], "distances": [np.array([])]}),
    "best_threshold": (ml.best_threshold, {"distances": _d, "y": _y}, {"y": [np.zeros(3, int), _y[:2]]}),
    "knn_classify": (ml.knn_classify, {"D": _D, "gallery_labels": _LAB, "k": 3},
                     {"k": [0, 7, 1.0], "D": [np.full((2, 6), np.nan), -_D, _D[0]],
                      "gallery_labels": [_LAB[:4], _LAB > 0]}),
    "identify": (ml.identify, {"D": _D, "gallery_labels": _LAB, "n_classes": 3, "threshold": 1.0},
                 {"n_classes": [2, 0], "threshold": [-1.0, np.nan], "D": [np.full((6, 6), -np.inf)]}),
    "recall_at_k": (ml.recall_at_k, {"D": _D, "query_labels": _LAB, "gallery_labels": _LAB, "k": 2},
                    {"k": [0, 7], "query_labels": [_LAB[:2], _LAB * 0.5], "D": [np.zeros((0, 6))]}),
    "pca": (ml.pca, {"X": _Z, "n_components": 2},
            {"X": [_Z[:1], _NAN, _BOOL, _Z[0]], "n_components": [0, 4, 2.0]}),
    "draw_siamese_network": (metric_diagrams.draw_siamese_network, {"n_branches": 3},
                             {"n_branches": [1, 4, "2"], "ax": ["axes"]}),
    "plot_verification": (metric_diagrams.plot_verification, {"distances": _d, "y": _y, "threshold": 0.5},
                          {"threshold": [np.nan], "distances": [-_d], "y": [np.array([0, 0, 5])],
                           "max_distance": [-1.0]}),
}
globals().update(table_tests(TABLE, [metric_learning, metric_diagrams], cleanup=lambda: plt.close("all")))


# ---------------------------------------------------------------- twins accept and reject the same inputs

_TWINS = [
    (ml.pairwise_distances, ml.pairwise_distances_torch, {"A": _Z, "B": _Z[:2]},
     {"A": [_BOOL, _NAN, np.ones(3), np.array([["a"]])], "B": [np.ones((2, 4))], "squared": [1]}),
    (ml.paired_distances, ml.paired_distances_torch, {"A": _Z, "B": _Z},
     {"B": [_Z[:2], _BOOL, _NAN], "squared": [0]}),
    (ml.contrastive_loss, ml.contrastive_loss_torch, {"distances": _d, "y": _y},
     {"distances": [-_d, _d[:2], _d * np.nan], "y": [np.array([0, 2, 1]), np.array([True, False, True])],
      "margin": [-1.0, True], "power": [3], "reduction": ["avg"]}),
    (ml.triplet_loss, ml.triplet_loss_torch, {"anchor": _Z, "positive": _Z, "negative": _Z},
     {"positive": [_Z[:2], _BOOL], "negative": [_NAN], "margin": [-0.1], "reduction": ["max"]}),
    (ml.batch_hard_triplet_loss, ml.batch_hard_triplet_loss_torch, {"embeddings": _Z, "labels": _LAB},
     {"embeddings": [_NAN, _BOOL], "labels": [_LAB[:2], np.zeros(6, int), _LAB * 0.5], "margin": [-1]}),
]


@pytest.mark.parametrize("numpy_fn, torch_fn, kwargs, bad", _TWINS, ids=[t[0].__name__ for t in _TWINS])
def test_twins_accept_and_reject_the_same_inputs(numpy_fn, torch_fn, kwargs, bad):
    for as_tensor in (False, True):  # the same values as arrays and as tensors
        call = {k: torch.tensor(v) if as_tensor and isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
        np.testing.assert_allclose(np.asarray(torch_fn(**call)), np.asarray(numpy_fn(**call)), atol=1e-12)
    for arg, values in bad.items():
        for value in values:
            for fn in (numpy_fn, torch_fn):
                with pytest.raises(ValueError):
                    fn(**{**kwargs, arg: value})
