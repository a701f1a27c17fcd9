"""DMM-CNN: a deep multi-task multi-label CNN for facial attributes.

"Deep Multi-task Multi-label CNN for Effective Facial Attribute
Classification" (Mao et al., IEEE Trans. Affective Computing 2020). Implemented:

* Sec. 3.2 and Fig. 2: a shared trunk without its final pooling; the
  objective branch (1-level SPP, FC 1024, FC 22) and the subjective branch
  (3-level SPP, i.e. max pooling over 1x1, 2x2 and 3x3 bins, FC 2048, FC 1024,
  FC 18); the facial-landmark (FLD) branch on the 1-level SPP vector (FC 1024,
  FC 2T).
* Eq. 1-3: MSE losses of the landmarks and of each attribute on +-1 targets,
  joined as sum_j lambda_j L_FAC^j + beta L_FLD with beta = 0.5.
* Eq. 4: dynamic weights lambda_j = |(L_j(t) - L_j(t-1)) / L_j(t-1)| from the
  validation loss of each attribute (Eq. 2 on the validation set).
* Eq. 5-6: adaptive thresholds, tau <- tau + gamma l (N_FP - N_FN) / V on the
  validation set, with gamma = 0.01 and l the current epoch.

Choices the paper leaves open, and what we do:

* Trunk. The paper uses ResNet50; we take the profile's backbone
  (``mgmtn.models.trunk``).
* The 22/18 split. Sec. 3.2.1 names its examples the wrong way round
  (objective "Attractive, Big Nose", subjective "Bald, Male"); every other
  passage agrees on the reverse: Fig. 1 (objective: Eyeglasses, Bangs, Wearing
  Hat; subjective: Smiling, Pointy Nose, Big Lips), Sec. 1 ("Big Lips", "Oval
  Face" are very subjective), Sec. 3.2.1's next sentence (Wearing Hat and
  Eyeglasses against Smiling and Young), Sec. 4.2 (Mouth Open objective, Young
  subjective) and Sec. 4.3 (Pointy Nose, Smiling, Bushy Eyebrows subjective).
  Fig. 3, which lists the split, is not in the text. The other attributes
  follow the paper's criterion: a judgement of shape, size, age, beauty or
  degree that "appears in a subtle form" is subjective; the presence of an
  object, facial hair, a hair colour or texture, an open mouth, sex and blur
  are objective. Receding hairline (a degree) completes the 18.
* Landmarks. The paper regresses 72 dlib landmarks; we regress the 32 corners
  of the eight group boxes (``mgmtn.models.landmarks``), so T = 32. The FLD
  head belongs to the objective (``DMMObjective``), not to the model: only the
  loss uses it, and the saved predictor is the attribute network alone.
* P. Algorithm 1 updates lambda and tau every P iterations on the whole
  validation set; the shared loop validates once per epoch, so P is one
  epoch. lambda starts at 1 and first changes after the second validation.
* Thresholds in the logits. The model returns logits = score - tau, so
  sigmoid(logit) > 0.5 exactly when score > tau (Eq. 5): evaluating at 0.5
  applies the learned thresholds. The scores are in ``extras['scores']``.
* The fully connected layers are separated by ReLUs (the paper does not say).
* The start at the label priors (the recipe's ``bias_init``, which the paper
  does not use): the scores start at 2p - 1, the constant that Eq. 2 scores
  best, not at the log-odds that suit the logit models; those put a rare
  attribute's score near -3 against targets of -1, and the first few hundred
  steps go to pulling it back.

On ResNet50 the network and its landmark head hold 88.6M parameters, 355 MB
in float32: the paper's "model size is about 360M".
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mgmtn.attributes import NUM_ATTRIBUTES, attribute_index
from mgmtn.models.landmarks import NUM_POINTS
from mgmtn.models.objective import Objective
from mgmtn.models.output import ModelOutput
from mgmtn.models.trunk import TrunkModel

OBJECTIVE: tuple[str, ...] = (
    "5_o_Clock_Shadow", "Bald", "Bangs", "Black_Hair", "Blond_Hair", "Blurry", "Brown_Hair", "Eyeglasses",
    "Goatee", "Gray_Hair", "Male", "Mouth_Slightly_Open", "Mustache", "No_Beard", "Sideburns", "Straight_Hair",
    "Wavy_Hair", "Wearing_Earrings", "Wearing_Hat", "Wearing_Lipstick", "Wearing_Necklace", "Wearing_Necktie",
)
SUBJECTIVE: tuple[str, ...] = (
    "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Big_Lips", "Big_Nose", "Bushy_Eyebrows", "Chubby",
    "Double_Chin", "Heavy_Makeup", "High_Cheekbones", "Narrow_Eyes", "Oval_Face", "Pale_Skin", "Pointy_Nose",
    "Receding_Hairline", "Rosy_Cheeks", "Smiling", "Young",
)
BETA = 0.5  # weight of the landmark loss, Eq. 3
GAMMA = 0.01  # threshold step, Eq. 6


def spp(x: Tensor, levels: int) -> Tensor:
    """Spatial pyramid max pooling over 1x1 ... levels x levels bins: (B, C, H, W) -> (B, C * sum(n^2))."""
    return torch.cat([F.adaptive_max_pool2d(x, n).flatten(1) for n in range(1, levels + 1)], dim=1)


def fc_stack(*dims: int) -> nn.Sequential:
    """Fully connected layers of the given widths with ReLUs between them."""
    layers = []
    for width_in, width_out in zip(dims[:-1], dims[1:]):
        layers += [nn.Linear(width_in, width_out), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers[:-1])


def dynamic_weights(current: Tensor, previous: Tensor) -> Tensor:
    """Eq. 4: large while an attribute's validation loss still falls fast, small once it stalls."""
    return ((current - previous) / previous.clamp_min(1e-12)).abs()


