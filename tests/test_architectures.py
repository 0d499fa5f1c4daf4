"""Architecture tour: exact parameter counts on the meta device, against closed forms and the papers."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
import torch
from torch import nn

from dlcourse.architectures import (LENET5_STACK, BasicBlock, DenseBlock, Inception, alexnet, cifar_resnet,
                                    compound_scaling, conv_params, count_parameters, draw_feature_maps,
                                    draw_residual_block, layer_table, lenet5, nin_block, on_meta, vgg16)


def _fc(n_in, n_out):
    return n_in * n_out + n_out  # the weights and one bias per output


def test_lenet5_has_61706_parameters_layer_by_layer():
    expected = conv_params(1, 6, 5) + conv_params(6, 16, 5) + _fc(400, 120) + _fc(120, 84) + _fc(84, 10)
    assert expected == 156 + 2416 + 48120 + 10164 + 850 == 61706
    assert count_parameters(on_meta(lenet5)) == 61706


def test_alexnet_ungrouped_has_62378344_parameters():
    convs = conv_params(3, 96, 11) + conv_params(96, 256, 5) + conv_params(256, 384, 3) + \
        conv_params(384, 384, 3) + conv_params(384, 256, 3)
    fcs = _fc(9216, 4096) + _fc(4096, 4096) + _fc(4096, 1000)
    assert convs + fcs == 62378344
    model = on_meta(alexnet)
    assert count_parameters(model) == 62378344
    assert all(p.is_meta for p in model.parameters())


def test_vgg16_has_138357544_parameters():
    channels = [3, 64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512]
    convs = sum(conv_params(a, b, 3) for a, b in zip(channels, channels[1:]))
    assert convs + _fc(25088, 4096) + _fc(4096, 4096) + _fc(4096, 1000) == 138357544
    assert count_parameters(on_meta(vgg16)) == 138357544


def test_layer_table_propagates_the_papers_shapes():
    rows = {name: shape for name, shape, _ in layer_table(on_meta(alexnet), (3, 227, 227))}
    assert rows["0"] == (96, 55, 55) and rows["2"] == (96, 27, 27) and rows["12"] == (256, 6, 6)
    lenet = layer_table(on_meta(lenet5), (1, 28, 28))
    assert [shape for _, shape, _ in lenet][:7] == [(6, 28, 28), (6, 28, 28), (6, 14, 14), (16, 10, 10),
                                                    (16, 10, 10), (16, 5, 5), (400,)]
    assert sum(p for _, _, p in lenet) == 61706
    assert layer_table(on_meta(vgg16), (3, 224, 224))[-1][1] == (1000,)


def test_inception_3a_counts_and_shapes():
    block = on_meta(Inception, 192, 64, 96, 128, 16, 32, 32)
    expected = conv_params(192, 64, 1) + conv_params(192, 96, 1) + conv_params(96, 128, 3) + \
        conv_params(192, 16, 1) + conv_params(16, 32, 5) + conv_params(192, 32, 1)
    assert count_parameters(block) == expected == 163696
    assert block(torch.empty(1, 192, 28, 28, device="meta")).shape == (1, 256, 28, 28)


def test_basic_block_counts_and_the_identity_shortcut():
    same = on_meta(BasicBlock, 64, 64)
    assert isinstance(same.shortcut, nn.Identity)
    assert count_parameters(same) == 2 * 64 * 64 * 9 + 2 * 2 * 64  # two bias-free convs and two BNs
    down = on_meta(BasicBlock, 64, 128, 2)
    assert count_parameters(down) == 64 * 128 * 9 + 128 * 128 * 9 + 64 * 128 + 3 * 2 * 128
    assert down(torch.empty(2, 64, 32, 32, device="meta")).shape == (2, 128, 16, 16)


def test_basic_block_adds_its_input_on_real_numbers():
    torch.manual_seed(0)
    block = BasicBlock(4, 4).eval()
    x = torch.randn(2, 4, 6, 6)
    with torch.no_grad():
        for p in block.body[-1].parameters():
            p.zero_()  # the last BN outputs 0: the block is relu(x)
        assert torch.equal(block(x), torch.relu(x))


def test_resnet18_cifar_and_small_blocks():
    assert count_parameters(on_meta(cifar_resnet)) == 11173962  # ResNet-18 with a 10-class head
    nin = on_meta(nin_block, 3, 96, 11, 4)
    assert count_parameters(nin) == conv_params(3, 96, 11) + 2 * conv_params(96, 96, 1)
    dense = on_meta(DenseBlock, 64, 32, 6)
    assert dense(torch.empty(1, 64, 8, 8, device="meta")).shape == (1, 64 + 6 * 32, 8, 8)
    assert count_parameters(dense) == sum(2 * (64 + 32 * i) + (64 + 32 * i) * 32 * 9 for i in range(6))


def test_global_average_pooling_has_no_parameters_and_1x1_conv_is_a_per_pixel_linear_map():
    assert count_parameters(nn.AdaptiveAvgPool2d(1)) == 0
    torch.manual_seed(0)
    conv, x = nn.Conv2d(5, 3, 1).double(), torch.randn(2, 5, 4, 4, dtype=torch.float64)
    per_pixel = torch.einsum("fc,nchw->nfhw", conv.weight[:, :, 0, 0], x) + conv.bias[None, :, None, None]
    torch.testing.assert_close(conv(x), per_pixel)


def test_compound_scaling_flops_about_double_per_step():
    s = compound_scaling(1)
    assert s["depth"] == pytest.approx(1.2) and s["width"] == pytest.approx(1.1)
    assert s["flops"] == pytest.approx(1.2 * 1.1**2 * 1.15**2) and 1.9 < s["flops"] < 2.0
    assert compound_scaling(0)["flops"] == 1.0


def test_diagrams_draw_one_box_group_per_layer():
    ax = draw_feature_maps(LENET5_STACK)
    assert len(ax.patches) == 3 * len(LENET5_STACK) + len(LENET5_STACK) - 1
    plt.close(ax.figure)
    ax = draw_residual_block()
    assert len(ax.patches) == 5 + 4 + 1
    plt.close(ax.figure)


BAD = [(conv_params, (0, 1, 3), "c_in"), (conv_params, (1, 1, 3, 1), "bias"), (lenet5, (0,), "n_classes"),
       (alexnet, (1.5,), "n_classes"), (vgg16, (True,), "n_classes"), (BasicBlock, (4, 4, 0), "stride"),
       (Inception, (4, 1, 1, 1, 1, 1, -1), "channels"), (DenseBlock, (4, 2, 0), "n_layers"),
       (nin_block, (3, 4, 3, 1, -1), "padding"), (compound_scaling, (-1,), "phi"),
       (compound_scaling, (1, 0.5), "alpha"), (cifar_resnet, ((),), "widths"), (count_parameters, ("vgg",), "Module"),
       (draw_feature_maps, ((),), "stack"), (layer_table, (nn.Linear(2, 2), (0,)), "input_shape")]


@pytest.mark.parametrize("fn, args, words", BAD, ids=[f"{b[0].__name__}-{i}" for i, b in enumerate(BAD)])
def test_bad_input_raises_a_clear_value_error(fn, args, words):
    with pytest.raises(ValueError, match=words):
        fn(*args)
