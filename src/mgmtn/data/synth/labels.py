"""Attribute labels for synthetic faces, with CelebA's rates and main correlations.

A face is described by 40 binary labels. They are drawn so that a model
trained on synthetic faces meets roughly the label statistics it would meet on
CelebA: the sex first, then every attribute from its rate given the sex, and
the most strongly coupled attributes (smiling and high cheekbones, make-up and
lipstick, beards, age) from their rate given the sex and one parent
attribute. Finally, rules remove combinations a single drawing cannot show
(two hair colours, a bald head with bangs, a goatee without "no beard" off).
"""

from __future__ import annotations

import numpy as np

from mgmtn.attributes import ATTRIBUTES, attribute_index

# CelebA's training-label statistics (the 24,535-row CelebA subset's
# list_attr_celeba.txt), rounded to 3 decimals: P(Male), then for every
# attribute (P(attribute | Male), P(attribute | not Male)).
P_MALE = 0.449
RATES: dict[str, tuple[float, float]] = {
    "5_o_Clock_Shadow": (0.233, 0.000), "Arched_Eyebrows": (0.045, 0.384),
    "Attractive": (0.260, 0.659), "Bags_Under_Eyes": (0.327, 0.097), "Bald": (0.054, 0.000),
    "Bangs": (0.071, 0.199), "Big_Lips": (0.131, 0.253), "Big_Nose": (0.407, 0.099),
    "Black_Hair": (0.287, 0.189), "Blond_Hair": (0.021, 0.237), "Blurry": (0.058, 0.053),
    "Brown_Hair": (0.147, 0.248), "Bushy_Eyebrows": (0.229, 0.064), "Chubby": (0.132, 0.011),
    "Double_Chin": (0.104, 0.010), "Eyeglasses": (0.132, 0.027), "Goatee": (0.145, 0.000),
    "Gray_Hair": (0.104, 0.013), "Heavy_Makeup": (0.002, 0.645), "High_Cheekbones": (0.329, 0.558),
    "Male": (1.000, 0.000), "Mouth_Slightly_Open": (0.440, 0.531), "Mustache": (0.093, 0.000),
    "Narrow_Eyes": (0.107, 0.099), "No_Beard": (0.622, 0.999), "Oval_Face": (0.248, 0.359),
    "Pale_Skin": (0.021, 0.057), "Pointy_Nose": (0.153, 0.342), "Receding_Hairline": (0.123, 0.053),
    "Rosy_Cheeks": (0.003, 0.099), "Sideburns": (0.124, 0.000), "Smiling": (0.410, 0.543),
    "Straight_Hair": (0.234, 0.180), "Wavy_Hair": (0.128, 0.431), "Wearing_Earrings": (0.016, 0.304),
    "Wearing_Hat": (0.086, 0.028), "Wearing_Lipstick": (0.005, 0.776),
    "Wearing_Necklace": (0.016, 0.176), "Wearing_Necktie": (0.180, 0.001), "Young": (0.607, 0.862),
}

# Same source: attributes whose rate depends strongly on one other attribute.
# child: (parent, (P(child | Male, parent), P(child | Male, not parent)),
#                 (P(child | not Male, parent), P(child | not Male, not parent))).
# A parent is never a child listed after it, so one pass in this order works.
COUPLED: dict[str, tuple[str, tuple[float, float], tuple[float, float]]] = {
    "Chubby": ("Young", (0.049, 0.259), (0.007, 0.041)),
    "Double_Chin": ("Chubby", (0.517, 0.042), (0.348, 0.006)),
    "Big_Nose": ("Chubby", (0.796, 0.347), (0.632, 0.093)),
    "Gray_Hair": ("Young", (0.005, 0.257), (0.002, 0.084)),
    "Attractive": ("Young", (0.386, 0.065), (0.716, 0.303)),
    "Receding_Hairline": ("Young", (0.048, 0.238), (0.054, 0.048)),
    "Bags_Under_Eyes": ("Young", (0.252, 0.445), (0.083, 0.182)),
    "Eyeglasses": ("Young", (0.070, 0.226), (0.020, 0.072)),
    "Wearing_Necktie": ("Young", (0.101, 0.301), (0.000, 0.002)),
    "High_Cheekbones": ("Smiling", (0.651, 0.105), (0.893, 0.160)),
    "Mouth_Slightly_Open": ("Smiling", (0.745, 0.227), (0.776, 0.241)),
    "Wearing_Lipstick": ("Heavy_Makeup", (0.600, 0.004), (0.974, 0.416)),
    "Arched_Eyebrows": ("Heavy_Makeup", (0.160, 0.045), (0.473, 0.223)),
    "Goatee": ("No_Beard", (0.005, 0.376), (0.000, 0.053)),
    "Mustache": ("No_Beard", (0.006, 0.237), (0.000, 0.053)),
    "Sideburns": ("No_Beard", (0.002, 0.324), (0.000, 0.053)),
    "5_o_Clock_Shadow": ("No_Beard", (0.105, 0.445), (0.000, 0.000)),
}

