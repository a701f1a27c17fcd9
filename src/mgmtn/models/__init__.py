"""Attribute models by name: every row of the MGMTN paper's Table 3 and Fig. 9.

``build_model(name, backbone=..., unet=..., pretrained=False, **options)``
returns a module whose forward gives a ``ModelOutput``. Options are those of
``MGMTN`` (e.g. ``mask_scale`` for Table 4, ``global_pool``, ``unet_size``,
``pretrained_file``, ``backbone_kwargs``).
"""

from __future__ import annotations

from typing import Callable

from torch import nn

from mgmtn.errors import MgmtnError
from mgmtn.models.backbone import BACKBONE_NAMES, create_backbone
from mgmtn.models.baseline import ag_baseline, global_baseline
from mgmtn.models.mgmtn import MGMTN, aml_gr34, aml_gr4, mgmtn, mgmtn_ca_sa, mgmtn_sa
from mgmtn.models.output import ModelOutput
from mgmtn.models.unet import UNet, mask_f1

_FACTORIES: dict[str, Callable[..., nn.Module]] = {
    "global": global_baseline,  # Table 3 row 1, Fig. 9 'Gl'
    "ag": ag_baseline,  # Table 3 row 2
    "aml-gr4": aml_gr4,  # Table 3 row 3, Table 4, Fig. 9 'Gr4'
    "aml-gr34": aml_gr34,  # Fig. 9 'Gr4+Gr3'
    "mgmtn": mgmtn,  # Table 3 row 4: G2FF (CA), Fig. 9 'G2FF'
    "mgmtn-sa": mgmtn_sa,  # Table 3 row 5
    "mgmtn-ca-sa": mgmtn_ca_sa,  # Table 3 row 6
}
MODEL_NAMES: tuple[str, ...] = tuple(_FACTORIES)
MASK_MODELS: tuple[str, ...] = ("aml-gr4", "aml-gr34", "mgmtn", "mgmtn-sa", "mgmtn-ca-sa")


def build_model(
        name: str,
        backbone: str = "resnest50d",
        unet: nn.Module | None = None,
        pretrained: bool = False,
        **options,
) -> nn.Module:
    """The model called ``name`` (one of ``MODEL_NAMES``); mask models need a trained ``unet``."""
    try:
        factory = _FACTORIES[name]
    except KeyError:
        raise MgmtnError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}") from None
    return factory(backbone=backbone, unet=unet, pretrained=pretrained, **options)


__all__ = ["BACKBONE_NAMES", "MASK_MODELS", "MGMTN", "MODEL_NAMES", "ModelOutput", "UNet", "build_model",
           "create_backbone", "mask_f1"]
