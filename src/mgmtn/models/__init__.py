"""Attribute models by name: every row of the MGMTN paper's Table 3 and Fig. 9, and the comparison methods.

``build_model(name, backbone=..., unet=..., pretrained=False, **options)``
returns a module whose forward gives a ``ModelOutput``. Options are those of
``MGMTN`` (e.g. ``mask_scale`` for Table 4, ``global_pool``, ``unet_size``,
``pretrained_file``, ``backbone_kwargs``); the comparison models take
``pretrained_file`` and ``backbone_kwargs`` and ignore the UNet and mask scale.

``build_objective(name, model)`` gives the training objective a comparison
method brings from its paper (``mgmtn.models.objective``); the MGMTN family
has none and trains with the profile's loss.
"""

from __future__ import annotations

from typing import Callable

from torch import nn

from mgmtn.errors import MgmtnError
from mgmtn.models.backbone import BACKBONE_NAMES, create_backbone
from mgmtn.models.baseline import ag_baseline, global_baseline
from mgmtn.models.cascade import CascadeNet, CascadeObjective
from mgmtn.models.dmm_cnn import DMMCNN, DMMObjective
from mgmtn.models.far_amtn import FARAMTN, FARObjective
from mgmtn.models.mgg_net import MGGNet, MGGObjective
from mgmtn.models.mgmtn import MGMTN, aml_global, aml_gr34, aml_gr4, mgmtn, mgmtn_ca_sa, mgmtn_sa
from mgmtn.models.objective import Objective
from mgmtn.models.output import ModelOutput
from mgmtn.models.trunk import TrunkModel
from mgmtn.models.unet import UNet, mask_f1


def _without_masks(model: type[TrunkModel]) -> Callable[..., TrunkModel]:
    """The factory of a comparison model, which takes no UNet and no mask scale (every factory is passed both)."""
    def factory(unet: nn.Module | None = None, mask_scale: float = 1.0, **kwargs) -> TrunkModel:
        return model(**kwargs)
    return factory

_FACTORIES: dict[str, Callable[..., nn.Module]] = {
    "global": global_baseline,  # Table 3 row 1, Fig. 9 'Gl'
    "ag": ag_baseline,  # Table 3 row 2
    "aml-gr4": aml_gr4,  # Table 4, Fig. 9 'Gr4'
    "aml-gr34": aml_gr34,  # Fig. 9 'Gr4+Gr3'
    "aml-global": aml_global,  # Table 3 row 3 (AG + AML): group features and the global one, no attention
    "mgmtn": mgmtn,  # Table 3 row 4: G2FF (CA), Fig. 9 'G2FF'
    "mgmtn-sa": mgmtn_sa,  # Table 3 row 5
    "mgmtn-ca-sa": mgmtn_ca_sa,  # Table 3 row 6
    "dmm-cnn": _without_masks(DMMCNN),  # Mao et al., Table 2 of the MGMTN paper
    "mgg-net": _without_masks(MGGNet),  # Chen et al., Table 2 of the MGMTN paper
    "mgg-net-balanced": _without_masks(MGGNet),  # the same, trained with its loss for balanced accuracy (mA)
    "far-amtn": _without_masks(FARAMTN),  # Gao et al., from its abstract
    "cascade": _without_masks(CascadeNet),  # the multi-task cascaded network
}
_OBJECTIVES: dict[str, Callable[[nn.Module], Objective]] = {
    "dmm-cnn": lambda model: DMMObjective(model.feature_dim),  # its landmark head reads the model's SPP vector
    "mgg-net": lambda model: MGGObjective(),
    "mgg-net-balanced": lambda model: MGGObjective(balanced=True),
    "far-amtn": lambda model: FARObjective(),
    "cascade": lambda model: CascadeObjective(),
}
MODEL_NAMES: tuple[str, ...] = tuple(_FACTORIES)
MASK_MODELS: tuple[str, ...] = ("aml-gr4", "aml-gr34", "aml-global", "mgmtn", "mgmtn-sa", "mgmtn-ca-sa")
LANDMARK_MODELS: tuple[str, ...] = ("dmm-cnn",)  # trained on landmark targets (``mgmtn.models.landmarks``)


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


def build_objective(name: str, model: nn.Module) -> Objective | None:
    """The objective that model ``name`` trains with; None where it is the profile's loss (the MGMTN family)."""
    factory = _OBJECTIVES.get(name)
    return factory(model) if factory else None


def parameter_count(module: nn.Module) -> int:
    """How many numbers a module learns (its parameters, buffers excluded)."""
    return sum(p.numel() for p in module.parameters())


__all__ = ["BACKBONE_NAMES", "LANDMARK_MODELS", "MASK_MODELS", "MGMTN", "MODEL_NAMES", "ModelOutput", "Objective",
           "UNet", "build_model", "build_objective", "create_backbone", "mask_f1", "parameter_count"]