HAIR_COLOURS = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair")
HAIR_TEXTURES = ("Straight_Hair", "Wavy_Hair")
# Bald: no hair on top, so nothing to fall over the forehead, recede or curl.
BALD_EXCLUDES = ("Bangs", "Receding_Hairline") + HAIR_TEXTURES
# Any facial hair drawn below the nose is a beard in CelebA's sense.
BEARDS = ("Goatee", "Mustache", "Sideburns")

_COL = {name: attribute_index(name) for name in ATTRIBUTES}


def marginal_rates() -> np.ndarray:
    """P(attribute) implied by the tables, before the consistency rules (40,)."""
    by_sex = np.array([RATES[name] for name in ATTRIBUTES])
    return P_MALE * by_sex[:, 0] + (1 - P_MALE) * by_sex[:, 1]


def _coupled_rate(male: np.ndarray, parent: np.ndarray, entry) -> np.ndarray:
    _, (m_on, m_off), (f_on, f_off) = entry
    return np.where(male, np.where(parent, m_on, m_off), np.where(parent, f_on, f_off))


def _keep_one(rng: np.random.Generator, labels: np.ndarray, names: tuple[str, ...]) -> None:
    """Where several of ``names`` are on, keep one of them at random (in place)."""
    cols = [_COL[n] for n in names]
    block = labels[:, cols].astype(float)
    crowded = block.sum(axis=1) > 1
    scores = np.where(block > 0, rng.random(block.shape), -1.0)
    winner = np.zeros_like(block, dtype=np.uint8)
    winner[np.arange(len(block)), scores.argmax(axis=1)] = 1
    labels[np.ix_(crowded, cols)] = winner[crowded]


def apply_rules(rng: np.random.Generator, labels: np.ndarray) -> np.ndarray:
    """Make every row drawable: exclusive hair colours and textures, bald heads, beards."""
    labels = labels.copy()
    _keep_one(rng, labels, HAIR_COLOURS)
    _keep_one(rng, labels, HAIR_TEXTURES)
    bald = labels[:, _COL["Bald"]] == 1
    labels[np.ix_(bald, [_COL[n] for n in BALD_EXCLUDES])] = 0
    bearded = labels[:, [_COL[n] for n in BEARDS]].any(axis=1)
    labels[bearded, _COL["No_Beard"]] = 0
    return labels


def sample_labels(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` label rows (n, 40) uint8 in CelebA column order, drawn as the module docstring says."""
    u = rng.random((n, len(ATTRIBUTES)))
    male = u[:, _COL["Male"]] < P_MALE
    by_sex = np.array([RATES[name] for name in ATTRIBUTES])
    rates = np.where(male[:, None], by_sex[:, 0], by_sex[:, 1])
    labels = (u < rates).astype(np.uint8)
    labels[:, _COL["Male"]] = male
    for child, entry in COUPLED.items():
        col = _COL[child]
        labels[:, col] = u[:, col] < _coupled_rate(male, labels[:, _COL[entry[0]]] == 1, entry)
    return apply_rules(rng, labels)


def flip_labels(rng: np.random.Generator, labels: np.ndarray, probability: float) -> np.ndarray:
    """Each label flipped independently with ``probability``: annotation noise on stored labels."""
    flips = rng.random(labels.shape) < probability
    return np.where(flips, 1 - labels, labels).astype(np.uint8)
