"""Starting an attribute model's classifiers at the label priors (the recipe's ``bias_init``).

From scratch the logits then begin where the constant best guess is,
instead of spending the first steps learning 40 base rates. A model that
supports it lists its last linear layers with ``output_layers()``: pairs of
a layer and the attribute index of each of its rows. Each gets zero weights
and, as bias, the constant that its own loss scores best: the log-odds for a
logit model, or what ``prior_bias(prior)`` returns for a model that scores in
another space (DMM-CNN regresses +-1 targets). Every model of a table then
starts from the same guess.
"""

from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def start_at_prior(model: nn.Module, prior) -> None:
    """Set ``model``'s output layers so that it predicts ``prior`` (40 positive rates) for every image."""
    prior = torch.as_tensor(prior, dtype=torch.float64).clamp(1e-4, 1 - 1e-4)
    bias = model.prior_bias(prior) if hasattr(model, "prior_bias") else (prior / (1 - prior)).log()
    for layer, rows in model.output_layers():
        layer.weight.zero_()
        layer.bias.copy_(bias.float()[rows])
