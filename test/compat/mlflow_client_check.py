#!/usr/bin/env python3
"""MLflow client compatibility check.

Drives the stock MLflow Python client (``import mlflow`` / ``mlflow.MlflowClient()``)
against the tracking server named by ``MLFLOW_TRACKING_URI`` and checks that what comes
back is what a real MLflow 2.12 server returns.

Every check prints ``ok <name>`` or ``FAIL <name>: <reason>``; the script carries on after
a failure, prints ``N passed, M failed`` at the end and exits 1 when anything failed
(2 when it cannot start at all).

Usage:
    MLFLOW_TRACKING_URI=http://127.0.0.1:PORT \\
    PYTHONPATH=<mlflow source tree>:<querystring-parser tree> \\
    /usr/bin/python3 test/compat/mlflow_client_check.py

All names created here start with ``compat-`` plus a random suffix, so the script can be
run repeatedly against the same server.
"""

import os
import sys

import filecmp  # noqa: E402
import math  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from check_harness import require_env, CheckError, State, check, expect, expect_eq, expect_mlflow_error, files_under, finish  # noqa: E402
import uuid  # noqa: E402

require_env("MLFLOW_TRACKING_URI")

try:
    import mlflow
    import mlflow.data
    import pandas as pd
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param, RunTag, ViewType
except Exception as exc:  # pragma: no cover - environment problem
    print(f"cannot import the MLflow client: {exc!r}", file=sys.stderr)
    sys.exit(2)

FLOAT_MAX = sys.float_info.max  # 1.7976931348623157e308, what MLflow's SQL store keeps for +-inf


def same_infinite(got, sign):
    """+-inf may come back as itself (Capstan keeps it) or clamped to +-FLOAT_MAX (MLflow's SQL store)."""
    return got in (sign * math.inf, sign * FLOAT_MAX)
SUFFIX = uuid.uuid4().hex[:8]
PREFIX = f"compat-{SUFFIX}"

S = State()


def same_float(a, b):
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def need_active_run():
    """The fluent API would silently start a new run when none is active; refuse instead."""
    run_id = S.run_id
    active = mlflow.active_run()
    expect(active is not None and active.info.run_id == run_id, "the run from start_run is not active")


def history(run_id, key):
    points = client.get_metric_history(run_id, key)
    return sorted(points, key=lambda m: (m.step, m.timestamp))


def same_tree(expected_root, actual_root, what):
    want = files_under(expected_root)
    got = files_under(actual_root)
    expect_eq(sorted(got), sorted(want), f"{what}: file list")
    for rel, path in want.items():
        expect(filecmp.cmp(path, got[rel], shallow=False), f"{what}: {rel} differs")


client = MlflowClient()
WORK = tempfile.mkdtemp(prefix="compat-mlflow-")

print(f"# tracking uri {mlflow.get_tracking_uri()}, mlflow {mlflow.__version__}, prefix {PREFIX}")

# ---------------------------------------------------------------- experiments


@check("set_experiment")
def _():
    name = f"{PREFIX}-main"
    expect(client.get_experiment_by_name(name) is None, "unknown experiment name did not give None")
    exp = mlflow.set_experiment(name)
    expect_eq(exp.name, name, "name")
    expect_eq(exp.lifecycle_stage, "active", "lifecycle_stage")
    expect(exp.experiment_id and exp.experiment_id.isdigit(), f"experiment_id {exp.experiment_id!r}")
    again = mlflow.set_experiment(name)
    expect_eq(again.experiment_id, exp.experiment_id, "second set_experiment id")
    by_id = mlflow.set_experiment(experiment_id=exp.experiment_id)
    expect_eq(by_id.name, name, "set_experiment(experiment_id=) name")
    S.main_exp_id = exp.experiment_id


@check("create_experiment_with_tags")
def _():
    name = f"{PREFIX}-b-tagged"
    exp_id = client.create_experiment(name, tags={"purpose": "compat", "owner": "ml-team"})
    expect(isinstance(exp_id, str) and exp_id.isdigit(), f"experiment_id {exp_id!r}")
    exp = client.get_experiment(exp_id)
    expect_eq(exp.name, name, "name")
    expect_eq(exp.tags.get("purpose"), "compat", "tag purpose")
    expect_eq(exp.tags.get("owner"), "ml-team", "tag owner")
    expect(exp.artifact_location, "artifact_location is empty")
    expect(exp.creation_time and exp.creation_time > 1_000_000_000_000, f"creation_time {exp.creation_time!r}")
    S.tagged_exp_id = exp_id
    S.tagged_exp_name = name
    # two more for the search ordering check
    S.other_exp_names = [f"{PREFIX}-a-first", f"{PREFIX}-c-last"]
    for other in S.other_exp_names:
        client.create_experiment(other)


