#!/usr/bin/env python3
"""MLflow model registry compatibility check.

Drives the stock MLflow Python client (``mlflow.register_model``, ``mlflow.MlflowClient()``,
``mlflow.artifacts.download_artifacts``, ``mlflow.onnx``) against the tracking server named by
``MLFLOW_TRACKING_URI`` the way a user of the model registry would: a run logs an ONNX model
(``test/fixtures/onnx/tabular_mlp.onnx`` plus an ``MLmodel`` file) under ``model/``, which is
then registered, searched, aliased, staged, tagged, renamed, downloaded, loaded and deleted.

Every check prints ``ok <name>`` or ``FAIL <name>: <reason>``; the script carries on after a
failure, prints ``N passed, M failed`` at the end and exits 1 when anything failed (2 when it
cannot start at all). A step this machine cannot run (loading the model through ``pyfunc``
needs onnxruntime) is reported as a ``# skip`` line and does not count as a failure.

Usage:
    MLFLOW_TRACKING_URI=http://127.0.0.1:PORT \\
    PYTHONPATH=<mlflow source tree>:<querystring-parser tree> \\
    /usr/bin/python3 test/compat/mlflow_registry_check.py

All names created here start with ``reg-`` plus a random suffix, so the script can be run
repeatedly against the same server.
"""

import os
import sys

import hashlib  # noqa: E402
import importlib  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import uuid  # noqa: E402
import warnings  # noqa: E402
from check_harness import require_env, State, check, expect, expect_eq, expect_mlflow_error, files_under, finish  # noqa: E402

require_env("MLFLOW_TRACKING_URI")

try:
    import numpy as np
    import yaml
    import mlflow
    import mlflow.artifacts
    import mlflow.models
    from mlflow import MlflowClient
    from mlflow.models.signature import ModelSignature
    from mlflow.types.schema import Schema, TensorSpec
except Exception as exc:  # pragma: no cover - environment problem
    print(f"cannot import the MLflow client: {exc!r}", file=sys.stderr)
    sys.exit(2)

# get_latest_versions and transition_model_version_stage are deprecated since MLflow 2.9 but still
# served; their warnings would only clutter the output.
warnings.filterwarnings("ignore", category=FutureWarning)

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "..", "fixtures", "onnx", "tabular_mlp.onnx")
FIXTURE_SHA256 = "84c608da79a2a2e759e314473ecb6f5888f00ee7893d726263cefa251e0c351d"
FIXTURE_BYTES = 17850

SUFFIX = uuid.uuid4().hex[:8]
PREFIX = f"reg-{SUFFIX}"
NAME = f"{PREFIX}-tabular"
RENAMED = f"{PREFIX}-tabular-renamed"
# extra models for search and paging; NAME makes it four under PREFIX, in this name order
OTHERS = [f"{PREFIX}-a-first", f"{PREFIX}-m-middle", f"{PREFIX}-z-last"]

S = State()


