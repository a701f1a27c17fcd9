# The two commands of the README:
#   make book   executes the notebooks (smoke profile on synthetic faces) and builds the HTML book
#   make test   runs the unit tests and checks every notebook with nbval
#   make lab    opens the notebooks in JupyterLab, every .py page as a live notebook
# All create .venv on first use. Options: PROFILE=cpu DATA_ROOT=/path/to/celeba DEVICE=cuda

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PROFILE ?= smoke
DATA_ROOT ?=
DEVICE ?= cpu
export MGMTN_HOME ?= $(CURDIR)/build/home
NOTEBOOKS := $(wildcard notebooks/[0-9][0-9]_*.py)

.PHONY: book test unit nbval sync lab venv clean results-boxes results-unet results-cpu results-stage1 results-recipe results-recipe-pretrained results-pretrained results-ablations-pretrained results-comparison-pretrained results-lfwa-pretrained results-ablations results-comparison results-lfwa results-lfwa-schedule results-align

$(BIN)/.installed: pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: set PYTHON=/path/to/python3.11"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

venv: $(BIN)/.installed

book: venv
	$(BIN)/mgmtn book --profile $(PROFILE) --device $(DEVICE) $(if $(DATA_ROOT),--data-root $(DATA_ROOT))

test: unit nbval

# Tests never reach a model hub: pretrained=True fails at once instead of retrying.
unit: venv
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q

# The .py percent files are the source of truth; their .ipynb pairs are generated.
sync: venv
	$(BIN)/jupytext --quiet --sync $(NOTEBOOKS)

# JupyterLab on notebooks/ with this environment's kernel; lab/user-settings opens each .py page as a notebook
# (jupytext) and starts the kernel. The kernel's transport is encrypted as in make book. LAB_OPTIONS: more options.
lab: sync
	JUPYTERLAB_SETTINGS_DIR=$(CURDIR)/lab/user-settings $(BIN)/jupyter lab --ServerApp.root_dir=$(CURDIR)/notebooks \
		--KernelManager.transport_encryption=auto $(LAB_OPTIONS)

nbval: sync
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q --nbval-lax -p no:cacheprovider $(NOTEBOOKS:.py=.ipynb)