@check("create_experiment_duplicate")
def _():
    expect_mlflow_error(
        lambda: client.create_experiment(S.tagged_exp_name),
        "RESOURCE_ALREADY_EXISTS",
        "duplicate experiment name",
    )


@check("get_experiment_by_name")
def _():
    exp = client.get_experiment_by_name(S.tagged_exp_name)
    expect(exp is not None, "got None")
    expect_eq(exp.experiment_id, S.tagged_exp_id, "experiment_id")
    expect_eq(exp.tags.get("purpose"), "compat", "tag purpose")
    expect(client.get_experiment_by_name(f"{PREFIX}-no-such") is None, "unknown name did not give None")


@check("search_experiments")
def _():
    ours = sorted([S.tagged_exp_name, *S.other_exp_names, f"{PREFIX}-main"])
    asc = client.search_experiments(filter_string="name LIKE 'compat%'", order_by=["name ASC"])
    names = [e.name for e in asc]
    expect(all(n.startswith("compat") for n in names), f"filter let through {names[:5]}")
    expect_eq([n for n in names if n.startswith(PREFIX)], ours, "our experiments, name ASC")
    expect_eq(names, sorted(names), "name ASC order")
    desc = client.search_experiments(filter_string="name LIKE 'compat%'", order_by=["name DESC"])
    dnames = [e.name for e in desc]
    expect_eq(dnames, sorted(dnames, reverse=True), "name DESC order")
    tagged = client.search_experiments(
        filter_string=f"name LIKE '{PREFIX}%' AND tags.purpose = 'compat'"
    )
    expect_eq([e.name for e in tagged], [S.tagged_exp_name], "tag filter")
    # paging: 4 experiments, 3 per page
    page1 = client.search_experiments(
        max_results=3, filter_string=f"name LIKE '{PREFIX}%'", order_by=["name ASC"]
    )
    expect_eq(len(page1), 3, "page 1 size")
    expect(page1.token, "page 1 has no next token")
    page2 = client.search_experiments(
        max_results=3,
        filter_string=f"name LIKE '{PREFIX}%'",
        order_by=["name ASC"],
        page_token=page1.token,
    )
    expect_eq([e.name for e in page1] + [e.name for e in page2], ours, "paged names")
    expect(not page2.token, f"last page still has a token {page2.token!r}")
    # a page that is exactly full: real MLflow looks ahead and sends no token; a token is
    # tolerated as long as it leads to an empty page
    full = client.search_experiments(max_results=4, filter_string=f"name LIKE '{PREFIX}%'")
    expect_eq(len(full), 4, "exactly full page size")
    if full.token:
        rest = client.search_experiments(
            max_results=4, filter_string=f"name LIKE '{PREFIX}%'", page_token=full.token
        )
        expect_eq(len(rest), 0, "page after an exactly full last page")
    expect_mlflow_error(
        lambda: client.search_experiments(filter_string="nosuch.x = 'y'"),
        "INVALID_PARAMETER_VALUE",
        "bad filter",
    )


@check("rename_experiment")
def _():
    new_name = f"{PREFIX}-b-renamed"
    client.rename_experiment(S.tagged_exp_id, new_name)
    expect_eq(client.get_experiment(S.tagged_exp_id).name, new_name, "name after rename")
    expect(client.get_experiment_by_name(S.tagged_exp_name) is None, "old name still resolves")
    expect_eq(client.get_experiment_by_name(new_name).experiment_id, S.tagged_exp_id, "new name id")
    S.tagged_exp_name = new_name


