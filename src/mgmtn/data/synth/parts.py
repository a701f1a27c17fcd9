"""A synthetic person, painted layer by layer, each attribute in the region Table 1 gives it.

Attributes that change a shape (eyes, brows, nose, lips, jaw, hairline) do so
in geometry.py and those that change a colour (skin, hair, lips) in style.py;
the layers here then draw them. Attributes that add something (glasses, a
beard, wrinkles, a necklace) are layers of their own, called only when the
labels ask for them: ``LAYERS`` lists every layer in painting order with the
label value that calls it. Blurry acts on the whole image (render.py).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from mgmtn.data.synth.accessories import clothes, earrings, glasses, neck_half_width, necklace, necktie
from mgmtn.data.synth.canvas import Canvas
from mgmtn.data.synth.geometry import CX, EYE_DX, EYE_Y, MOUTH_Y, Face, arc, mirror
from mgmtn.data.synth.hair import back_hair, hairy, hat, scalp
from mgmtn.data.synth.style import EYESHADOW, IRIS, Look, shade

INK = (34, 24, 24)  # eyelid lines and pupils


def _around_mouth(face: Face, margin: float, top: float, depth: float, drop: float = 0.0) -> np.ndarray:
    """A round curve under the mouth from beside one corner to beside the other, kept on the face.

    It runs ``margin`` beyond the corners at height ``top``, ``depth`` below
    the mouth line at most (not below the lips, whose size is a cue of its
    own), and never lower than the jaw plus ``drop``, so hair drawn inside
    it stays round the mouth and follows the chin.
    """
    corners = face.mouth_outer[[0, 6], 0]
    half = (corners[1] - corners[0]) / 2 + margin
    bottom = min(face.chin_y, MOUTH_Y + depth)
    curve = arc(CX, top, half, bottom - top, 0.0, np.pi, 19)[::-1]
    lower = face.jaw[face.jaw[:, 1] > top - 10]
    order = np.argsort(lower[:, 0])
    jaw_y = np.interp(curve[:, 0], lower[order, 0], lower[order, 1]) + drop
    return np.stack([curve[:, 0], np.minimum(curve[:, 1], jaw_y)], 1)


def neck(c: Canvas, face: Face, look: Look) -> None:
    half = neck_half_width(face, look)
    outline = [(CX - half, 150), (CX + half, 150), (CX + half + 2, 226), (CX - half - 2, 226)]
    c.polygon(outline, shade(look.skin, 0.8))


def ears(c: Canvas, face: Face, look: Look) -> None:
    for (x, y), side in zip(face.ears, (-1, 1)):
        c.ellipse(x, y, 6.5, 14.5, shade(look.skin, 0.93))
        c.ellipse(x + 1.2 * side, y + 0.5, 3.2, 9.0, shade(look.skin, 0.74))


def head(c: Canvas, face: Face, look: Look) -> None:
    """The skin of the head, darker towards its edge as if lit from the front."""
    outline = face.head
    c.polygon(outline, shade(look.skin, 0.86))
    centre = np.array([CX, 118.0])
    c.polygon(centre + 0.94 * (outline - centre), look.skin)


def double_chin(c: Canvas, face: Face, look: Look) -> None:
    chin = face.jaw[np.abs(face.jaw[:, 0] - CX) < 19]
    t = (chin[:, 0] - CX) / 19
    fold = chin + np.stack([0 * t, 6.5 * (1 - t ** 2) + 0.5], 1)
    c.polygon(np.concatenate([chin, fold[::-1]]), shade(look.skin, 0.93))
    c.line(fold, shade(look.skin, 0.66), 1.1)


def wrinkles(c: Canvas, face: Face, look: Look) -> None:
    """Age: forehead lines, crow's feet, nose-to-mouth folds and lines below the mouth corners."""
    ink = shade(look.skin, 0.68)
    for y in (77.0, 82.0, 87.0):
        c.line(arc(CX, y + 14, 17, 14, 1.25 * np.pi, 1.75 * np.pi, 9), ink, 0.8)
    wings = np.array([(CX - 10.0, 136.0), (CX + 10.0, 136.0)])  # fixed: nose size is a cue of its own
    for side, wing, corner in zip((-1, 1), wings, face.mouth_outer[[0, 6]]):
        eye = np.array([CX + side * (EYE_DX + 11.5), EYE_Y])
        for dy in (-3.5, 0.0, 3.5):
            c.line([eye, eye + (5.0 * side, dy)], ink, 0.7)
        bend = (wing + corner) / 2 + (3.0 * side, 0.0)
        c.line([wing + (side * 1.5, 0), bend, corner + (side * 3.5, 4.0)], ink, 0.9)
        c.line([corner + (side, 2.0), corner + (side * 2.5, 9.0)], ink, 0.8)


