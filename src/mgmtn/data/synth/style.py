"""Nuisance factors of a synthetic face and the colours that follow from its labels.

Everything random about a face that is *not* an attribute (skin tone, hair
length, clothes, where blemishes sit, which hat) is drawn here, always with
the same number of draws. Two renders that share a generator state therefore
differ only where their labels differ, which is what lets the tests switch
one attribute on and off and look at the pixels that changed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Colour = tuple[int, int, int]
LONG_HAIR = {True: 0.12, False: 0.78}  # chance of long hair, for men and for women

# Skin tones from light to dark; most CelebA faces are light, so draws lean that way.
SKIN_TONES = np.array([(232, 196, 170), (214, 170, 138), (184, 136, 102), (140, 98, 70), (98, 66, 48)], float)
PALE_SKIN = np.array((250, 232, 224), float)
HAIR = {
    "Black_Hair": (24, 22, 24), "Blond_Hair": (226, 190, 118), "Brown_Hair": (112, 72, 42),
    "Gray_Hair": (172, 172, 176),
}
# Hair of none of the four labelled colours: auburn and copper shades.
OTHER_HAIR = ((150, 62, 30), (176, 92, 44), (120, 48, 30))
FACIAL_HAIR = ((30, 26, 26), (62, 44, 32), (92, 64, 42))
IRIS = ((92, 60, 38), (60, 96, 140), (80, 110, 70), (50, 36, 30))
LIPSTICK = ((196, 20, 46), (170, 18, 40), (214, 40, 80))
EYESHADOW = ((128, 70, 140), (70, 90, 150), (140, 90, 70), (190, 100, 140))
METALS = ((214, 176, 60), (200, 202, 212))  # gold, silver
CLOTHES = ((40, 40, 48), (220, 220, 225), (150, 30, 40), (40, 70, 140), (90, 110, 70), (200, 170, 120),
           (110, 80, 130), (30, 30, 30))
HATS = ((30, 30, 34), (150, 30, 40), (40, 60, 120), (190, 170, 130), (90, 90, 90), (220, 220, 210))
GLASSES = ((20, 20, 24), (90, 60, 40), (170, 170, 180))
BLEMISHES = 8


@dataclass(frozen=True)
class Style:
    """The label-free randomness of one face; ``u`` values are uniforms in [0, 1)."""

    skin: float  # position on SKIN_TONES
    hair_shade: float  # brightness jitter of the hair colour
    hair_long: float  # compared with a sex-dependent rate
    hair_volume: float
    hair_part: float  # where the strands part, left to right
    wave_phase: float
    other_hair: int
    facial_hair: int
    iris: int
    lipstick: int
    eyeshadow: int
    metal: int
    clothes: int
    hat: int
    hat_kind: int
    glasses: int
    sunglasses: bool
    earring_kind: int
    asymmetry: tuple[float, float]  # (dx, dy) of the right eye and brow of a plain face
    blemishes: np.ndarray  # (BLEMISHES, 3): position in the face ellipse and size, uniforms
    blur: float
    background_seed: int
    texture_seed: int


def sample_style(rng: np.random.Generator) -> Style:
    """Draw one Style; the number of draws never depends on anything."""
    u = rng.random(9)
    k = rng.integers(0, 1 << 16, size=12)
    seeds = rng.integers(0, 2**63 - 1, size=2)
    return Style(
        skin=float(u[0] ** 2.5), hair_shade=float(u[1]), hair_long=float(u[2]), hair_volume=float(u[3]),
        hair_part=float(u[4]), wave_phase=float(u[5] * 2 * np.pi), other_hair=int(k[0] % len(OTHER_HAIR)),
        facial_hair=int(k[1] % len(FACIAL_HAIR)), iris=int(k[2] % len(IRIS)),
        lipstick=int(k[3] % len(LIPSTICK)), eyeshadow=int(k[4] % len(EYESHADOW)),
        metal=int(k[5] % len(METALS)), clothes=int(k[6] % len(CLOTHES)), hat=int(k[7] % len(HATS)),
        hat_kind=int(k[8] % 2), glasses=int(k[9] % len(GLASSES)), sunglasses=bool(k[10] % 5 == 0),
        earring_kind=int(k[11] % 2), asymmetry=(float(u[6] - 0.5) * 2.0, float(u[7] - 0.5) * 3.0),
        blemishes=rng.random((BLEMISHES, 3)), blur=float(u[8]),
        background_seed=int(seeds[0]), texture_seed=int(seeds[1]))


def mix(colour, other, t: float) -> Colour:
    """``colour`` moved a fraction ``t`` towards ``other``."""
    c = (1 - t) * np.asarray(colour, float) + t * np.asarray(other, float)
    return tuple(int(v) for v in np.clip(np.round(c), 0, 255))


def shade(colour, factor) -> Colour:
    """``colour`` darkened (factor < 1) or lightened (> 1), per channel if ``factor`` is a triple."""
    return tuple(int(v) for v in np.clip(np.round(np.asarray(colour, float) * factor), 0, 255))


def skin_colour(on: dict[str, bool], style: Style) -> Colour:
    """Skin follows the object-level attributes: pale, sex, age, make-up, attractiveness."""
    x = style.skin * (len(SKIN_TONES) - 1)
    i = min(int(x), len(SKIN_TONES) - 2)
    skin = mix(SKIN_TONES[i], SKIN_TONES[i + 1], x - i)
    if on["Pale_Skin"]:
        skin = mix(skin, PALE_SKIN, 0.85)
    if on["Male"]:
        skin = shade(skin, (0.96, 0.92, 0.9))
    if not on["Young"]:
        skin = mix(skin, (150, 140, 135), 0.22)
    if on["Heavy_Makeup"]:
        skin = mix(skin, (246, 214, 196), 0.3)
    if not on["Attractive"]:
        skin = mix(skin, (128, 118, 104), 0.12)
    return skin


def hair_colour(on: dict[str, bool], style: Style) -> Colour:
    """The labelled hair colour, or an auburn shade when none of the four is on."""
    base = next((HAIR[name] for name in HAIR if on[name]), OTHER_HAIR[style.other_hair])
    return shade(base, 0.88 + 0.24 * style.hair_shade)


def lip_colour(on: dict[str, bool], style: Style, skin: Colour) -> Colour:
    """Lipstick red, otherwise a darker, redder version of the skin."""
    if on["Wearing_Lipstick"]:
        return LIPSTICK[style.lipstick]
    return shade(mix(skin, (170, 90, 90), 0.35), 0.86)


@dataclass(frozen=True)
class Look:
    """Labels, style and the colours that follow from them: what every drawing layer needs."""

    on: dict[str, bool]
    style: Style
    skin: Colour
    hair: Colour
    facial_hair: Colour
    lip: Colour
    long_hair: bool


def make_look(on: dict[str, bool], style: Style) -> Look:
    skin = skin_colour(on, style)
    return Look(on=on, style=style, skin=skin, hair=hair_colour(on, style),
                facial_hair=FACIAL_HAIR[style.facial_hair], lip=lip_colour(on, style, skin),
                long_hair=style.hair_long < LONG_HAIR[on["Male"]])