@check("delete_experiment")
def _():
    client.delete_experiment(S.tagged_exp_id)
    expect_eq(client.get_experiment(S.tagged_exp_id).lifecycle_stage, "deleted", "lifecycle_stage")
    active = [e.name for e in client.search_experiments(filter_string=f"name LIKE '{PREFIX}%'")]
    expect(S.tagged_exp_name not in active, "deleted experiment listed as active")
    deleted = client.search_experiments(
        view_type=ViewType.DELETED_ONLY, filter_string=f"name LIKE '{PREFIX}%'"
    )
    expect_eq([e.name for e in deleted], [S.tagged_exp_name], "DELETED_ONLY search")
    expect_mlflow_error(
        lambda: client.create_experiment(S.tagged_exp_name),
        "RESOURCE_ALREADY_EXISTS",
        "re-creating a deleted experiment's name",
    )


@check("restore_experiment")
def _():
    client.restore_experiment(S.tagged_exp_id)
    expect_eq(client.get_experiment(S.tagged_exp_id).lifecycle_stage, "active", "lifecycle_stage")
    active = [e.name for e in client.search_experiments(filter_string=f"name LIKE '{PREFIX}%'")]
    expect(S.tagged_exp_name in active, "restored experiment not listed")


# ---------------------------------------------------------------- one run, end to end


@check("start_run")
def _():
    run = mlflow.start_run(
        experiment_id=S.main_exp_id,
        run_name="compat-main-run",
        tags={"team": "ml-platform", "purpose": "compat"},
    )
    S.run_id = run.info.run_id
    expect(len(S.run_id) == 32 and all(c in "0123456789abcdef" for c in S.run_id), f"run_id {S.run_id!r}")
    expect_eq(run.info.run_name, "compat-main-run", "run_name")
    expect_eq(run.info.status, "RUNNING", "status")
    expect_eq(run.info.experiment_id, S.main_exp_id, "experiment_id")
    expect_eq(run.info.lifecycle_stage, "active", "lifecycle_stage")
    expect(run.info.artifact_uri, "artifact_uri empty")
    fetched = client.get_run(S.run_id)
    tags = fetched.data.tags
    expect_eq(tags.get("team"), "ml-platform", "tag team")
    expect_eq(tags.get("mlflow.runName"), "compat-main-run", "tag mlflow.runName")
    expect("mlflow.user" in tags, f"mlflow.user tag missing: {sorted(tags)}")
    expect_eq(fetched.info.run_name, "compat-main-run", "get_run run_name")


@check("log_param")
def _():
    need_active_run()
    mlflow.log_param("lr", 0.01)
    mlflow.log_param("lr", 0.01)  # same value again is allowed
    expect_eq(client.get_run(S.run_id).data.params.get("lr"), "0.01", "param lr")
    expect_mlflow_error(lambda: mlflow.log_param("lr", 0.02), "INVALID_PARAMETER_VALUE", "changing a param")


@check("log_params")
def _():
    need_active_run()
    mlflow.log_params({"batch_size": 32, "optimizer": "adam", "dropout": 0.5})
    params = client.get_run(S.run_id).data.params
    expect_eq(
        params,
        {"lr": "0.01", "batch_size": "32", "optimizer": "adam", "dropout": "0.5"},
        "params",
    )


ACC = [0.1, 0.3, 0.55, 0.7, 0.9]
NONFINITE = [1.5, float("nan"), float("inf"), float("-inf"), 2.5]
NONFINITE_BACK = [1.5, float("nan"), FLOAT_MAX, -FLOAT_MAX, 2.5]


@check("log_metric_steps")
def _():
    need_active_run()
    for step, value in enumerate(ACC):
        mlflow.log_metric("acc", value, step=step)
    for step, value in enumerate(NONFINITE):
        mlflow.log_metric("nonfinite", value, step=step)
    mlflow.log_metric("only_nan", float("nan"))
    mlflow.log_metric("only_inf", float("inf"))
    mlflow.log_metric("only_ninf", float("-inf"))
    metrics = client.get_run(S.run_id).data.metrics
    expect_eq(metrics.get("acc"), 0.9, "latest acc (highest step)")
    expect_eq(metrics.get("nonfinite"), 2.5, "latest nonfinite")
    expect(math.isnan(metrics.get("only_nan", 0.0)), f"only_nan came back as {metrics.get('only_nan')!r}")
    expect(same_infinite(metrics.get("only_inf"), 1), f"only_inf came back as {metrics.get('only_inf')!r}")
    expect(same_infinite(metrics.get("only_ninf"), -1), f"only_ninf came back as {metrics.get('only_ninf')!r}")