def adapt_thresholds(thresholds: Tensor, scores: Tensor, targets: Tensor, epoch: int,
                     gamma: float = GAMMA) -> Tensor:
    """Eq. 6: move each threshold up by its surplus of false positives over false negatives on validation."""
    predicted, positive = scores > thresholds, targets.bool()
    surplus = (predicted & ~positive).sum(0) - (~predicted & positive).sum(0)
    return thresholds + gamma * epoch * surplus / len(scores)


class DMMCNN(TrunkModel):
    """Objective and subjective branches on a shared trunk, with adaptive thresholds (Fig. 2, Eq. 5).

    ``feature_dim`` is the size of the 1-level SPP vector, which the objective
    branch and the landmark head read.
    """

    def __init__(self, **trunk):
        super().__init__(**trunk)
        self.objective_branch = fc_stack(self.feature_dim, 1024, len(OBJECTIVE))
        self.subjective_branch = fc_stack(14 * self.feature_dim, 2048, 1024, len(SUBJECTIVE))
        order = torch.tensor([attribute_index(name) for name in OBJECTIVE + SUBJECTIVE])
        self.register_buffer("to_celeba", order.argsort(), persistent=False)
        self.register_buffer("thresholds", torch.zeros(NUM_ATTRIBUTES))

    def output_layers(self) -> list[tuple[nn.Module, Tensor]]:
        """Each branch's last layer and the attributes of its rows (``mgmtn.models.prior``)."""
        return [(branch[-1], torch.tensor([attribute_index(name) for name in names]))
                for branch, names in ((self.objective_branch, OBJECTIVE), (self.subjective_branch, SUBJECTIVE))]

    @staticmethod
    def prior_bias(prior: Tensor) -> Tensor:
        """The start at the label priors: Eq. 2's MSE on +-1 targets is least at 2p - 1, not at the log-odds."""
        return 2 * prior - 1

    def forward(self, x: Tensor) -> ModelOutput:
        """Logits are score - threshold; ``extras`` holds the scores and the 1-level SPP vector."""
        fmap = self.backbone(x)[-1]
        pooled = spp(fmap, 1)
        scores = torch.cat([self.objective_branch(pooled), self.subjective_branch(spp(fmap, 3))], dim=1)
        scores = scores[:, self.to_celeba]
        return ModelOutput(logits=scores - self.thresholds, extras={"scores": scores, "pooled": pooled})


class DMMObjective(Objective):
    """Eq. 1-4 and 6: the joint MSE loss with its landmark head, dynamic weights and threshold updates."""

    def __init__(self, in_features: int, beta: float = BETA, gamma: float = GAMMA):
        super().__init__()
        self.beta, self.gamma = beta, gamma
        self.landmarks = fc_stack(in_features, 1024, 2 * NUM_POINTS)
        self.register_buffer("weights", torch.ones(NUM_ATTRIBUTES))  # lambda_t, Eq. 4
        self.register_buffer("previous", torch.full((NUM_ATTRIBUTES,), float("nan")))  # L_val(t - 1)
        self.register_buffer("epoch", torch.zeros((), dtype=torch.long))  # l, Eq. 6

    def loss(self, model, batch):
        out = model(batch["image"])
        fac = (out.extras["scores"].float() - (2 * batch["labels"] - 1)).pow(2).mean(0)  # Eq. 2
        points = self.landmarks(out.extras["pooled"]).float()
        fld = (points - batch["landmarks"].flatten(1)).pow(2).sum(1).mean()  # Eq. 1
        return (self.weights * fac).sum() + self.beta * fld  # Eq. 3

    def learn(self, model, targets, logits):
        thresholds = model.thresholds.cpu()
        scores = logits + thresholds
        loss = (scores - (2 * targets - 1)).pow(2).mean(0).to(self.weights.device)  # Eq. 2 on validation
        if not self.previous.isnan().any():
            self.weights.copy_(dynamic_weights(loss, self.previous))
        self.previous.copy_(loss)
        self.epoch += 1
        thresholds = adapt_thresholds(thresholds, scores, targets, int(self.epoch), self.gamma)
        model.thresholds.copy_(thresholds)
        return scores - thresholds