def sha256_of(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def is_millis(value):
    return isinstance(value, int) and value > 1_000_000_000_000


def versions_of(model_versions):
    return sorted((mv.version for mv in model_versions), key=int)


def skip(what, reason):
    print(f"# skip {what}: {reason}", flush=True)


def optional_module(name, what):
    """The module ``name``, or None (with a ``# skip`` line for ``what``) when it cannot be imported here."""
    try:
        return importlib.import_module(name)
    except Exception as exc:
        skip(what, f"import {name} failed: {exc!r}")
        return None


client = MlflowClient()
WORK = tempfile.mkdtemp(prefix="compat-registry-")

print(f"# tracking uri {mlflow.get_tracking_uri()}, mlflow {mlflow.__version__}, prefix {PREFIX}")

# ---------------------------------------------------------------- a run with an ONNX model


@check("fixture")
def _():
    expect(os.path.isfile(FIXTURE), f"{FIXTURE} is missing")
    expect_eq(os.path.getsize(FIXTURE), FIXTURE_BYTES, "fixture size")
    expect_eq(sha256_of(FIXTURE), FIXTURE_SHA256, "fixture sha256")


@check("log_model_artifacts")
def _():
    exp = mlflow.set_experiment(f"{PREFIX}-registry")
    S.exp_id = exp.experiment_id
    model_dir = os.path.join(WORK, "model")
    os.makedirs(model_dir)
    shutil.copyfile(FIXTURE, os.path.join(model_dir, "model.onnx"))
    with mlflow.start_run(experiment_id=exp.experiment_id, run_name="reg-train") as run:
        mlflow.log_metric("test_accuracy", 0.958)
        # an MLmodel as mlflow.onnx would write it: onnx + python_function flavors and a tensor
        # signature matching the graph (input float32[-1, 30], probabilities float32[-1, 2])
        signature = ModelSignature(
            inputs=Schema([TensorSpec(np.dtype(np.float32), (-1, 30), "input")]),
            outputs=Schema([TensorSpec(np.dtype(np.float32), (-1, 2), "probabilities")]),
        )
        mlmodel = mlflow.models.Model(artifact_path="model", run_id=run.info.run_id, signature=signature)
        mlmodel.add_flavor(
            "python_function", loader_module="mlflow.onnx", data="model.onnx", python_version="3.11"
        )
        mlmodel.add_flavor(
            "onnx", onnx_version="1.12.0", data="model.onnx", providers=["CPUExecutionProvider"], code=None
        )
        mlmodel.save(os.path.join(model_dir, "MLmodel"))
        mlflow.log_artifact(os.path.join(model_dir, "MLmodel"), artifact_path="model")
        mlflow.log_artifact(os.path.join(model_dir, "model.onnx"), artifact_path="model")
    S.run_id = run.info.run_id
    S.artifact_uri = client.get_run(S.run_id).info.artifact_uri
    S.model_dir = model_dir
    S.signature = signature
    listing = {f.path: (f.is_dir, f.file_size) for f in client.list_artifacts(S.run_id, "model")}
    expect_eq(
        listing,
        {"model/MLmodel": (False, os.path.getsize(os.path.join(model_dir, "MLmodel"))), "model/model.onnx": (False, FIXTURE_BYTES)},
        "model/ listing",
    )
    expect_eq(client.get_run(S.run_id).data.metrics, {"test_accuracy": 0.958}, "run metrics")


# ---------------------------------------------------------------- register


def expect_version(mv, version, what, stage="None"):
    expect_eq(mv.name, S.current_name, f"{what}: name")
    expect_eq(mv.version, version, f"{what}: version")
    expect_eq(mv.run_id, S.run_id, f"{what}: run_id")
    expect_eq(mv.source, f"{S.artifact_uri}/model", f"{what}: source")
    expect_eq(mv.status, "READY", f"{what}: status")
    expect_eq(mv.current_stage, stage, f"{what}: current_stage")
    expect(is_millis(mv.creation_timestamp), f"{what}: creation_timestamp {mv.creation_timestamp!r}")
    expect(
        is_millis(mv.last_updated_timestamp) and mv.last_updated_timestamp >= mv.creation_timestamp,
        f"{what}: last_updated_timestamp {mv.last_updated_timestamp!r} (created {mv.creation_timestamp!r})",
    )


@check("register_model_twice")
def _():
    model_uri = f"runs:/{S.run_id}/model"
    S.current_name = NAME
    expect_mlflow_error(lambda: client.get_registered_model(NAME), "RESOURCE_DOES_NOT_EXIST", "model before registering", status=404)
    v1 = mlflow.register_model(model_uri, NAME)
    expect_version(v1, "1", "first register_model")
    v2 = mlflow.register_model(model_uri, NAME)  # the model exists now: only a version is added
    expect_version(v2, "2", "second register_model")
    expect(v2.creation_timestamp >= v1.creation_timestamp, "version 2 created before version 1")
    got = client.get_model_version(NAME, "1")
    expect_version(got, "1", "get_model_version 1")
    expect_eq(got.description, "", "version 1 description")
    expect_eq(got.tags, {}, "version 1 tags")
    expect_eq(got.aliases, [], "version 1 aliases")
    expect_eq(client.get_model_version_download_uri(NAME, "2"), f"{S.artifact_uri}/model", "download uri of version 2")
    expect_mlflow_error(lambda: client.get_model_version(NAME, "3"), "RESOURCE_DOES_NOT_EXIST", "unknown version", status=404)
    # tags and a description given at creation; this extra model is deleted again at once
    extra = f"{PREFIX}-extra"
    tagged = mlflow.register_model(model_uri, extra, tags={"origin": "compat"})
    expect_eq((tagged.version, tagged.tags), ("1", {"origin": "compat"}), "register_model with tags")
    described = client.create_model_version(
        extra, f"{S.artifact_uri}/model", S.run_id, tags={"k": "v"}, description="made directly"
    )
    expect_eq(
        (described.version, described.tags, described.description, described.run_id),
        ("2", {"k": "v"}, "made directly", S.run_id),
        "create_model_version with tags and description",
    )
    got_extra = client.get_model_version(extra, "2")
    expect_eq((got_extra.tags, got_extra.description), ({"k": "v"}, "made directly"), "get of that version")
    client.delete_registered_model(extra)
    expect_mlflow_error(
        lambda: client.create_model_version(f"{PREFIX}-no-such-model", f"{S.artifact_uri}/model", S.run_id),
        "RESOURCE_DOES_NOT_EXIST",
        "version of an unknown model",
        status=404,
    )
    S.registered = True


@check("create_registered_model")
def _():
    expect_mlflow_error(
        lambda: client.create_registered_model(NAME),
        "RESOURCE_ALREADY_EXISTS",
        "duplicate registered model",
        status=400,
    )
    for i, name in enumerate(OTHERS):
        rm = client.create_registered_model(
            name, tags={"family": "tabular" if i < 2 else "tree", "order": str(i)}, description=f"model {i}"
        )
        expect_eq(rm.name, name, "returned name")
        expect_eq(rm.description, f"model {i}", "returned description")
        expect_eq(rm.tags, {"family": "tabular" if i < 2 else "tree", "order": str(i)}, "returned tags")
        expect(is_millis(rm.creation_timestamp), f"creation_timestamp {rm.creation_timestamp!r}")
        expect_eq(rm.latest_versions, [], "latest_versions of a model without versions")
    got = client.get_registered_model(OTHERS[0])
    expect_eq((got.name, got.description, got.tags), (OTHERS[0], "model 0", {"family": "tabular", "order": "0"}), "get of a created model")
    S.others = True


@check("get_registered_model")
def _():
    expect(S.registered, "the versions were not registered")
    rm = client.get_registered_model(NAME)
    expect_eq(rm.name, NAME, "name")
    expect_eq(rm.description, "", "description")
    expect_eq(rm.tags, {}, "tags")
    expect_eq(rm.aliases, {}, "aliases")
    expect(is_millis(rm.creation_timestamp), f"creation_timestamp {rm.creation_timestamp!r}")
    expect(
        is_millis(rm.last_updated_timestamp) and rm.last_updated_timestamp >= rm.creation_timestamp,
        f"last_updated_timestamp {rm.last_updated_timestamp!r}",
    )
    # one latest version per stage: both versions are in stage None, so only version 2
    expect_eq([(v.version, v.current_stage) for v in rm.latest_versions], [("2", "None")], "latest_versions")
    expect_version(rm.latest_versions[0], "2", "latest_versions[0]")
    expect_mlflow_error(
        lambda: client.get_registered_model(f"{PREFIX}-no-such"), "RESOURCE_DOES_NOT_EXIST", "unknown model", status=404
    )


@check("search_registered_models")
def _():
    expect(S.others and S.registered, "the models were not created")
    ours = sorted([NAME, *OTHERS])
    everything = client.search_registered_models(filter_string=f"name LIKE '{PREFIX}%'")
    expect_eq([rm.name for rm in everything], ours, "LIKE filter, default order name ASC")
    expect(not everything.token, f"single page has a token {everything.token!r}")
    exact = client.search_registered_models(filter_string=f"name = '{NAME}'")
    expect_eq([rm.name for rm in exact], [NAME], "name = filter")
    expect_eq([v.version for v in exact[0].latest_versions], ["2"], "latest_versions in a search result")
    desc = client.search_registered_models(filter_string=f"name LIKE '{PREFIX}%'", order_by=["name DESC"])
    expect_eq([rm.name for rm in desc], sorted(ours, reverse=True), "order_by name DESC")
    tagged = client.search_registered_models(filter_string=f"name LIKE '{PREFIX}%' AND tags.family = 'tabular'")
    expect_eq([rm.name for rm in tagged], OTHERS[:2], "tag filter")
    newest = client.search_registered_models(
        filter_string=f"name LIKE '{PREFIX}%'", order_by=["last_updated_timestamp DESC", "name ASC"]
    )
    expect_eq(newest[0].name, OTHERS[-1], "order_by last_updated_timestamp DESC: the model created last")
    ilike = client.search_registered_models(filter_string=f"name ILIKE '{PREFIX.upper()}-Z%'")
    expect_eq([rm.name for rm in ilike], [OTHERS[2]], "ILIKE filter")
    # paging: 4 models, 3 per page, then 2 per page (exactly full last page: no token)
    page1 = client.search_registered_models(filter_string=f"name LIKE '{PREFIX}%'", max_results=3)
    expect_eq([rm.name for rm in page1], ours[:3], "page 1 of 3")
    expect(page1.token, "page 1 has no next token")
    page2 = client.search_registered_models(filter_string=f"name LIKE '{PREFIX}%'", max_results=3, page_token=page1.token)
    expect_eq([rm.name for rm in page2], ours[3:], "page 2 of 3")
    expect(not page2.token, f"last page has a token {page2.token!r}")
    seen, sizes, token = [], [], None
    for _ in range(4):
        page = client.search_registered_models(filter_string=f"name LIKE '{PREFIX}%'", max_results=2, page_token=token)
        sizes.append(len(page))
        seen.extend(rm.name for rm in page)
        token = page.token
        if not token:
            break
    expect_eq(sizes, [2, 2], "page sizes with max_results=2 (registered-model search looks ahead)")
    expect_eq(seen, ours, "names over pages of 2")
    expect_eq(client.search_registered_models(filter_string=f"name = '{PREFIX}-no-such'"), [], "no match")
    expect_mlflow_error(
        lambda: client.search_registered_models(filter_string="nosuch.x = 'y'"), "INVALID_PARAMETER_VALUE", "bad filter", status=400
    )
    expect_mlflow_error(
        lambda: client.search_registered_models(max_results=3, page_token="not-a-token"),
        "INVALID_PARAMETER_VALUE",
        "undecodable page token",
        status=400,
    )


@check("search_model_versions")
def _():
    expect(S.registered, "the versions were not registered")
    by_name = client.search_model_versions(f"name='{NAME}'")
    expect_eq(versions_of(by_name), ["1", "2"], "versions by name")
    for mv in by_name:
        expect_version(mv, mv.version, f"search result version {mv.version}")
    by_run = client.search_model_versions(f"run_id='{S.run_id}'")
    expect_eq(sorted((mv.name, mv.version) for mv in by_run), [(NAME, "1"), (NAME, "2")], "versions by run_id")
    one = client.search_model_versions(f"name='{NAME}' AND version_number=2")
    expect_eq([mv.version for mv in one], ["2"], "name + version_number filter")
    ordered = client.search_model_versions(f"name='{NAME}'", order_by=["version_number DESC"])
    expect_eq([mv.version for mv in ordered], ["2", "1"], "order_by version_number DESC")
    page1 = client.search_model_versions(f"name='{NAME}'", max_results=1, order_by=["version_number ASC"])
    expect_eq([mv.version for mv in page1], ["1"], "page 1 of 1-per-page")
    expect(page1.token, "page 1 has no next token")
    page2 = client.search_model_versions(
        f"name='{NAME}'", max_results=1, order_by=["version_number ASC"], page_token=page1.token
    )
    expect_eq([mv.version for mv in page2], ["2"], "page 2 of 1-per-page")
    listed = client.search_model_versions(f"run_id IN ('{S.run_id}', '{'0' * 32}') AND name = '{NAME}'")
    expect_eq(versions_of(listed), ["1", "2"], "run_id IN filter")
    expect_eq(client.search_model_versions(f"name='{NAME}' AND version_number != 1")[0].version, "2", "version_number != filter")
    expect_eq(client.search_model_versions(f"name='{PREFIX}-no-such'"), [], "unknown model name")
    expect_mlflow_error(
        lambda: client.search_model_versions("nosuch.x = 'y'"), "INVALID_PARAMETER_VALUE", "bad filter", status=400
    )


# ---------------------------------------------------------------- aliases


@check("aliases")
def _():
    expect(S.registered, "the versions were not registered")
    client.set_registered_model_alias(NAME, "champion", "1")
    client.set_registered_model_alias(NAME, "challenger", "2")
    rm = client.get_registered_model(NAME)
    expect_eq(rm.aliases, {"champion": "1", "challenger": "2"}, "aliases on the model")
    expect_eq(client.get_model_version(NAME, "1").aliases, ["champion"], "aliases of version 1")
    mv = client.get_model_version_by_alias(NAME, "champion")
    expect_version(mv, "1", "get_model_version_by_alias champion")
    expect_eq(mv.aliases, ["champion"], "aliases in the by-alias answer")
    # setting an existing alias moves it
    client.set_registered_model_alias(NAME, "champion", "2")
    expect_eq(client.get_model_version_by_alias(NAME, "champion").version, "2", "champion after re-pointing")
    expect_eq(client.get_model_version(NAME, "1").aliases, [], "version 1 aliases after re-pointing")
    expect_eq(sorted(client.get_model_version(NAME, "2").aliases), ["challenger", "champion"], "version 2 aliases")
    client.delete_registered_model_alias(NAME, "challenger")
    expect_eq(client.get_registered_model(NAME).aliases, {"champion": "2"}, "aliases after delete")
    exc = expect_mlflow_error(
        lambda: client.get_model_version_by_alias(NAME, "challenger"),
        "INVALID_PARAMETER_VALUE",
        "deleted alias",
        status=400,
    )
    expect("challenger" in exc.message, f"message does not name the alias: {exc.message!r}")
    expect_mlflow_error(
        lambda: client.get_model_version_by_alias(NAME, "never-set"), "INVALID_PARAMETER_VALUE", "unknown alias", status=400
    )
    client.delete_registered_model_alias(NAME, "never-set")  # deleting a missing alias is a no-op
    expect_mlflow_error(
        lambda: client.set_registered_model_alias(NAME, "latest", "1"), "INVALID_PARAMETER_VALUE", "reserved alias 'latest'", status=400
    )
    expect_mlflow_error(
        lambda: client.set_registered_model_alias(NAME, "v1", "1"), "INVALID_PARAMETER_VALUE", "version-like alias 'v1'", status=400
    )
    expect_mlflow_error(
        lambda: client.set_registered_model_alias(NAME, "bad alias!", "1"), "INVALID_PARAMETER_VALUE", "alias with bad characters", status=400
    )
    expect_mlflow_error(
        lambda: client.set_registered_model_alias(NAME, "ghost", "99"), "RESOURCE_DOES_NOT_EXIST", "alias to an unknown version", status=404
    )
    S.champion = "2"


@check("alias_of_unknown_model")
def _():
    # MLflow looks the alias up by (model, alias), so an unknown model is just an unknown alias
    expect_mlflow_error(
        lambda: client.get_model_version_by_alias(f"{PREFIX}-no-such", "champion"),
        "INVALID_PARAMETER_VALUE",
        "alias of an unknown model",
        status=400,
    )


# ---------------------------------------------------------------- stages


@check("transition_stages")
def _():
    expect(S.registered, "the versions were not registered")
    mv = client.transition_model_version_stage(NAME, "1", "staging")
    expect_eq(mv.current_stage, "Staging", "stage given in lower case comes back canonical")
    mv = client.transition_model_version_stage(NAME, "1", "Production")
    expect_version(mv, "1", "version 1 to Production", stage="Production")
    mv = client.transition_model_version_stage(NAME, "2", "Production", archive_existing_versions=True)
    expect_version(mv, "2", "version 2 to Production (archiving)", stage="Production")
    expect_eq(client.get_model_version(NAME, "1").current_stage, "Archived", "version 1 archived by the transition")
    expect_eq(
        [(v.version, v.current_stage) for v in client.get_latest_versions(NAME, stages=["Production"])],
        [("2", "Production")],
        "get_latest_versions Production",
    )
    expect_eq(
        [(v.version, v.current_stage) for v in client.get_latest_versions(NAME, stages=["Archived"])],
        [("1", "Archived")],
        "get_latest_versions Archived",
    )
    expect_eq(client.get_latest_versions(NAME, stages=["Staging"]), [], "get_latest_versions Staging")
    expect_eq(
        sorted((v.version, v.current_stage) for v in client.get_latest_versions(NAME)),
        [("1", "Archived"), ("2", "Production")],
        "get_latest_versions without stages",
    )
    expect_eq(
        sorted((v.version, v.current_stage) for v in client.get_registered_model(NAME).latest_versions),
        [("1", "Archived"), ("2", "Production")],
        "latest_versions on the model",
    )
    expect_mlflow_error(
        lambda: client.transition_model_version_stage(NAME, "1", "Retired"), "INVALID_PARAMETER_VALUE", "unknown stage", status=400
    )
    expect_mlflow_error(
        lambda: client.transition_model_version_stage(NAME, "9", "Staging"), "RESOURCE_DOES_NOT_EXIST", "unknown version", status=404
    )
    expect_eq(client.get_model_version(NAME, "1").current_stage, "Archived", "failed transition left version 1 alone")


# ---------------------------------------------------------------- tags and descriptions


@check("tags")
def _():
    expect(S.registered, "the versions were not registered")
    client.set_registered_model_tag(NAME, "task", "classification")
    client.set_registered_model_tag(NAME, "temp", "x")
    client.set_registered_model_tag(NAME, "task", "binary-classification")  # upsert
    expect_eq(client.get_registered_model(NAME).tags, {"task": "binary-classification", "temp": "x"}, "model tags")
    client.delete_registered_model_tag(NAME, "temp")
    expect_eq(client.get_registered_model(NAME).tags, {"task": "binary-classification"}, "model tags after delete")
    found = client.search_registered_models(filter_string=f"name LIKE '{PREFIX}%' AND tags.task = 'binary-classification'")
    expect_eq([rm.name for rm in found], [NAME], "search by model tag")
    client.set_model_version_tag(NAME, "1", "validated", "true")
    client.set_model_version_tag(NAME, "1", "temp", "y")
    client.set_model_version_tag(NAME, "2", "validated", "false")
    expect_eq(client.get_model_version(NAME, "1").tags, {"validated": "true", "temp": "y"}, "version 1 tags")
    client.delete_model_version_tag(NAME, "1", "temp")
    expect_eq(client.get_model_version(NAME, "1").tags, {"validated": "true"}, "version 1 tags after delete")
    expect_eq(client.get_model_version(NAME, "2").tags, {"validated": "false"}, "version 2 tags")
    found = client.search_model_versions(f"name='{NAME}' AND tags.validated = 'true'")
    expect_eq([mv.version for mv in found], ["1"], "search by version tag")
    expect_mlflow_error(
        lambda: client.set_model_version_tag(NAME, "9", "k", "v"), "RESOURCE_DOES_NOT_EXIST", "tag on an unknown version", status=404
    )


@check("delete_missing_tags")
def _():
    expect(S.registered, "the versions were not registered")
    # deleting a tag that is not there is a no-op for models and versions (unlike run tags)
    client.delete_model_version_tag(NAME, "1", "never-set")
    client.delete_registered_model_tag(NAME, "never-set")
    expect_eq(client.get_registered_model(NAME).tags, {"task": "binary-classification"}, "model tags")
    expect_eq(client.get_model_version(NAME, "1").tags, {"validated": "true"}, "version 1 tags")


@check("descriptions")
def _():
    expect(S.registered, "the versions were not registered")
    before = client.get_registered_model(NAME).last_updated_timestamp
    # both updates first, so that a wrong answer to one does not leave the other undone
    rm = client.update_registered_model(NAME, description="MLP on the breast-cancer features")
    mv = client.update_model_version(NAME, "1", description="first cut")
    expect_eq(rm.description, "MLP on the breast-cancer features", "returned model description")
    expect_eq(mv.description, "first cut", "returned version description")
    got = client.get_registered_model(NAME)
    expect_eq(got.description, "MLP on the breast-cancer features", "model description")
    expect(got.last_updated_timestamp >= before, "last_updated_timestamp went backwards")
    expect_eq(client.get_model_version(NAME, "1").description, "first cut", "version 1 description")
    expect_eq(client.get_model_version(NAME, "2").description, "", "version 2 description untouched")
    expect_eq(client.get_model_version(NAME, "1").current_stage, "Archived", "update kept the stage")
    expect_eq(rm.tags, {"task": "binary-classification"}, "returned model tags")
    expect_eq(
        sorted((v.version, v.current_stage) for v in rm.latest_versions),
        [("1", "Archived"), ("2", "Production")],
        "returned model latest_versions",
    )


# ---------------------------------------------------------------- download and load


@check("download_by_alias")
def _():
    expect_eq(S.champion, "2", "champion version")
    dst = os.path.join(WORK, "dl-alias")
    os.makedirs(dst)
    local = mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{NAME}@champion", dst_path=dst)
    files = files_under(local)
    # registered_model_meta is written by the client itself (the name and version it resolved)
    expect_eq(sorted(files), ["MLmodel", "model.onnx", "registered_model_meta"], "downloaded files")
    with open(files["registered_model_meta"]) as f:
        meta = yaml.safe_load(f)
    expect_eq(meta, {"model_name": NAME, "model_version": "2"}, "version the alias resolved to")
    expect_eq(sha256_of(files["model.onnx"]), FIXTURE_SHA256, "sha256 of the downloaded model.onnx")
    with open(files["MLmodel"], "rb") as got, open(os.path.join(S.model_dir, "MLmodel"), "rb") as want:
        expect_eq(got.read(), want.read(), "downloaded MLmodel bytes")
    dst2 = os.path.join(WORK, "dl-version")
    os.makedirs(dst2)
    one = mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{NAME}/1/model.onnx", dst_path=dst2)
    expect_eq(sha256_of(one), FIXTURE_SHA256, "sha256 of models:/<name>/1/model.onnx")


@check("load_model")
def _():
    expect(S.registered, "the versions were not registered")
    # Model.load, not get_model_info: the latter imports mlflow.pyfunc, which needs cloudpickle
    mlmodel = mlflow.models.Model.load(f"models:/{NAME}/1")
    expect_eq(sorted(mlmodel.flavors), ["onnx", "python_function"], "flavors")
    expect_eq(mlmodel.flavors["onnx"]["data"], "model.onnx", "onnx flavor data")
    expect_eq(mlmodel.run_id, S.run_id, "run_id in MLmodel")
    expect_eq(mlmodel.signature.to_dict(), S.signature.to_dict(), "signature")
    expect_eq(
        [(t.name, t.type, t.shape) for t in mlmodel.signature.inputs.inputs],
        [("input", np.dtype(np.float32), (-1, 30))],
        "signature inputs",
    )
    expect_eq(
        [(t.name, t.type, t.shape) for t in mlmodel.signature.outputs.inputs],
        [("probabilities", np.dtype(np.float32), (-1, 2))],
        "signature outputs",
    )
    onnx = optional_module("onnx", "mlflow.onnx.load_model")
    mlflow_onnx = onnx and optional_module("mlflow.onnx", "mlflow.onnx.load_model")
    if mlflow_onnx is None:
        return
    want = onnx.load(FIXTURE)
    for uri in (f"models:/{NAME}/1", f"models:/{NAME}/Production", f"models:/{NAME}@champion"):
        model = mlflow_onnx.load_model(uri)
        expect_eq([i.name for i in model.graph.input], ["input"], f"{uri}: graph inputs")
        expect_eq([o.name for o in model.graph.output], ["probabilities"], f"{uri}: graph outputs")
        expect(model.SerializeToString() == want.SerializeToString(), f"{uri}: graph differs from the fixture")
    pyfunc = optional_module("onnxruntime", "mlflow.pyfunc.load_model") and optional_module(
        "mlflow.pyfunc", "mlflow.pyfunc.load_model"
    )
    if pyfunc is None:
        return
    pyfunc_model = pyfunc.load_model(f"models:/{NAME}/1")
    x = np.full((1, 30), 1.0, dtype=np.float32)
    out = pyfunc_model.predict(x)
    expect_eq(np.asarray(out["probabilities"]).shape, (1, 2), "pyfunc prediction shape")


def expect_copy(copied, dst):
    expect_eq((copied.name, copied.version, copied.status), (dst, "1", "READY"), "the copy")
    expect_eq(copied.run_id, S.run_id, "run_id of the copy")
    expect_eq(copied.source, f"models:/{NAME}/1", "source of the copy")
    expect_eq(copied.description, "first cut", "description copied")
    expect_eq(copied.tags, {"validated": "true"}, "tags copied")
    expect_eq(copied.current_stage, "None", "stage of the copy")
    expect_eq(client.get_model_version(NAME, "1").current_stage, "Archived", "the source version is unchanged")
    # a models:/ source stands for the source version's storage location
    expect_eq(client.get_model_version_download_uri(dst, "1"), f"{S.artifact_uri}/model", "download uri of the copy")
    dst_dir = os.path.join(WORK, "dl-copy")
    os.makedirs(dst_dir)
    local = mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{dst}/1", dst_path=dst_dir)
    expect_eq(sha256_of(os.path.join(local, "model.onnx")), FIXTURE_SHA256, "sha256 of the copy's model.onnx")


@check("copy_model_version")
def _():
    expect(S.registered, "the versions were not registered")
    dst = f"{PREFIX}-copy"
    try:
        expect_copy(client.copy_model_version(f"models:/{NAME}/1", dst), dst)
    finally:
        # later checks count the models under PREFIX, so the copy goes even when a check above failed
        if client.search_registered_models(filter_string=f"name = '{dst}'"):
            client.delete_registered_model(dst)


# ---------------------------------------------------------------- rename, delete


@check("rename_registered_model")
def _():
    expect(S.registered, "the versions were not registered")
    client.rename_registered_model(NAME, RENAMED)  # the 2.12 client drops the server's answer
    S.current_name = RENAMED
    got = client.get_registered_model(RENAMED)
    expect_eq(got.description, "MLP on the breast-cancer features", "description follows")
    expect_eq(got.tags, {"task": "binary-classification"}, "tags follow")
    expect_eq(got.aliases, {"champion": "2"}, "aliases follow")
    expect_eq(
        sorted((v.name, v.version, v.current_stage) for v in got.latest_versions),
        [(RENAMED, "1", "Archived"), (RENAMED, "2", "Production")],
        "latest_versions follow",
    )
    expect_version(client.get_model_version(RENAMED, "1"), "1", "version 1 under the new name", stage="Archived")
    expect_eq(client.get_model_version(RENAMED, "1").tags, {"validated": "true"}, "version tags follow")
    expect_eq(client.get_model_version_by_alias(RENAMED, "champion").version, "2", "alias under the new name")
    expect_eq(versions_of(client.search_model_versions(f"name='{RENAMED}'")), ["1", "2"], "versions under the new name")
    expect_eq(client.search_model_versions(f"name='{NAME}'"), [], "versions under the old name")
    expect_mlflow_error(lambda: client.get_registered_model(NAME), "RESOURCE_DOES_NOT_EXIST", "old name", status=404)
    expect_mlflow_error(
        lambda: client.get_model_version(NAME, "1"), "RESOURCE_DOES_NOT_EXIST", "version under the old name", status=404
    )
    expect_mlflow_error(
        lambda: client.rename_registered_model(RENAMED, OTHERS[0]),
        "RESOURCE_ALREADY_EXISTS",
        "rename onto an existing model",
        status=400,
    )


@check("delete_model_version")
def _():
    name = S.current_name
    client.delete_model_version(name, "2")  # holds the champion alias and Production
    expect_mlflow_error(lambda: client.get_model_version(name, "2"), "RESOURCE_DOES_NOT_EXIST", "deleted version", status=404)
    expect_eq(versions_of(client.search_model_versions(f"name='{name}'")), ["1"], "versions after delete")
    rm = client.get_registered_model(name)
    expect_eq([(v.version, v.current_stage) for v in rm.latest_versions], [("1", "Archived")], "latest_versions after delete")
    # Deleting a version removes its aliases, after which the alias is unknown (400). MLflow 2.12.2's
    # SQL store means to do the same but compares the alias's integer version with the request's
    # string, so there the alias dangles and resolving it fails on the missing version (404).
    if rm.aliases:
        expect_eq(rm.aliases, {"champion": "2"}, "aliases after delete (2.12.2 SQL store: left dangling)")
        expect_mlflow_error(
            lambda: client.get_model_version_by_alias(name, "champion"),
            "RESOURCE_DOES_NOT_EXIST",
            "dangling alias of a deleted version",
            status=404,
        )
    else:
        expect_mlflow_error(
            lambda: client.get_model_version_by_alias(name, "champion"),
            "INVALID_PARAMETER_VALUE",
            "alias of a deleted version",
            status=400,
        )
    v3 = mlflow.register_model(f"runs:/{S.run_id}/model", name)
    expect_version(v3, "3", "register after deleting version 2 (numbers are not reused)")
    expect_eq(versions_of(client.search_model_versions(f"name='{name}'")), ["1", "3"], "versions after re-register")
    expect_mlflow_error(
        lambda: client.delete_model_version(name, "2"), "RESOURCE_DOES_NOT_EXIST", "deleting a deleted version", status=404
    )


@check("delete_registered_model")
def _():
    name = S.current_name
    client.delete_registered_model(name)
    expect_mlflow_error(lambda: client.get_registered_model(name), "RESOURCE_DOES_NOT_EXIST", "deleted model", status=404)
    expect_mlflow_error(lambda: client.get_model_version(name, "1"), "RESOURCE_DOES_NOT_EXIST", "version of a deleted model", status=404)
    expect_eq(client.search_model_versions(f"name='{name}'"), [], "versions of a deleted model")
    expect_eq(client.search_model_versions(f"run_id='{S.run_id}'"), [], "versions of the run after deleting its model")
    left = [rm.name for rm in client.search_registered_models(filter_string=f"name LIKE '{PREFIX}%'")]
    expect_eq(left, OTHERS, "models left")
    for other in OTHERS:
        client.delete_registered_model(other)
    expect_eq(client.search_registered_models(filter_string=f"name LIKE '{PREFIX}%'"), [], "models after deleting all")
    expect_mlflow_error(
        lambda: client.delete_registered_model(name), "RESOURCE_DOES_NOT_EXIST", "deleting a deleted model", status=404
    )
    # the run's artifacts are not the registry's: they stay
    listing = sorted(f.path for f in client.list_artifacts(S.run_id, "model"))
    expect_eq(listing, ["model/MLmodel", "model/model.onnx"], "run artifacts after deleting the model")
    # the name is free again and starts over at version 1
    again = mlflow.register_model(f"runs:/{S.run_id}/model", name)
    expect_eq(again.version, "1", "version of a re-created model")
    client.delete_registered_model(name)


# ---------------------------------------------------------------- done

if mlflow.active_run() is not None:
    mlflow.end_run()
shutil.rmtree(WORK, ignore_errors=True)
finish()
