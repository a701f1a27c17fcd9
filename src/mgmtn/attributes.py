"""The 40 CelebA attributes and the attribute groups of the MGMTN paper (Table 1).

The order of ``ATTRIBUTES`` is the column order of ``list_attr_celeba.txt``;
every label array in the package uses it. ``GROUPS`` maps each of MGMTN's
eight groups to its attributes; the first seven are facial parts with a
rectangular region, the last (Object) covers the whole face.
"""

ATTRIBUTES: tuple[str, ...] = (
    "5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald",
    "Bangs", "Big_Lips", "Big_Nose", "Black_Hair", "Blond_Hair",
    "Blurry", "Brown_Hair", "Bushy_Eyebrows", "Chubby", "Double_Chin",
    "Eyeglasses", "Goatee", "Gray_Hair", "Heavy_Makeup", "High_Cheekbones",
    "Male", "Mouth_Slightly_Open", "Mustache", "Narrow_Eyes", "No_Beard",
    "Oval_Face", "Pale_Skin", "Pointy_Nose", "Receding_Hairline", "Rosy_Cheeks",
    "Sideburns", "Smiling", "Straight_Hair", "Wavy_Hair", "Wearing_Earrings",
    "Wearing_Hat", "Wearing_Lipstick", "Wearing_Necklace", "Wearing_Necktie", "Young",
)

GROUPS: dict[str, tuple[str, ...]] = {
    "Mouth": ("5_o_Clock_Shadow", "Big_Lips", "Mouth_Slightly_Open", "Mustache",
              "Wearing_Lipstick", "No_Beard"),
    "Ear": ("Wearing_Earrings",),
    "Lower_Face": ("Double_Chin", "Goatee", "Wearing_Necklace", "Wearing_Necktie"),
    "Cheeks": ("High_Cheekbones", "Rosy_Cheeks", "Sideburns"),
    "Nose": ("Big_Nose", "Pointy_Nose"),
    "Eyes": ("Arched_Eyebrows", "Bags_Under_Eyes", "Bushy_Eyebrows", "Narrow_Eyes",
             "Eyeglasses"),
    "Hair": ("Bald", "Bangs", "Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair",
             "Receding_Hairline", "Straight_Hair", "Wavy_Hair", "Wearing_Hat"),
    "Object": ("Attractive", "Blurry", "Chubby", "Heavy_Makeup", "Male", "Oval_Face",
               "Pale_Skin", "Smiling", "Young"),
}

GROUP_NAMES: tuple[str, ...] = tuple(GROUPS)
NUM_ATTRIBUTES = len(ATTRIBUTES)
NUM_GROUPS = len(GROUPS)


def attribute_index(name: str) -> int:
    """Column of ``name`` in the CelebA label matrix."""
    try:
        return ATTRIBUTES.index(name)
    except ValueError:
        raise KeyError(f"unknown attribute {name!r}; expected one of the 40 CelebA names") from None


def group_indices() -> dict[str, list[int]]:
    """For each group, the label columns of its attributes (Table 1 order)."""
    return {group: [attribute_index(a) for a in attrs] for group, attrs in GROUPS.items()}


def group_of() -> dict[str, str]:
    """The group each attribute belongs to."""
    return {a: group for group, attrs in GROUPS.items() for a in attrs}