@check("log_metrics")
def _():
    need_active_run()
    mlflow.log_metrics({"loss": 0.25, "f1": 0.8}, step=7)
    mlflow.log_metrics({"loss": 0.125}, step=8)
    metrics = client.get_run(S.run_id).data.metrics
    expect_eq(metrics.get("loss"), 0.125, "latest loss")
    expect_eq(metrics.get("f1"), 0.8, "f1")
    hist = history(S.run_id, "loss")
    expect_eq([(m.step, m.value) for m in hist], [(7, 0.25), (8, 0.125)], "loss history")


@check("log_batch_1500_metrics")
def _():
    ts = int(time.time() * 1000)
    metrics = [Metric("batch_metric", i * 0.5, ts + i, i) for i in range(1500)]
    client.log_batch(
        S.run_id,
        metrics=metrics,
        params=[Param("batch_param", "x")],
        tags=[RunTag("batch_tag", "y")],
    )
    hist = history(S.run_id, "batch_metric")
    expect_eq(len(hist), 1500, "history length")
    expect_eq([m.step for m in hist], list(range(1500)), "steps")
    expect_eq([m.value for m in hist], [i * 0.5 for i in range(1500)], "values")
    expect_eq([m.timestamp for m in hist], [ts + i for i in range(1500)], "timestamps")
    run = client.get_run(S.run_id)
    expect_eq(run.data.params.get("batch_param"), "x", "batch param")
    expect_eq(run.data.tags.get("batch_tag"), "y", "batch tag")
    expect_eq(run.data.metrics.get("batch_metric"), 1499 * 0.5, "latest batch_metric")


@check("set_tag_delete_tag")
def _():
    need_active_run()
    mlflow.set_tag("stage", "draft")
    mlflow.set_tag("stage", "final")  # tags are upserts
    mlflow.set_tag("temp", "x")
    tags = client.get_run(S.run_id).data.tags
    expect_eq(tags.get("stage"), "final", "tag stage")
    expect_eq(tags.get("temp"), "x", "tag temp")
    client.delete_tag(S.run_id, "temp")
    tags = client.get_run(S.run_id).data.tags
    expect("temp" not in tags, "deleted tag still present")
    expect_eq(tags.get("stage"), "final", "other tag kept")
    expect_mlflow_error(
        lambda: client.delete_tag(S.run_id, "temp"), "RESOURCE_DOES_NOT_EXIST", "deleting a missing tag"
    )


@check("log_input")
def _():
    need_active_run()
    df = pd.DataFrame({"x1": [1.0, 2.0, 3.0, 4.0], "x2": ["a", "b", "c", "d"], "y": [0.0, 1.0, 0.0, 1.0]})
    # unique name: MLflow 2.12 stores one dataset per (name, digest) across all experiments and
    # hands back the first-logged source, so a fixed name would depend on earlier runs
    dataset = mlflow.data.from_pandas(df, name=f"{PREFIX}-dataset", targets="y")
    mlflow.log_input(dataset, context="training", tags={"split": "train"})
    inputs = client.get_run(S.run_id).inputs.dataset_inputs
    expect_eq(len(inputs), 1, "number of dataset inputs")
    got = inputs[0].dataset
    expect_eq(got.name, f"{PREFIX}-dataset", "dataset name")
    expect_eq(got.digest, dataset.digest, "dataset digest")
    expect_eq(got.source_type, dataset.source._get_source_type(), "source_type")
    expect_eq(got.source, dataset.source.to_json(), "source")
    expect_eq(got.schema, dataset._to_mlflow_entity().schema, "schema")
    expect_eq(got.profile, dataset._to_mlflow_entity().profile, "profile")
    tags = {t.key: t.value for t in inputs[0].tags}
    expect_eq(tags.get("mlflow.data.context"), "training", "context tag")
    expect_eq(tags.get("split"), "train", "extra input tag")
    # round trip back into a dataset object
    source = mlflow.data.get_source(inputs[0])
    expect_eq(source.to_json(), dataset.source.to_json(), "get_source")


