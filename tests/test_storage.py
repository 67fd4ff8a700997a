"""s3:// inputs and outputs against a real S3 server: moto in server mode on 127.0.0.1 (a
random port), s3fs talking HTTP to it. Nothing is mocked: every command runs on the same data
locally and on s3://, and must give the same JSON and the same bytes (docs/storage.md)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from segtool.cli import main
from tests.helpers import assert_bad_input, invoke

s3fs = pytest.importorskip("s3fs", reason="needs segtool[s3] (s3fs)")
moto_server = pytest.importorskip("moto.server", reason="needs moto[server]")

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"
BUCKET = "segtool-test"


@pytest.fixture(scope="module")
def endpoint():
    """A moto S3 server for this module, with dummy credentials in the environment."""
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_ENDPOINT_URL", url)
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
            mp.delenv(name, raising=False)
        yield url
    server.stop()


@pytest.fixture(scope="module")
def local(endpoint, tmp_path_factory):
    """The local copies: the sample panoptic example, a semantic folder and an instance JSON
    made from it, detections (the instances scored 1), all uploaded under s3://BUCKET/data/."""
    from click.testing import CliRunner

    root = tmp_path_factory.mktemp("storage") / "data"
    root.mkdir()
    shutil.copy(SAMPLE / "panoptic_examples.json", root / "panoptic.json")
    shutil.copytree(SAMPLE / "panoptic_examples", root / "panoptic")
    shutil.copytree(SAMPLE / "images", root / "images")
    runner = CliRunner()
    for dst, to in (("semantic", "semantic"), ("instances.json", "coco-instance")):
        assert invoke(runner, "convert", root / "panoptic.json", root / dst, "--to", to, "-q").exit_code == 0
    data = json.loads((root / "instances.json").read_text())
    dets = [dict(a, score=1.0 - 0.01 * (a["id"] % 7)) for a in data["annotations"] if not a["iscrowd"]]
    (root / "detections.json").write_text(json.dumps(dets))
    fs = s3fs.S3FileSystem(skip_instance_cache=True)
    fs.mkdir(BUCKET)
    fs.put(str(root) + "/", f"{BUCKET}/data/", recursive=True)
    return root


@pytest.fixture
def fs(endpoint):
    return s3fs.S3FileSystem(skip_instance_cache=True)


def keys(fs, prefix=""):
    fs.invalidate_cache()
    return sorted(k[len(BUCKET) + 1 :] for k in fs.find(f"{BUCKET}/{prefix}"))


def url(key: str) -> str:
    return f"s3://{BUCKET}/{key}"


def same_json(runner, local_args, s3_args, *, replace=()):
    a, b = invoke(runner, *local_args, "--json", "-", "-q"), invoke(runner, *s3_args, "--json", "-", "-q")
    assert a.exit_code == b.exit_code, (a.stderr, b.stderr)
    text = b.stdout
    for here, there in replace:
        text = text.replace(there, here)
    assert json.loads(text) == json.loads(a.stdout)
    return json.loads(a.stdout)


def test_eval_panoptic_and_instance_equal_local(runner, local):
    got = same_json(
        runner,
        ("eval", "panoptic", local / "panoptic.json", local / "panoptic.json"),
        ("eval", "panoptic", url("data/panoptic.json"), url("data/panoptic.json")),
    )
    assert got["All"]["pq"] == 1.0 and got["All"]["n"] == 8  # the sample's 8 categories present, all matched
    got = same_json(
        runner,
        ("eval", "instance", local / "instances.json", local / "detections.json"),
        ("eval", "instance", url("data/instances.json"), url("data/detections.json")),
    )
    assert got  # scored: the values are compared above


def test_validate_and_info_equal_local(runner, local):
    prefix = f"s3://{BUCKET}/data"
    for path in ("panoptic.json", "semantic", "instances.json"):
        same_json(runner, ("validate", local / path), ("validate", f"{prefix}/{path}"), replace=[(str(local), prefix)])
        same_json(runner, ("info", local / path), ("info", f"{prefix}/{path}"), replace=[(str(local), prefix)])


def test_sidecar_options_take_urls(runner, local):
    """Options naming folders or files (--images, --gt-masks, --pred-masks) stage as the arguments do."""
    prefix = f"s3://{BUCKET}/data"
    got = same_json(
        runner,
        ("validate", local / "panoptic.json", "--images", local / "images"),
        ("validate", url("data/panoptic.json"), "--images", url("data/images")),
        replace=[(str(local), prefix)],
    )
    assert not [f for f in got["findings"] if f["code"].startswith("image")]  # the photos were found, sizes match
    same_json(
        runner,
        ("eval", "panoptic", local / "panoptic.json", local / "panoptic.json", "--gt-masks", local / "panoptic"),
        ("eval", "panoptic", url("data/panoptic.json"), local / "panoptic.json", "--gt-masks", url("data/panoptic")),
    )


