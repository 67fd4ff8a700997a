# One entry point for set-up, demo, tests and lint. CI (.ci/run) calls `make test`, `make
# test-pure`, `make lint` and `make sanitize`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SEGTOOL := $(BIN)/segtool
OUT ?= demo_out
PIP_EXTRA ?=

.PHONY: demo demo-run test test-pure lint venv test-venv browser bench clean sanitize fuzz wheel wheel-test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

venv: $(BIN)/python
	$(BIN)/pip install --quiet -e .

# panopticapi-lite (the PQ reference) pins numpy<2, and cityscapesscripts (the Cityscapes reference) pulls
# matplotlib and more: both are installed without their deps. So is lvis (the LVIS AP reference), which asks
# for opencv-python and Cython; what its import needs (cv2, matplotlib) the test extra has. tidecv (the TIDE
# reference) asks for opencv-python too: --no-deps, its imports (seaborn, appdirs, matplotlib) in the test extra.
# labelme (GPL-3.0, imports Qt), Ultralytics (torch) and label-studio-converter are unpacked, not installed, to
# $(VENV)/refs: their parity tests compile single files of their source (tests/refs.py).
test-venv: $(BIN)/python browser
	$(BIN)/pip install --quiet -e '.[test]' $(if $(PIP_EXTRA),'$(PIP_EXTRA)')
	$(BIN)/pip install --quiet --no-deps panopticapi-lite cityscapesscripts lvis==0.5.3 tidecv==1.0.1
	[ -d $(VENV)/refs/label_studio_converter ] || $(BIN)/pip install --quiet --no-deps --target $(VENV)/refs \
	  labelme==6.3.1 ultralytics==8.4.190 label-studio-converter==0.0.59

# Headless Chromium for the test that opens preview's HTML gallery; where it cannot be
# installed (not Debian, not root, no registry), that one test is skipped and says why.
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  ( command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
	    apt-get update -qq >/dev/null 2>&1 && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1 ) || \
	  echo "note: headless Chromium is not available; the gallery browser test will be skipped"

demo: venv demo-run

# The demo's commands with $(SEGTOOL) ($(BIN)/python for one line of JSON): make wheel-test runs
# them with the wheel installed in a fresh environment.
demo-run:
	rm -rf $(OUT)
	$(SEGTOOL) info sample_data/panoptic_examples.json
	$(SEGTOOL) validate sample_data/panoptic_examples.json
	$(SEGTOOL) convert sample_data/panoptic_examples.json $(OUT)/instances.json --to coco-instance
	$(SEGTOOL) convert $(OUT)/instances.json $(OUT)/panoptic_roundtrip.json --to coco-panoptic
	$(SEGTOOL) convert sample_data/panoptic_examples.json $(OUT)/semantic --to semantic --palette
	$(SEGTOOL) convert $(OUT)/semantic $(OUT)/panoptic_from_semantic.json --to coco-panoptic --split-things
	$(SEGTOOL) convert $(OUT)/instances.json $(OUT)/instances_polygons.json --to coco-instance --mask-encoding polygon
	$(SEGTOOL) info $(OUT)/semantic
	$(SEGTOOL) eval panoptic sample_data/panoptic_examples.json $(OUT)/panoptic_roundtrip.json
	$(SEGTOOL) eval panoptic sample_data/panoptic_examples.json $(OUT)/panoptic_from_semantic.json --per-class
	$(SEGTOOL) eval semantic sample_data/panoptic_examples.json $(OUT)/semantic
	$(BIN)/python -c "import json; d = json.load(open('$(OUT)/instances.json')); json.dump([dict(a, score=1.0) for a in d['annotations'] if not a['iscrowd']], open('$(OUT)/detections.json', 'w'))"
	$(SEGTOOL) eval instance $(OUT)/instances.json $(OUT)/detections.json
	$(SEGTOOL) preview sample_data/panoptic_examples.json $(OUT)/preview --images sample_data/images --html
	$(SEGTOOL) preview sample_data/panoptic_examples.json $(OUT)/preview_vs_semantic --images sample_data/images --pred $(OUT)/panoptic_from_semantic.json
	@echo "demo outputs are in $(OUT)/"