@check("get_metric_history")
def _():
    acc = history(S.run_id, "acc")
    expect_eq(len(acc), len(ACC), "acc history length")
    expect_eq([m.step for m in acc], list(range(len(ACC))), "acc steps")
    expect_eq([m.value for m in acc], ACC, "acc values")
    expect(all(m.key == "acc" for m in acc), "metric key")
    expect(all(m.timestamp > 1_000_000_000_000 for m in acc), "timestamps are not milliseconds")
    nf = history(S.run_id, "nonfinite")
    expect_eq(len(nf), len(NONFINITE), "nonfinite history length")
    values = [m.value for m in nf]
    expect(
        all(same_float(a, b) or (math.isinf(b if abs(b) != FLOAT_MAX else math.copysign(math.inf, b)) and same_infinite(a, 1 if b > 0 else -1))
            for a, b in zip(values, NONFINITE_BACK)),
        f"nonfinite values: expected {NONFINITE_BACK!r}, got {values!r}",
    )
    expect_eq(client.get_metric_history(S.run_id, "never_logged"), [], "history of an unknown key")


@check("log_artifact_artifacts")
def _():
    need_active_run()
    src = os.path.join(WORK, "src")
    os.makedirs(os.path.join(src, "tree", "sub", "deeper"))
    with open(os.path.join(src, "hello.txt"), "w") as f:
        f.write("hello, artifacts\n")
    tree = os.path.join(src, "tree")
    with open(os.path.join(tree, "a.txt"), "w") as f:
        f.write("alpha\n" * 100)
    with open(os.path.join(tree, "sub", "b.bin"), "wb") as f:
        f.write(bytes(range(256)) * 16 + os.urandom(300_000))
    with open(os.path.join(tree, "sub", "deeper", "c.json"), "w") as f:
        f.write('{"k": [1, 2, 3], "unicode": "\u00e9\u4e2d"}\n')
    with open(os.path.join(tree, "sub", "empty.txt"), "wb") as f:
        pass
    mlflow.log_artifact(os.path.join(src, "hello.txt"))
    mlflow.log_artifact(os.path.join(src, "hello.txt"), artifact_path="copies/one")
    mlflow.log_artifacts(tree, artifact_path="tree")
    S.src = src


@check("list_artifacts")
def _():
    root = client.list_artifacts(S.run_id)
    listing = sorted((f.path, f.is_dir) for f in root)
    expect_eq(listing, [("copies", True), ("hello.txt", False), ("tree", True)], "root listing")
    hello = [f for f in root if f.path == "hello.txt"][0]
    expect_eq(hello.file_size, len("hello, artifacts\n"), "hello.txt size")
    sub = client.list_artifacts(S.run_id, "tree")
    expect_eq(sorted((f.path, f.is_dir) for f in sub), [("tree/a.txt", False), ("tree/sub", True)], "tree listing")
    deeper = client.list_artifacts(S.run_id, "tree/sub")
    sizes = {f.path: (f.is_dir, f.file_size) for f in deeper}
    b_size = os.path.getsize(os.path.join(S.src, "tree", "sub", "b.bin"))
    expect_eq(sizes.get("tree/sub/b.bin"), (False, b_size), "b.bin entry")
    # real MLflow omits a zero file_size from the listing, so the client sees None
    expect(sizes.get("tree/sub/empty.txt") in [(False, 0), (False, None)], f"empty.txt entry {sizes.get('tree/sub/empty.txt')!r}")
    expect_eq(sizes.get("tree/sub/deeper", (None,))[0], True, "deeper is a directory")
    expect_eq(client.list_artifacts(S.run_id, "no/such/dir"), [], "listing a missing directory")


@check("download_artifacts")
def _():
    dst = os.path.join(WORK, "dl-tree")
    os.makedirs(dst)  # MlflowClient.download_artifacts wants an existing directory
    local = client.download_artifacts(S.run_id, "tree", dst)
    same_tree(os.path.join(S.src, "tree"), local, "client.download_artifacts tree")
    dst2 = os.path.join(WORK, "dl-file")
    local_file = mlflow.artifacts.download_artifacts(run_id=S.run_id, artifact_path="hello.txt", dst_path=dst2)
    expect(filecmp.cmp(local_file, os.path.join(S.src, "hello.txt"), shallow=False), "hello.txt differs")
    dst3 = os.path.join(WORK, "dl-all")
    everything = mlflow.artifacts.download_artifacts(run_id=S.run_id, dst_path=dst3)
    expect_eq(
        sorted(files_under(everything)),
        sorted(
            ["hello.txt", "copies/one/hello.txt"]
            + ["tree/" + p for p in files_under(os.path.join(S.src, "tree"))]
        ),
        "whole-run download file list",
    )
    dst4 = os.path.join(WORK, "dl-uri")
    via_uri = mlflow.artifacts.download_artifacts(artifact_uri=f"runs:/{S.run_id}/tree/sub/b.bin", dst_path=dst4)
    expect(
        filecmp.cmp(via_uri, os.path.join(S.src, "tree", "sub", "b.bin"), shallow=False),
        "runs:/ download of b.bin differs",
    )