def test_messages_name_urls(runner, local):
    """Tables, notes and CI lines name the URLs, not the staged copies."""
    r = invoke(runner, "info", url("data/panoptic.json"))
    assert r.exit_code == 0 and url("data/panoptic.json") in r.stdout and "segtool-storage-" not in r.stdout
    r = invoke(runner, "validate", url("data/panoptic.json"), "--format", "github", "-v")
    escaped = url("data/panoptic/").replace(":", "%3A")  # a workflow command's property escapes ':'
    assert f"file={escaped}" in r.stdout and "segtool-storage-" not in r.stdout
    args = ("eval", "panoptic", url("data/panoptic.json"), url("data/panoptic.json"), "--partial", url("notes/p.npz"))
    r = invoke(runner, *args)
    assert r.exit_code == 0 and f"written to {url('notes/p.npz')}" in r.stderr, r.stderr


def test_convert_to_json_and_folder_equal_local(runner, local, fs, tmp_path):
    for dst, to in (("inst.json", "coco-instance"), ("pan.json", "coco-panoptic"), ("sem", "semantic")):
        mine = invoke(runner, "convert", local / "panoptic.json", tmp_path / dst, "--to", to, "-q")
        theirs = invoke(runner, "convert", url("data/panoptic.json"), url(f"out/{dst}"), "--to", to, "-q")
        assert mine.exit_code == theirs.exit_code == 0, theirs.stderr
        files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
        got = [k[len("out/") :] for k in keys(fs, "out/")]
        assert got == files  # the same objects, and no temporary key left beside them
        for name in files:
            assert fs.cat(f"{BUCKET}/out/{name}") == (tmp_path / name).read_bytes(), name
    assert any(f.startswith("pan/") for f in files) and "sem/categories.json" in files  # the PNG folders came along


def test_json_report_names_urls(runner, local, fs):
    result = invoke(
        runner,
        "convert",
        url("data/panoptic.json"),
        url("rep/j.json"),
        "--to",
        "coco-instance",
        "--json",
        url("rep/s.json"),
    )
    assert result.exit_code == 0, result.stderr
    summary = json.loads(fs.cat(f"{BUCKET}/rep/s.json"))
    assert summary["outputs"] == [url("rep/j.json")]


def test_existing_destination_needs_overwrite(runner, local, fs):
    args = ("convert", url("data/panoptic.json"), url("ow/sem"), "--to", "semantic", "-q")
    assert invoke(runner, *args).exit_code == 0
    fs.pipe(f"{BUCKET}/ow/sem/stale.png", b"old")
    assert_bad_input(invoke(runner, *args), url("ow/sem"), "--overwrite")
    assert invoke(runner, *args, "--overwrite").exit_code == 0
    assert "ow/sem/stale.png" not in keys(fs, "ow/")  # replaced, not merged
    assert "ow/sem/images.json" in keys(fs, "ow/")


def test_output_onto_input_refused(runner, local, fs):
    for dst in ("data/panoptic.json", "data/panoptic", "data"):
        r = invoke(runner, "convert", url("data/panoptic.json"), url(dst), "--to", "coco-panoptic", "--overwrite")
        assert_bad_input(r, url(dst), "input")
    assert keys(fs, "data/panoptic/") == sorted(f"data/panoptic/{p.name}" for p in (local / "panoptic").iterdir())


def test_failed_convert_leaves_nothing(runner, local, fs, tmp_path, monkeypatch):
    """A hostile input that fails midway (its second PNG is missing): no key under the
    destination, no temporary key anywhere, and no local staging folder (in a temporary
    folder of this test's own: another test process stages its own meanwhile)."""
    private = tmp_path / "tmp"
    private.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private))
    data = json.loads((local / "panoptic.json").read_text())
    fs.pipe(f"{BUCKET}/bad/p.json", json.dumps(data).encode())
    first = data["annotations"][0]["file_name"]
    fs.put(str(local / "panoptic" / first), f"{BUCKET}/bad/p/{first}")
    before = set(Path(tempfile.gettempdir()).glob("segtool-storage-*"))
    assert Path(tempfile.gettempdir()) == private
    for dst, to in (("res/p.json", "coco-instance"), ("res/sem", "semantic")):
        r = invoke(runner, "convert", url("bad/p.json"), url(dst), "--to", to, "--jobs", "1")
        assert_bad_input(r, "s3://segtool-test/bad/p/")  # the message names the URL, not the staged copy
    fs.invalidate_cache()
    assert not fs.exists(f"{BUCKET}/res")
    assert not [k for k in keys(fs) if "segtool-tmp" in k]
    assert set(Path(tempfile.gettempdir()).glob("segtool-storage-*")) == before


