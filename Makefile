# One entry point for set-up, demo, tests and lint. CI (.ci/run) calls `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SEGTOOL := $(BIN)/segtool
OUT ?= demo_out

.PHONY: demo test lint venv test-venv bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

venv: $(BIN)/python
	$(BIN)/pip install --quiet -e .

# panopticapi-lite (the PQ reference) pins numpy<2, so it is installed without its deps.
test-venv: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	$(BIN)/pip install --quiet --no-deps panopticapi-lite

demo: venv
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
	@echo "demo outputs are in $(OUT)/"

test: test-venv
	$(BIN)/python -m pytest -q

lint: test-venv
	$(BIN)/ruff check segtool tests benchmarks
	$(BIN)/ruff format --check segtool tests benchmarks

bench: test-venv
	$(BIN)/python benchmarks/bench_convert.py
	$(BIN)/python benchmarks/bench_eval.py

clean:
	rm -rf $(VENV) $(OUT) bench_out .pytest_cache *.egg-info