clean:
	rm -rf build book/notebooks notebooks/*.ipynb

# Real-data results committed under results/ (long: run in the background). CELEBA defaults to the
# subset provided beside the checkout; model weights (*.pt) stay out of git, but for the ablations' 2 MB UNet.
CELEBA ?= ../shared/data/celeba-subset
RESULTS := results/cpu-celeba-subset
# The UNet every mask-guided run takes: chosen on the selection split (results/cpu-celeba-subset/README.md).
UNET := $(RESULTS)/unet-dlib-selection
# --unet for the model of the loop variable $$model where it takes masks (global takes none).
MASKS_OF = $$(test $$model = global || echo --unet $(UNET))
CPU_MODELS ?= global mgmtn
SEEDS ?= 0 1

# Train the run $(1) (model $(2), seed $(3), more options $(4), profile $(5), by default cpu) unless it is finished,
# resuming a half-done one, then score it on val.
define train_and_score
test -f $(1)/eval_val.json || { test -f $(1)/train.json || $(BIN)/mgmtn train $(CELEBA) --model $(2) --profile $(or $(5),cpu) \
	--seed $(3) $(4) --out $(1) $$(test -f $(1)/last.pt && echo --resume) && \
	$(BIN)/mgmtn evaluate $(1) --data $(CELEBA) --split val; }
endef

results-boxes: venv
	$(BIN)/mgmtn annotate $(CELEBA) --annotator dlib

results-unet: results-boxes
	test -f $(UNET)/unet.pt || $(BIN)/mgmtn train-unet $(CELEBA) --annotator dlib --profile cpu \
		--out $(UNET) $(if $(wildcard $(UNET)/last.pt),--resume)

results-cpu: results-unet
	for seed in $(SEEDS); do for model in $(CPU_MODELS); do \
		$(call train_and_score,$(RESULTS)/$$model-seed$$seed,$$model,$$seed,$(MASKS_OF)) || exit 1; \
	done; done

# The pretrained regime (page 09's regime columns): the cpu-pretrained profile, dlib's face ResNet from its shipped
# weights (recorded in each run's weights_sha256) with the recipe of make results-recipe-pretrained. The main runs
# with SEEDS; then every Table 3 row with SEEDS at the ablation scale (3,000 images, 6 epochs), each starting from
# dlib's weights, the pretrained regime's stage 1.
PRETRAINED := results/pretrained-celeba-subset
PRETRAINED_ABLATIONS := results/ablations-pretrained-celeba-subset

results-pretrained: results-unet
	for seed in $(SEEDS); do for model in $(CPU_MODELS); do \
		$(call train_and_score,$(PRETRAINED)/$$model-seed$$seed,$$model,$$seed,$(MASKS_OF),cpu-pretrained) || exit 1; \
	done; done

PRETRAINED_ABLATE := $(BIN)/mgmtn ablate $(CELEBA) --profile cpu-pretrained --unet $(UNET) --out $(PRETRAINED_ABLATIONS)

results-ablations-pretrained: results-unet
	$(PRETRAINED_ABLATE) --seeds $(SEEDS) --study components --study fusion

# Table 2's comparison methods whose design takes a ResNet trunk (all of them), each on dlib's face ResNet from its
# shipped weights, beside the baseline and MGMTN rows of the pretrained ablations; first seed only, as from scratch.
results-comparison-pretrained: results-unet
	$(PRETRAINED_ABLATE) --seeds $(firstword $(SEEDS)) --study comparison

# The recipe study (page 12): which from-scratch recipe learns, one factor at a time, global baseline.
results-recipe: venv
	$(BIN)/mgmtn recipes $(CELEBA) --out results/recipe-celeba-subset

# The same for the cpu-pretrained profile (dlib's face ResNet): framing, the backbone's rate, epochs, random weights.
results-recipe-pretrained: venv
	$(BIN)/mgmtn recipes $(CELEBA) --study pretrained --out results/recipe-pretrained-celeba-subset

# The ablation studies (Tables 3 and 4, Fig. 9) on the real subset. Every run starts its backbone from the
# stage-1 `global` model of its seed, then trains at the cpu profile's ablation scale (the first 3,000 training
# images, 1,000 selection images, 6 epochs); scores on the whole val split. Table 3 and Fig. 9 run every row with
# each of SEEDS, the baseline and MGMTN also with each of NOISE_SEEDS (mgmtn.ablations.NOISE_SEEDS); Table 4's mask
# scales and the comparison methods run with the first seed only: their side of a gain adds no seed noise to its interval.
# The stage 1 and every row keep the framing the committed rows were made with, the paper's resize-then-crop
# (112 px crops of the face resized to 126 px), whatever the main runs of make results-cpu adopt.
ABLATIONS := results/ablations-celeba-subset
NOISE_SEEDS := 0 1 2
CROP := 1.1277533039647578
STAGE1 := results/crop-celeba-subset/crop-global-seed
# Their UNet is committed with its weights: a UNet trained again on another CPU is another UNet, and the seeds'
# rows, each with its own stage 1 (weights not committed), are made in different sessions but share one UNet.
ABLATIONS_UNET := $(ABLATIONS)/unet-dlib-selection
ABLATE := $(BIN)/mgmtn ablate $(CELEBA) --profile cpu --unet $(ABLATIONS_UNET) --stage1 $(STAGE1){seed} \
	--resize-ratio $(CROP) --out $(ABLATIONS)

# The stage-1 `global` runs of the ablations: all training images, 6 epochs, the rows' framing.
results-stage1: venv
	for seed in $(NOISE_SEEDS); do \
		$(call train_and_score,$(STAGE1)$$seed,global,$$seed,--epochs 6 --resize-ratio $(CROP)) || exit 1; \
	done

results-ablations: results-boxes results-stage1
	$(ABLATE) --seeds $(SEEDS) --study components --study fusion
	$(ABLATE) --seeds $(firstword $(SEEDS)) --study mask-scale
	for run in global-seed0 mgmtn-seed0; do \
		test -f $(ABLATIONS)/$$run/positions_val.json || \
		$(BIN)/mgmtn positions $(ABLATIONS)/$$run --data $(CELEBA) --annotator dlib || exit 1; \
	done

# The comparison methods of Table 2 on the same protocol, beside the baseline and MGMTN runs of the ablations.
results-comparison: results-boxes results-stage1
	$(ABLATE) --seeds $(firstword $(SEEDS)) --study comparison

# LFWA: page 11 in the cpu profile on the LFWA subset. The fine-tuned runs start from CelebA-subset runs of the
# cpu profile (seed 0) kept beside them in $(LFWA_OUT)/celeba-start, trained there by the page when absent:
# weights are not committed, so the start and its fine-tune are made in one go, and its record stays with them.
# The mask-guided runs need the CelebA UNet (make results-unet). LFWA_ALIGN=True imports each LFW frame as its
# central face in CelebA's aligned frame (import-lfwa --align).
LFWA ?= ../shared/data/lfwa-subset
LFWA_ALIGN ?= False
LFWA_OUT := results/lfwa-subset
LFWA_PRETRAINED_OUT := results/lfwa-pretrained-subset

# Run page 11 into $(1), named $(2) under build/, with the profile and the CelebA starts of its fine-tunes as
# options $(3). In the cpu profile (lfwa_cpu) the starts live in $(1)/celeba-start and keep the 6 epochs their
# committed records were made with.
define lfwa_page
$(BIN)/papermill notebooks/11_lfwa.ipynb build/11_lfwa-$(2).ipynb --cwd $(CURDIR) \
	-p lfwa_root $(abspath $(LFWA)) -p celeba_root $(abspath $(CELEBA)) \
	-p celeba_unet $(CURDIR)/$(UNET) -p align_faces $(LFWA_ALIGN) -p output_dir $(CURDIR)/$(1) $(3)
endef
lfwa_cpu = $(call lfwa_page,$(1),$(2),-p profile cpu -p start_epochs 6 -p celeba_runs $(CURDIR)/$(1)/celeba-start $(3))

results-lfwa: sync
	$(call lfwa_cpu,$(LFWA_OUT),cpu,-p scratch_epochs 20 -p finetune_epochs 20 $(LFWA_OPTIONS))

# The pretrained regime on LFWA: page 11 in the cpu-pretrained profile, its fine-tunes starting from the main runs
# of make results-pretrained of seed LFWA_START_SEED (their best.pt must be here: weights are not committed), its
# runs from scratch starting from dlib's weights.
LFWA_START_SEED ?= 0

results-lfwa-pretrained: sync
	$(call lfwa_page,$(LFWA_PRETRAINED_OUT),pretrained,-p profile cpu-pretrained \
		-p celeba_runs $(CURDIR)/$(PRETRAINED) -p celeba_run_name '{model}-seed$(LFWA_START_SEED)' -p committed $(notdir $(LFWA_PRETRAINED_OUT)) \
		-p scratch_epochs 20 -p finetune_epochs 20 $(LFWA_OPTIONS))

# Is the fine-tuning schedule the limit? Page 11's fine-tunes with another schedule (a fraction SCHEDULE_LR of the
# profile's learning rate for SCHEDULE_EPOCHS epochs) from CelebA starts of their own, trained beside them when
# absent. The default is the shorter schedule make results-lfwa used before it took 20 epochs at the full rate;
# results/finetune-lfwa-subset/lr1.0-20ep was made with SCHEDULE_LR=1.0 SCHEDULE_EPOCHS=20 SCHEDULE_MODELS=global.
SCHEDULE_LR ?= 0.1
SCHEDULE_EPOCHS ?= 6
SCHEDULE_MODELS ?= global, mgmtn
SCHEDULE_OUT := results/finetune-lfwa-subset/lr$(SCHEDULE_LR)-$(SCHEDULE_EPOCHS)ep

results-lfwa-schedule: sync
	$(call lfwa_cpu,$(SCHEDULE_OUT),schedule,-y 'models: [$(SCHEDULE_MODELS)]' -y 'protocols: [finetune]' \
		-p finetune_lr_factor $(SCHEDULE_LR) -p finetune_epochs $(SCHEDULE_EPOCHS))

# Does face alignment matter? A CelebA-trained cpu run scored on the LFWA subset's LFW frames, as they are and
# aligned (mgmtn align-effect); the import is a folder of links under build/.
ALIGN_RUNS ?= global-seed0

results-align: venv
	test -d build/lfwa-subset || $(BIN)/mgmtn import-lfwa $(LFWA) build/lfwa-subset
	for run in $(ALIGN_RUNS); do \
		$(BIN)/mgmtn align-effect $(RESULTS)/$$run --data build/lfwa-subset --out results/align-lfwa-subset/$$run.json \
			|| exit 1; \
	done