def blemishes(c: Canvas, face: Face, look: Look) -> None:
    """A plain face: spots scattered over the skin (where they land is part of the style)."""
    ink = shade(look.skin, (0.78, 0.6, 0.56))
    for u, v, size in look.style.blemishes:
        a, r = 2 * np.pi * u, np.sqrt(v)
        radius = 0.8 + 0.9 * size
        c.ellipse(CX + r * np.cos(a) * face.width * 0.75, 128 + r * np.sin(a) * 48, radius, radius, ink, n=8)


def high_cheekbones(c: Canvas, face: Face, look: Look) -> None:
    """A highlight on each cheekbone and the hollow below it."""
    for side in (-1, 1):
        highlight = arc(CX + side * 25, 124, 8, 3.6, tilt=-side * 0.35, n=16)
        hollow = arc(CX + side * (face.width - 12), 137, 9, 1.6, tilt=-side * 0.7, n=16)
        c.blend(highlight, shade(look.skin, 1.2), 0.45)
        c.blend(hollow, shade(look.skin, 0.7), 0.4)


def rosy_cheeks(c: Canvas, face: Face, look: Look) -> None:
    for side in (-1, 1):
        c.blend(arc(CX + side * 24, 134, 8.5, 6.5, n=18), (226, 80, 96), 0.42)


def stubble(c: Canvas, face: Face, look: Look) -> None:
    """Grey speckle under the nose, round the mouth and down to the jaw."""
    base = face.nose[6, 1] + 1.5
    around = _around_mouth(face, 8.0, MOUTH_Y - 6, 28.0)
    top = [(CX - face.nose_width - 1, base), (CX + face.nose_width + 1, base)]
    area = np.concatenate([around[:1], top, around[::-1]])
    c.blend(area, (92, 96, 106), 0.14)
    c.blend(area, (58, 60, 70), 0.32, grain=True)


def beard(c: Canvas, face: Face, look: Look) -> None:
    """A short beard round the mouth and over the chin (drawn when No_Beard is off)."""
    corners, lower_lip = face.mouth_outer[[0, 6]], face.mouth_outer[9, 1]
    half = (corners[1, 0] - corners[0, 0]) / 2
    inner = [(corners[1, 0] + 2.5, MOUTH_Y), (CX + 0.5 * half, lower_lip + 3), (CX, lower_lip + 4),
             (CX - 0.5 * half, lower_lip + 3), (corners[0, 0] - 2.5, MOUTH_Y)]
    hairy(c, np.concatenate([_around_mouth(face, 7.0, MOUTH_Y - 3, 23.0, 1.2), inner]), look.facial_hair)


def goatee(c: Canvas, face: Face, look: Look) -> None:
    top, chin = face.mouth_outer[9, 1] + 2.0, face.chin_y
    left = np.array([(CX - 8, top), (CX - 9, chin - 8), (CX - 6, chin + 2), (CX - 2.5, chin + 8)])
    hairy(c, np.concatenate([left, [(CX, chin + 10)], mirror(left)[::-1]]), shade(look.facial_hair, 0.7))