# PYTEST_ARGS: more pytest arguments
PYTEST_ARGS ?=
# pytest-xdist: the suite in TEST_WORKERS processes (auto: one per core; 1 for a single process),
# which keeps CI's three runs of it under 30 minutes on 2 cores. A file's tests go to one worker
# (loadfile): the hostile corpora are module fixtures (~4 min of setup), built once, not per worker
TEST_WORKERS ?= auto
XDIST := $(if $(filter 1,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile)
# The Dask cluster and S3 server tests exercise neither the C kernels nor numpy: test-pure and the
# sanitizer (CI runs it with numpy<2) leave them out (make test runs them), keeping CI under 30 min.
INTEGRATION := --ignore=tests/test_dask.py --ignore=tests/test_storage.py
# Tests of the OS plumbing around the commands, which neither the kernels' implementation nor
# numpy's version reaches: hostile output paths, two runs on one OUT, signals, refused writes
# and OS errors, HTML escaping, forged log lines. make test runs them; test-pure and the sanitizer
# (CI runs it with numpy<2) leave them out (~65 s each on 2 cores), keeping CI under 30 minutes.
PLUMBING := --ignore=tests/hostile/test_paths.py --ignore=tests/hostile/test_two_runs.py --ignore=tests/test_signals.py \
  --ignore=tests/hostile/test_env.py --ignore=tests/test_env_errors.py --ignore=tests/hostile/test_html.py \
  --ignore=tests/hostile/test_log.py

test: test-venv
	$(BIN)/python -m pytest -q $(XDIST) $(PYTEST_ARGS)

# The suite on the pure-Python twin of the C kernels (segtool/_purekernels/), which an install
# without a C compiler runs: SEGTOOL_PURE_PYTHON=1 (inherited by subprocesses and pool workers).
# Left out, as make test ran them alike: the tests that compare the C kernels with the twin
# directly (marked both_kernels), the OS plumbing, and the Dask and S3 transports (INTEGRATION:
# their workers run the same per-image code as the process pool, which this run covers).
# HARNESS: the hostile-input harness (tests/hostile/: crashes, internal errors, hangs and every
# format's hostile trees, through the CLI in child processes, ~6 min of CPU) is left out too:
# what the twin does on hostile arguments is checked where it is decided, in this run
# (tests/test_hostile_native*.py, through the selector) and against C (the hostile-argument
# table of tests/test_kernels_twin.py); make test and the sanitizer run the harness.
HARNESS := --ignore=tests/hostile
test-pure: test-venv
	SEGTOOL_PURE_PYTHON=1 $(BIN)/python -m pytest -q $(XDIST) $(INTEGRATION) $(PLUMBING) $(HARNESS) -m "not both_kernels"

# The C kernels built with AddressSanitizer + UBSan, the suite but the Dask and S3 tests run against them (workers
# too), then the normal build restored. Any report aborts the run; the browser test skips.
# FORMATS_HARNESS: every format's hostile trees through the CLI (~3.5 min of CPU, more under ASan) test the
# readers' Python; the C they reach (PNG rows, polygons, RLEs, JSON scans) meets hostile input in this run
# anyway (tests/test_hostile_native*.py, the hostile-argument tables, the crash and exit-3 harness classes).
FORMATS_HARNESS := --ignore=tests/hostile/test_formats_hostile.py
sanitize: test-venv
	so=segtool/_kernels$$($(BIN)/python -c "import sysconfig; print(sysconfig.get_config_var('EXT_SUFFIX'))"); \
	inc=$$($(BIN)/python -c "import sysconfig; print(sysconfig.get_paths()['include'])"); \
	gcc -shared -fPIC -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer \
	  -I$$inc segtool/_kernels.c -o $$so && \
	LD_PRELOAD="$$(gcc -print-file-name=libasan.so) $$(gcc -print-file-name=libubsan.so)" ASAN_OPTIONS=detect_leaks=0 \
	  $(BIN)/python -m pytest -q -p no:cacheprovider $(XDIST) $(INTEGRATION) $(PLUMBING) $(FORMATS_HARNESS); status=$$?; \
	rm -f $$so; $(BIN)/pip install --quiet -e .; exit $$status

# Every fuzz target (fuzz/README.md) for FUZZ_SECONDS each, one process per target; failing
# inputs land in fuzz/crashes/. atheris where its wheel installs, else hypothesis for the same
# time. FUZZ_ASAN=1 builds the C kernels with ASan + UBSan for the run (the tree's build untouched).
FUZZ_SECONDS ?= 60
fuzz: test-venv
	@$(BIN)/pip install --quiet --only-binary=:all: atheris >/dev/null 2>&1 || \
	  echo "note: atheris has no wheel for this Python/platform; fuzzing with hypothesis only"
	$(BIN)/python -m fuzz all --seconds $(FUZZ_SECONDS) $(if $(FUZZ_ASAN),--asan)

# ruff (style, imports, common bugs) and mypy --strict (pyproject's [tool.mypy]) over the package
lint: test-venv
	$(BIN)/ruff check segtool tests benchmarks fuzz
	$(BIN)/ruff format --check segtool tests benchmarks fuzz
	$(BIN)/mypy

bench: test-venv
	$(BIN)/python benchmarks/bench_convert.py
	$(BIN)/python benchmarks/bench_eval.py
	$(BIN)/python benchmarks/bench_validate.py
	$(BIN)/python benchmarks/bench_preview.py

# A wheel of this checkout for this machine in dist/ (the C kernels compiled if a compiler is
# there; without one, a wheel that runs the pure-Python twin). cibuildwheel builds the
# portable ones (pyproject.toml, .github/workflows/wheels.yml).
wheel: $(BIN)/python
	rm -rf dist/segtool-*.whl
	$(BIN)/pip wheel . --no-deps -w dist

# That wheel installed into a fresh environment outside the checkout: --version names the
# kernels, and eval scores the sample data with them and with the twin.
WHEEL_VENV ?= /tmp/segtool-wheel-test
wheel-test: wheel
	rm -rf $(WHEEL_VENV)
	$(PYTHON) -m venv $(WHEEL_VENV)
	$(WHEEL_VENV)/bin/pip install --quiet dist/segtool-*.whl
	cd /tmp && $(WHEEL_VENV)/bin/segtool --version
	$(MAKE) --no-print-directory demo-run SEGTOOL=$(WHEEL_VENV)/bin/segtool BIN=$(WHEEL_VENV)/bin OUT=$(WHEEL_VENV)/demo_out
	cd /tmp && SEGTOOL_PURE_PYTHON=1 $(WHEEL_VENV)/bin/segtool --version
	cd /tmp && SEGTOOL_PURE_PYTHON=1 $(WHEEL_VENV)/bin/segtool eval panoptic \
	  $(CURDIR)/sample_data/panoptic_examples.json $(CURDIR)/sample_data/panoptic_examples.json --fail-under PQ=1 -q

clean:
	rm -rf $(VENV) $(OUT) bench_out .pytest_cache *.egg-info build dist segtool/_kernels*.so
