"""Widens the bundled model's network without changing what it computes (Net2WiderNet: Chen, Goodfellow and
Shlens, "Net2Net", ICLR 2016), so a wider network can start from version 1's weights: from random weights this
data leaves the network at chance for epochs (train.py's INIT).

Every new channel copies an existing one (its filter and its batch-norm statistics); every layer that reads the
copies splits the original's input weights among them in random shares that sum to one. In eval mode the wider
network's logits are the narrower one's; in training the copies get different gradients, so they grow apart.

Channels that a residual sum adds together must be copied alike: the stem's output and layer1's (an identity
shortcut), and each later stage's convolution and downsample outputs.
"""
import torch


def _plan(widths, blocks):
    """(key prefix, output group, input group) of every convolution and the classifier; batch norms follow their convolution."""
    assert all(n == 1 for n in blocks), "one block per stage, as the bundled model has"
    layers = [("stem.0", "s1", "rgb")]
    before = "s1"
    for i in range(1, len(widths) + 1):
        after = "s1" if i == 1 else f"s{i}"   # layer1 keeps the stem's width: its shortcut is the identity
        layers += [(f"layer{i}.0.conv1.0", f"inner{i}", before), (f"layer{i}.0.conv2.0", after, f"inner{i}")]
        if i > 1:
            layers.append((f"layer{i}.0.downsample.0", after, before))
        before = after
    layers.append(("fc", "classes", before))
    return layers


def _group_widths(stem_width, widths):
    sizes = {"s1": stem_width}
    for i, w in enumerate(widths, start=1):
        sizes[f"inner{i}"] = w
        if i > 1:
            sizes[f"s{i}"] = w
    return sizes


def widen(state, stem_width, widths, new_stem_width, new_widths, blocks, generator):
    """The state dict of the network with `new_widths` that computes what `state` (with `widths`) computes."""
    assert stem_width == widths[0] and new_stem_width == new_widths[0], "layer1 has no downsample: stem and layer1 share a width"
    old, new = _group_widths(stem_width, widths), _group_widths(new_stem_width, new_widths)
    mapping = {}
    for group, n in old.items():
        m = new[group]
        assert m >= n, f"{group}: {m} channels cannot hold {n}"
        extra = torch.randint(0, n, (m - n,), generator=generator)
        mapping[group] = torch.cat([torch.arange(n), extra])

    def shares(group):
        """Per new input channel, its part of the original's weight: random, summing to 1 over each original's copies."""
        g = mapping[group]
        r = 0.5 + torch.rand(len(g), generator=generator, dtype=torch.float64)
        total = torch.zeros(old[group], dtype=torch.float64).index_add_(0, g, r)
        return (r / total[g]).float()

    out = dict(state)
    for prefix, out_group, in_group in _plan(widths, blocks):
        w = state[f"{prefix}.weight"]
        if out_group in mapping:
            w = w[mapping[out_group]]
        if in_group in mapping:
            share = shares(in_group).view(1, -1, *([1] * (w.dim() - 2)))
            w = w[:, mapping[in_group]] * share
        out[f"{prefix}.weight"] = w.clone()
        if out_group in mapping:
            norm = prefix[:-1] + "1"   # conv at .0, its batch norm at .1
            for p in ("weight", "bias", "running_mean", "running_var"):
                out[f"{norm}.{p}"] = state[f"{norm}.{p}"][mapping[out_group]].clone()
    return out


def widths_of(state, blocks):
    """(stem width, stage widths) of a state dict, read from its convolutions' shapes."""
    return state["stem.0.weight"].shape[0], [state[f"layer{i}.0.conv2.0.weight"].shape[0] for i in range(1, len(blocks) + 1)]