@check("end_run")
def _():
    need_active_run()
    mlflow.end_run()
    expect(mlflow.active_run() is None, "a run is still active")
    run = client.get_run(S.run_id)
    expect_eq(run.info.status, "FINISHED", "status")
    expect(run.info.end_time and run.info.end_time >= run.info.start_time, f"end_time {run.info.end_time!r}")
    expect_eq(run.data.metrics.get("acc"), 0.9, "metrics survive end_run")


@check("delete_run_restore_run")
def _():
    client.delete_run(S.run_id)
    expect_eq(client.get_run(S.run_id).info.lifecycle_stage, "deleted", "lifecycle_stage after delete")
    active = [r.info.run_id for r in client.search_runs([S.main_exp_id])]
    expect(S.run_id not in active, "deleted run listed as active")
    deleted = [r.info.run_id for r in client.search_runs([S.main_exp_id], run_view_type=ViewType.DELETED_ONLY)]
    expect_eq(deleted, [S.run_id], "DELETED_ONLY search")
    expect_mlflow_error(
        lambda: client.log_param(S.run_id, "late", "1"), "INVALID_PARAMETER_VALUE", "logging to a deleted run"
    )
    client.restore_run(S.run_id)
    expect_eq(client.get_run(S.run_id).info.lifecycle_stage, "active", "lifecycle_stage after restore")
    active = [r.info.run_id for r in client.search_runs([S.main_exp_id])]
    expect_eq(active, [S.run_id], "restored run listed")


# ---------------------------------------------------------------- search


SEARCH_RUNS = [
    # name, acc, lr, team, finish
    ("r-best", 0.95, "0.01", "ml-platform", True),
    ("r-good", 0.75, "0.01", "mlops", True),
    ("r-edge", 0.5, "0.01", "ml-platform", True),  # acc not > 0.5
    ("r-low", 0.2, "0.01", "ml-platform", True),
    ("r-otherlr", 0.9, "0.1", "ml-platform", True),
    ("r-otherteam", 0.85, "0.01", "data", True),
    ("r-running", 0.8, "0.01", "ml-platform", False),
    ("r-noacc", None, "0.01", "ml-platform", True),
]


@check("search_runs_setup")
def _():
    if mlflow.active_run() is not None:  # left over when end_run failed
        mlflow.end_run()
    exp_id = client.create_experiment(f"{PREFIX}-search")
    ids = {}
    for name, acc, lr, team, finish in SEARCH_RUNS:
        if finish:
            with mlflow.start_run(experiment_id=exp_id, run_name=name, tags={"team": team}) as run:
                mlflow.log_param("lr", lr)
                if acc is not None:
                    mlflow.log_metric("acc", acc - 0.3, step=0)
                    mlflow.log_metric("acc", acc, step=1)
            ids[name] = run.info.run_id
        else:
            # left RUNNING
            run = client.create_run(exp_id, run_name=name, tags={"team": team})
            client.log_param(run.info.run_id, "lr", lr)
            client.log_metric(run.info.run_id, "acc", acc, step=1)
            ids[name] = run.info.run_id
    S.search_exp_id = exp_id
    S.search_ids = ids
    all_runs = client.search_runs([exp_id], max_results=100)
    expect_eq(len(all_runs), len(SEARCH_RUNS), "number of runs")


