from collections import Counter

from mgmtn.attributes import ATTRIBUTES, GROUPS, group_indices, group_of

PAPER_GROUP_SIZES = {"Mouth": 6, "Ear": 1, "Lower_Face": 4, "Cheeks": 3, "Nose": 2, "Eyes": 5,
                     "Hair": 10, "Object": 9}


def test_forty_unique_attributes_in_celeba_file_order():
    assert len(ATTRIBUTES) == 40 == len(set(ATTRIBUTES))
    assert ATTRIBUTES[0] == "5_o_Clock_Shadow" and ATTRIBUTES[20] == "Male" and ATTRIBUTES[-1] == "Young"


def test_groups_follow_table_1_and_partition_the_attributes():
    assert {g: len(a) for g, a in GROUPS.items()} == PAPER_GROUP_SIZES
    counts = Counter(a for attrs in GROUPS.values() for a in attrs)
    assert set(counts) == set(ATTRIBUTES) and set(counts.values()) == {1}


def test_group_indices_point_back_to_the_names():
    for group, columns in group_indices().items():
        assert [ATTRIBUTES[c] for c in columns] == list(GROUPS[group])
    assert group_of()["Eyeglasses"] == "Eyes"