def sideburns(c: Canvas, face: Face, look: Look) -> None:
    edge = face.jaw[(face.jaw[:, 0] < CX) & (face.jaw[:, 1] < 146)]
    edge = np.concatenate([[(edge[0, 0], 110.0)], edge])
    inner = edge + np.stack([np.linspace(7.0, 3.5, len(edge)), np.zeros(len(edge))], 1)
    strip = np.concatenate([edge, inner[::-1]])
    for points in (strip, mirror(strip)):
        hairy(c, points, look.hair)


def nose(c: Canvas, face: Face, look: Look) -> None:
    tip, base, w = face.nose[3], face.nose[6], face.nose_width
    c.line([(CX - 3.5, 116), (CX - 4.5, 126), tip + (-0.55 * w, -3)], shade(look.skin, 0.84), 1.2)
    c.ellipse(tip[0], tip[1] - 2, 0.45 * w, 3.2, shade(look.skin, 1.07), n=16)
    if look.on["Pointy_Nose"]:  # a sharp ridge ending in a pointed, shadowed tip
        c.polygon([(CX - 1.0, 121), (CX + 1.0, 121), tip + (0, -0.5)], shade(look.skin, 1.16))
        c.line([tip + (-2.2, 1.6), tip + (0, 2.8), tip + (2.2, 1.6)], shade(look.skin, 0.6), 0.9)
    c.line(face.nose[5:8], shade(look.skin, 0.74), 0.8)  # the base of the nose, between the nostrils
    for side, (a0, a1) in zip((-1, 1), ((0.5 * np.pi, 1.35 * np.pi), (0.5 * np.pi, -0.35 * np.pi))):
        c.line(arc(CX + side * (w - 2.6), base[1] - 2.5, 2.6, 3.0, a0, a1, 9), shade(look.skin, 0.7), 1.0)
        c.ellipse(CX + side * 0.42 * w, base[1] - 0.9, 0.2 * w + 0.6, 1.3, shade(look.skin, 0.42), n=12)


def eye_bags(c: Canvas, face: Face, look: Look) -> None:
    for _, lower in face.lids:
        t = np.linspace(-1, 1, len(lower))[:, None]
        top, bottom = lower + (0, 1.2), lower + np.hstack([0 * t, 1.4 + 4.4 * (1 - t ** 2)])
        c.blend(np.concatenate([top, bottom[::-1]]), (112, 70, 92), 0.42)
        c.line(bottom[3:-3], shade(look.skin, 0.68), 0.8)


def eyeshadow(c: Canvas, face: Face, look: Look) -> None:
    for upper, _ in face.lids:
        t = np.linspace(-1, 1, len(upper))[:, None]
        lid = upper - np.hstack([0 * t, 2.0 + 4.5 * (1 - t ** 2)])
        c.blend(np.concatenate([upper, lid[::-1]]), EYESHADOW[look.style.eyeshadow], 0.6)