def test_failure_while_copying_into_place_leaves_nothing(runner, local, fs, monkeypatch):
    """The upload succeeds, the copy into place fails after one object: what was placed and
    the temporary prefix are deleted; the index JSON was never placed."""
    from segtool import storage

    monkeypatch.setattr(storage, "BATCH", 1)
    real = s3fs.S3FileSystem.copy
    calls = []

    def failing(self, *args, **kwargs):
        calls.append(args)
        if len(calls) == 2:
            raise ConnectionResetError("connection reset by the test")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(s3fs.S3FileSystem, "copy", failing)
    r = invoke(runner, "convert", url("data/panoptic.json"), url("half/pan.json"), "--to", "coco-panoptic")
    assert_bad_input(r, url("half/pan.json"), "connection reset")
    assert len(calls) == 2
    assert not [k for k in keys(fs) if k.startswith("half") or "segtool-tmp" in k]


def test_errors_are_one_line(runner, local, monkeypatch, endpoint):
    args = ("--to", "coco-instance")
    assert_bad_input(invoke(runner, "validate", url("data/missing.json")), url("data/missing.json"), "not found")
    assert_bad_input(invoke(runner, "validate", "s3://no-such-bucket/x.json"), "s3://no-such-bucket/x.json")
    assert_bad_input(
        invoke(runner, "convert", url("data/panoptic.json"), "https://example.invalid/o.json", *args), "reading only"
    )
    assert_bad_input(invoke(runner, "convert", url("data/panoptic.json"), "s3://another-bucket", *args), "bucket")
    assert_bad_input(invoke(runner, "info", "nosuch://bucket/x.json"), "nosuch://bucket/x.json")
    # the endpoint from --storage-option instead of the environment; a wrong one is one line too
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    r = invoke(runner, "info", url("data/panoptic.json"), "--storage-option", f"endpoint_url={endpoint}", "-q")
    assert r.exit_code == 0, r.stderr
    dead = ('config_kwargs={"retries": {"max_attempts": 1}, "connect_timeout": 1}', "retries=0")
    opts = [x for o in ("endpoint_url=http://127.0.0.1:9", *dead) for x in ("--storage-option", o)]
    assert_bad_input(invoke(runner, "info", url("data/panoptic.json"), *opts), url("data/panoptic.json"))
    r = invoke(runner, "info", url("data/panoptic.json"), "--storage-option", "novalue")  # a usage error, as --limit's
    assert r.exit_code == 2 and "takes KEY=VALUE" in r.stderr and "Traceback" not in r.output


def test_stdin_still_readable_beside_a_url(runner, local):
    """A staged URL is not a read of stdin: ``-`` beside it still works."""
    r = runner.invoke(
        main,
        [
            "eval",
            "panoptic",
            url("data/panoptic.json"),
            "-",
            "--pred-masks",
            str(local / "panoptic"),
            "--json",
            "-",
            "-q",
        ],
        input=(local / "panoptic.json").read_bytes(),
    )
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["All"]["pq"] == 1.0