@check("search_runs_filter")
def _():
    flt = "metrics.acc > 0.5 and params.lr = '0.01' and tags.team LIKE '%ml%' and attributes.status = 'FINISHED'"
    runs = client.search_runs([S.search_exp_id], filter_string=flt, order_by=["metrics.acc DESC"])
    expect_eq([r.info.run_name for r in runs], ["r-best", "r-good"], "matches, metrics.acc DESC")
    runs = client.search_runs([S.search_exp_id], filter_string=flt, order_by=["metrics.acc ASC"])
    expect_eq([r.info.run_name for r in runs], ["r-good", "r-best"], "matches, metrics.acc ASC")
    expect_eq(runs[0].data.metrics.get("acc"), 0.75, "latest acc in search result")
    expect_eq(runs[0].data.params.get("lr"), "0.01", "param in search result")
    # ordering over all runs; the run without acc sorts last in both directions
    names = [r.info.run_name for r in client.search_runs([S.search_exp_id], order_by=["metrics.acc DESC"])]
    expect_eq(names[-1], "r-noacc", "run without the metric sorts last (DESC)")
    expect_eq(names[:3], ["r-best", "r-otherlr", "r-otherteam"], "top 3 by acc DESC")
    names = [r.info.run_name for r in client.search_runs([S.search_exp_id], order_by=["metrics.acc ASC"])]
    expect_eq(names[-1], "r-noacc", "run without the metric sorts last (ASC)")
    expect_eq(names[0], "r-low", "lowest acc first (ASC)")
    running = client.search_runs([S.search_exp_id], filter_string="attributes.status = 'RUNNING'")
    expect_eq([r.info.run_name for r in running], ["r-running"], "status RUNNING filter")
    one = client.search_runs([S.search_exp_id], filter_string="attributes.run_name = 'r-edge'")
    expect_eq([r.info.run_id for r in one], [S.search_ids["r-edge"]], "run_name filter")
    expect_mlflow_error(
        lambda: client.search_runs([S.search_exp_id], filter_string="metrics.acc > 'x' or"),
        "INVALID_PARAMETER_VALUE",
        "unparsable filter",
    )
    df = mlflow.search_runs(experiment_ids=[S.search_exp_id], filter_string=flt, order_by=["metrics.acc DESC"])
    expect_eq(list(df["tags.mlflow.runName"]), ["r-best", "r-good"], "fluent search_runs DataFrame")
    expect_eq(list(df["metrics.acc"]), [0.95, 0.75], "DataFrame metrics.acc")


@check("search_runs_paging")
def _():
    seen = []
    pages = []
    token = None
    while True:
        page = client.search_runs(
            [S.search_exp_id], max_results=3, order_by=["attributes.run_name ASC"], page_token=token
        )
        pages.append(len(page))
        seen.extend(r.info.run_name for r in page)
        token = page.token
        if not token:
            break
        expect(len(pages) < 10, f"paging does not end: pages {pages}")
    expect_eq(seen, sorted(n for n, *_ in SEARCH_RUNS), "names over all pages")
    expect(all(p == 3 for p in pages[:-1]), f"page sizes {pages}")
    # 8 runs in pages of 4: two full pages, then (as real MLflow does) possibly an empty one
    seen = []
    token = None
    sizes = []
    for _ in range(5):
        page = client.search_runs([S.search_exp_id], max_results=4, page_token=token)
        sizes.append(len(page))
        seen.extend(r.info.run_id for r in page)
        token = page.token
        if not token:
            break
    expect(sizes[:2] == [4, 4] and all(s == 0 for s in sizes[2:]), f"page sizes {sizes}")
    expect_eq(sorted(seen), sorted(S.search_ids.values()), "run ids over all pages")
    expect_mlflow_error(
        lambda: client.search_runs([S.search_exp_id], max_results=3, page_token="not-a-token"),
        "INVALID_PARAMETER_VALUE",
        "undecodable page token",
    )


# ---------------------------------------------------------------- errors


@check("get_run_unknown")
def _():
    started = time.monotonic()
    exc = expect_mlflow_error(lambda: client.get_run(uuid.uuid4().hex), "RESOURCE_DOES_NOT_EXIST", "unknown run")
    expect(time.monotonic() - started < 5, "took too long")
    expect(exc.get_http_status_code() == 404, f"http status {exc.get_http_status_code()}")
    expect_mlflow_error(
        lambda: client.get_experiment("987654321"), "RESOURCE_DOES_NOT_EXIST", "unknown experiment id"
    )


# ---------------------------------------------------------------- done

if mlflow.active_run() is not None:
    mlflow.end_run()
shutil.rmtree(WORK, ignore_errors=True)
finish()
