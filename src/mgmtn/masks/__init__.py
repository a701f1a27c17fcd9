"""Group masks of MGMTN: keypoints -> eight group boxes -> masks, and the per-dataset box cache.

The masks of the paper are rectangles (Fig. 3), so they are kept as boxes
(N x 8 x 4 small ints) and drawn as masks only after augmentation.
"""

from mgmtn.masks.annotators import (ANNOTATORS, Annotator, aligned_fallback, boxes_or_fallback, default_annotator,
                                    get_annotator)
from mgmtn.masks.cache import AnnotationSummary, annotate, annotate_rows, box_path, load_boxes
from mgmtn.masks.regions import group_boxes, scale_boxes
from mgmtn.masks.render import boxes_to_quads, render_masks

__all__ = [
    "ANNOTATORS", "Annotator", "AnnotationSummary", "aligned_fallback", "boxes_or_fallback", "default_annotator",
    "annotate", "annotate_rows",
    "box_path", "boxes_to_quads", "get_annotator", "group_boxes", "load_boxes", "render_masks",
    "scale_boxes",
]