SLOW_UPLOAD = """
import sys, time
import s3fs
from segtool import storage
from segtool.cli import main

storage.BATCH = 1  # one object a transfer, each slowed down: the signal comes mid-upload
real = s3fs.S3FileSystem.put
def slow(self, *args, **kwargs):
    real(self, *args, **kwargs)
    time.sleep(0.3)
s3fs.S3FileSystem.put = slow
sys.argv[0] = "segtool"
main()
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM])  # SIGINT takes the same handler (interrupts.raising)
def test_signal_during_upload_leaves_nothing(local, fs, signum, tmp_path):
    """A real signal to a real process while its output is being uploaded: exit 143 / 130,
    the temporary prefix deleted, nothing under the destination, the staging folder gone."""
    dst = f"sig{int(signum)}/sem"
    env = {**os.environ, "SEGTOOL_STAGING_DIR": str(tmp_path)}
    cmd = [sys.executable, "-c", SLOW_UPLOAD, "convert", url("data/panoptic.json"), url(dst), "--to", "semantic"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while not [k for k in keys(fs) if k.startswith(f"sig{int(signum)}/sem.segtool-tmp-")]:
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.stderr else ""
        time.sleep(0.05)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signum, err
    assert err.decode().strip().splitlines()[-1] in ("Interrupted.", "Terminated.")
    assert not [k for k in keys(fs) if k.startswith(f"sig{int(signum)}")]
    assert list(tmp_path.iterdir()) == []


def test_output_to_a_missing_bucket_refused_before_work(runner, local):
    r = invoke(runner, "convert", url("data/panoptic.json"), "s3://no-such-bucket/o.json", "--to", "coco-instance")
    assert_bad_input(r, "s3://no-such-bucket/o.json", "no such bucket")


def test_http_input_equals_local(runner, local):
    """``http(s)://`` reads a file (here from a web server on 127.0.0.1) and is refused as an output."""
    import functools
    import http.server
    import threading

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # no line per request on the test's stderr
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(local)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        same_json(
            runner,
            ("eval", "instance", local / "instances.json", local / "detections.json"),
            ("eval", "instance", f"{base}/instances.json", f"{base}/detections.json"),
        )
        assert_bad_input(invoke(runner, "validate", f"{base}/missing.json"), f"{base}/missing.json")
        r = invoke(runner, "convert", f"{base}/instances.json", f"{base}/o.json", "--to", "coco-instance")
        assert_bad_input(r, "reading only")
    finally:
        server.shutdown()
        server.server_close()


def test_url_and_option_parsing():
    from segtool.storage import is_url, parse_option

    assert [is_url(t) for t in ("s3://b/k", "gs://b", "https://h/x.json", "C:\\x.json", "data/x.json", "-")] == [
        True,
        True,
        True,
        False,
        False,
        False,
    ]
    assert parse_option("anon=true") == ("anon", True)
    assert parse_option('client_kwargs={"region_name": "eu-west-1"}') == (
        "client_kwargs",
        {"region_name": "eu-west-1"},
    )
    assert parse_option("endpoint_url=http://h:9000") == ("endpoint_url", "http://h:9000")
    assert parse_option("retries=0") == ("retries", 0)


def test_index_json_goes_into_place_last():
    """A reader who finds the index finds what it names: PNGs, then nested JSON, then the top-level JSON."""
    from segtool.storage import _phases

    rels = ["p.json", "p/1.png", "sem/images.json", "sem/a.png", "sem/categories.json", "p/2.png"]
    assert _phases(rels) == [
        ["p/1.png", "sem/a.png", "p/2.png"],
        ["sem/images.json", "sem/categories.json"],
        ["p.json"],
    ]


def test_a_killed_runs_temporaries_are_swept(runner, local, fs, monkeypatch):
    """A run killed outright leaves NAME.segtool-tmp-XXXXXXXX/ behind; the next run on the
    same destination deletes it once it is older than STALE_AFTER (here 0 s). Another
    destination's temporaries and a look-alike name stay."""
    from segtool import storage

    left = ["sw/o.json.segtool-tmp-0123abcd/o.json", "sw/o.json.segtool-tmp-0123abcd/o/1.png"]
    other = ["sw/p.json.segtool-tmp-0123abcd/p.json", "sw/o.json.segtool-tmp-backup/o.json"]
    for key in left + other:
        fs.pipe(f"{BUCKET}/{key}", b"x")
    args = ("convert", url("data/panoptic.json"), url("sw/o.json"), "--to", "coco-instance", "-q")
    assert invoke(runner, *args).exit_code == 0
    assert [k for k in keys(fs, "sw/") if "tmp" in k] == sorted(left + other)  # young: may be a live run's
    monkeypatch.setattr(storage, "STALE_AFTER", 0.0)
    assert invoke(runner, *args, "--overwrite").exit_code == 0
    assert [k for k in keys(fs, "sw/") if "tmp" in k] == sorted(other)


def test_a_url_in_a_config_file_is_staged(runner, local, tmp_path):
    """``images = "s3://..."`` in a config file is a URL, not a path under the file's folder."""
    config = tmp_path / "segtool.toml"
    config.write_text(f'[validate]\nimages = "{url("data/images")}"\n')
    got = same_json(
        runner,
        ("validate", local / "panoptic.json", "--images", local / "images"),
        ("validate", url("data/panoptic.json"), "--config", config),
        replace=[(str(local), f"s3://{BUCKET}/data")],
    )
    assert not [f for f in got["findings"] if f["code"].startswith("image")]