def _inside(points: np.ndarray, upper: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """Points pushed between the lids, so the iris hides under them as real irises do."""
    lo = np.interp(points[:, 0], upper[:, 0], upper[:, 1])
    hi = np.interp(points[:, 0], lower[:, 0], lower[:, 1])
    return np.stack([points[:, 0], np.clip(points[:, 1], lo, hi)], 1)


def eyes(c: Canvas, face: Face, look: Look) -> None:
    on = look.on
    white = (246, 244, 238) if on["Attractive"] else (224, 218, 206)
    liner = 2.4 if on["Heavy_Makeup"] else 1.2
    for (upper, lower), (px, py), side in zip(face.lids, face.pupils, (-1, 1)):
        c.polygon(np.concatenate([upper, lower[::-1]]), white)
        c.polygon(_inside(arc(px, py, 4.4, 4.4, n=20), upper, lower), IRIS[look.style.iris])
        c.polygon(_inside(arc(px, py, 1.9, 1.9, n=12), upper, lower), INK)
        if on["Attractive"]:  # a catch light: bright, lively eyes
            c.polygon(_inside(arc(px + 1.4, py - 1.3, 0.9, 0.9, n=8), upper, lower), (255, 255, 255))
        c.line(upper, INK, liner)
        c.line(lower, shade(look.skin, 0.72), 0.7)
        if on["Heavy_Makeup"]:
            corner = upper[0] if side < 0 else upper[-1]
            c.line([corner, corner + (4.5 * side, -2.5)], INK, 1.4)


def brows(c: Canvas, face: Face, look: Look) -> None:
    for shape in face.brow_shapes:
        c.polygon(shape, look.facial_hair)


def lips(c: Canvas, face: Face, look: Look) -> None:
    """Lips, with teeth in a smile and a dark gap when the mouth is open."""
    edge, on = face.lips, look.on
    if on["Smiling"] or on["Mouth_Slightly_Open"]:
        c.polygon(np.concatenate([edge["inner_up"], edge["inner_lo"][::-1]]), (72, 24, 30))
    if on["Smiling"]:
        top = edge["inner_up"][3:-3]
        bottom = np.stack([top[:, 0], np.minimum(top[:, 1] + 2.8, edge["inner_lo"][3:-3, 1])], 1)
        c.polygon(np.concatenate([top, bottom[::-1]]), (238, 234, 224))
    c.polygon(np.concatenate([edge["outer_up"], edge["inner_up"][::-1]]), look.lip)
    c.polygon(np.concatenate([edge["inner_lo"], edge["outer_lo"][::-1]]), look.lip)
    if not (on["Smiling"] or on["Mouth_Slightly_Open"]):
        c.line((edge["inner_up"] + edge["inner_lo"]) / 2, shade(look.lip, 0.55), 0.9)
    gloss = 0.45 if on["Wearing_Lipstick"] else 0.2
    shine_y = face.mouth_outer[9, 1] - 2.0
    c.blend(arc(CX, shine_y, 0.3 * (edge["outer_lo"][-1, 0] - CX), 1.2, n=12), (255, 255, 255), gloss)


def lip_liner(c: Canvas, face: Face, look: Look) -> None:
    edge = face.lips
    c.line(np.concatenate([edge["outer_up"], edge["outer_lo"][::-1]]), shade(look.lip, 0.6), 0.9)


def mustache(c: Canvas, face: Face, look: Look) -> None:
    lip = face.lips["outer_up"] - (0.0, 0.4)
    half, base = (lip[-1, 0] - lip[0, 0]) / 2, face.nose[6, 1]
    u = np.linspace(1, -1, 11)
    top = np.stack([CX + (half + 1.5) * u, base + 1.8 + 2.6 * u ** 2], 1)
    hairy(c, np.concatenate([[lip[0] + (-2.5, 3.0)], lip, [lip[-1] + (2.5, 3.0)], top]), look.facial_hair)


Layer = Callable[[Canvas, Face, Look], None]
# Painting order; each layer with the (attribute, value) that calls for it, or None for always.
LAYERS: tuple[tuple[tuple[str, bool] | None, Layer], ...] = (
    (None, back_hair), (None, neck), (None, clothes), (None, ears), (None, head),
    (("Double_Chin", True), double_chin), (("Young", False), wrinkles), (("Attractive", False), blemishes),
    (("High_Cheekbones", True), high_cheekbones), (("Rosy_Cheeks", True), rosy_cheeks),
    (("5_o_Clock_Shadow", True), stubble), (("No_Beard", False), beard), (("Goatee", True), goatee),
    (("Sideburns", True), sideburns), (None, nose), (("Bags_Under_Eyes", True), eye_bags),
    (("Heavy_Makeup", True), eyeshadow), (None, eyes), (None, brows), (None, lips),
    (("Heavy_Makeup", True), lip_liner), (("Mustache", True), mustache), (None, scalp),
    (("Wearing_Hat", True), hat), (("Eyeglasses", True), glasses), (("Wearing_Earrings", True), earrings),
    (("Wearing_Necklace", True), necklace), (("Wearing_Necktie", True), necktie),
)


def paint_person(c: Canvas, face: Face, look: Look) -> None:
    """Every layer whose condition the labels meet, in order."""
    for condition, layer in LAYERS:
        if condition is None or look.on[condition[0]] == condition[1]:
            layer(c, face, look)
