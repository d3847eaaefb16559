#!/usr/bin/env python3
"""MLflow client check against a Capstan server with authentication on.

Drives the stock MLflow Python client (``import mlflow`` / ``mlflow.MlflowClient()``) the way a
user of a secured tracking server would: credentials come from ``MLFLOW_TRACKING_TOKEN`` or
``MLFLOW_TRACKING_USERNAME``/``MLFLOW_TRACKING_PASSWORD``, and a project is chosen with the
tracking URI's path prefix ``/projects/<name>``.

Every check prints ``ok <name>`` or ``FAIL <name>: <reason>``; the script carries on after a
failure, prints ``N passed, M failed`` at the end and exits 1 when anything failed (2 when it
cannot start at all).

Environment:
    MLFLOW_TRACKING_URI     the server's root, e.g. http://127.0.0.1:PORT (no project prefix)
    COMPAT_WRITE_TOKEN      API token (scope write) of an account with the editor role in 'default'
    COMPAT_READ_TOKEN       API token (scope read) of an account with the viewer role in 'default'
    COMPAT_USER             a user with the editor role in 'default' and in COMPAT_PROJECT
    COMPAT_PASSWORD         that user's password
    COMPAT_PROJECT          a second project (default: vision); COMPAT_READ_TOKEN's account and
                            COMPAT_WRITE_TOKEN's account must not be members of it

Usage:
    MLFLOW_TRACKING_URI=http://127.0.0.1:PORT COMPAT_WRITE_TOKEN=... COMPAT_READ_TOKEN=... \\
    COMPAT_USER=alice COMPAT_PASSWORD=... \\
    PYTHONPATH=<mlflow source tree>:<querystring-parser tree> \\
    /usr/bin/python3 test/compat/mlflow_auth_check.py

All names created here start with ``auth-`` plus a random suffix, so the script can be run
repeatedly against the same server.
"""

import os
import sys

# Fail fast instead of retrying for minutes: these must be set before mlflow is imported.
os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")

import filecmp  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from check_harness import CheckError, State, check, expect, expect_eq, expect_mlflow_error, files_under, finish  # noqa: E402
import uuid  # noqa: E402

NEEDED = ("MLFLOW_TRACKING_URI", "COMPAT_WRITE_TOKEN", "COMPAT_READ_TOKEN", "COMPAT_USER", "COMPAT_PASSWORD")
missing = [name for name in NEEDED if not os.environ.get(name)]
if missing:
    print(f"not set: {', '.join(missing)}", file=sys.stderr)
    sys.exit(2)

try:
    import mlflow
    import requests
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException
except Exception as exc:  # pragma: no cover - environment problem
    print(f"cannot import the MLflow client: {exc!r}", file=sys.stderr)
    sys.exit(2)

BASE_URI = os.environ["MLFLOW_TRACKING_URI"].rstrip("/")
WRITE_TOKEN = os.environ["COMPAT_WRITE_TOKEN"]
READ_TOKEN = os.environ["COMPAT_READ_TOKEN"]
USER = os.environ["COMPAT_USER"]
PASSWORD = os.environ["COMPAT_PASSWORD"]
PROJECT = os.environ.get("COMPAT_PROJECT") or "vision"
PROJECT_URI = f"{BASE_URI}/projects/{PROJECT}"

# Whatever the calling shell has must not leak into the checks: each one chooses its credentials.
CREDENTIAL_VARS = (
    "MLFLOW_TRACKING_TOKEN",
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_TRACKING_AUTH",
    "MLFLOW_TRACKING_CLIENT_CERT_PATH",
)

PREFIX = f"auth-{uuid.uuid4().hex[:8]}"
S = State()


def expect_refused(fn, code, status, what):
    return expect_mlflow_error(fn, code, what, status)


def use(token=None, username=None, password=None, uri=BASE_URI, keep_run=False):
    """Switches the process to these credentials and tracking URI; returns a fresh client.

    MLflow 2.12 reads the credential variables on every request, so setting them is all a user
    would do between two sessions. A run a failed check left active is ended first, with the
    credentials that started it, unless ``keep_run``.
    """
    if not keep_run and mlflow.active_run() is not None:
        try:
            mlflow.end_run()
        except MlflowException:
            while mlflow.active_run() is not None:
                mlflow.tracking.fluent._active_run_stack.pop()
    for var in CREDENTIAL_VARS:
        os.environ.pop(var, None)
    if token is not None:
        os.environ["MLFLOW_TRACKING_TOKEN"] = token
    if username is not None:
        os.environ["MLFLOW_TRACKING_USERNAME"] = username
    if password is not None:
        os.environ["MLFLOW_TRACKING_PASSWORD"] = password
    os.environ["MLFLOW_TRACKING_URI"] = uri
    mlflow.set_tracking_uri(uri)
    return MlflowClient()


def wire(method, uri, path, token=None, username=None, password=None, **kwargs):
    """The raw HTTP answer for the same request, to see the status on the wire."""
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    auth = (username, password) if username is not None else None
    return requests.request(method, f"{uri}{path}", headers=headers, auth=auth, timeout=10, **kwargs)


def expect_wire(response, status, code, what):
    expect_eq(response.status_code, status, f"{what}: HTTP status")
    try:
        body = response.json()
    except ValueError:
        raise CheckError(f"{what}: body is not JSON: {response.text[:200]!r}") from None
    expect_eq(body.get("error_code"), code, f"{what}: error_code in the body")


WORK = tempfile.mkdtemp(prefix="auth-mlflow-")


def write_file(rel, data):
    path = os.path.join(WORK, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return path


ACC = [0.2, 0.45, 0.6, 0.85]

print(f"# tracking uri {BASE_URI}, project uri {PROJECT_URI}, mlflow {mlflow.__version__}, prefix {PREFIX}")


# ---------------------------------------------------------------- (a), (b) a whole run, two ways to sign in


def lifecycle(who, creds):
    """A run from start to finish, with artifacts through the mlflow-artifacts: proxy."""
    state = {}

    @check(f"{who}_create_experiment")
    def _():
        client = use(**creds)
        name = f"{PREFIX}-{who}"
        exp_id = client.create_experiment(name, tags={"signed_in_with": who})
        expect(isinstance(exp_id, str) and exp_id.isdigit(), f"experiment_id {exp_id!r}")
        exp = client.get_experiment_by_name(name)
        expect(exp is not None, "get_experiment_by_name gave None")
        expect_eq(exp.experiment_id, exp_id, "experiment_id by name")
        expect_eq(exp.tags.get("signed_in_with"), who, "experiment tag")
        expect(exp.artifact_location.startswith("mlflow-artifacts:"), f"artifact_location {exp.artifact_location!r}")
        state["exp_id"] = exp_id

    @check(f"{who}_start_run_log_metric_log_param")
    def _():
        client = use(**creds, keep_run=True)
        if "exp_id" not in state:
            raise CheckError("no experiment (an earlier check failed)")
        run = mlflow.start_run(experiment_id=state["exp_id"], run_name=f"{who}-run", tags={"who": who})
        state["run_id"] = run.info.run_id
        expect_eq(run.info.status, "RUNNING", "status")
        expect(run.info.artifact_uri.startswith("mlflow-artifacts:"), f"artifact_uri {run.info.artifact_uri!r}")
        mlflow.log_param("lr", "0.01")
        mlflow.log_param("optimizer", "adam")
        for step, value in enumerate(ACC):
            mlflow.log_metric("acc", value, step=step)
        mlflow.log_metrics({"loss": 0.5}, step=0)
        got = client.get_run(run.info.run_id)
        expect_eq(got.data.params, {"lr": "0.01", "optimizer": "adam"}, "params")
        expect_eq(got.data.metrics.get("acc"), ACC[-1], "latest acc")
        expect_eq(got.data.tags.get("who"), who, "tag who")

    @check(f"{who}_log_artifact_upload_download")
    def _():
        client = use(**creds, keep_run=True)
        run_id = state.get("run_id")
        active = mlflow.active_run()
        expect(active is not None and active.info.run_id == run_id, "the run from start_run is not active")
        small = write_file(f"{who}/notes.txt", f"signed in with {who}\n".encode())
        big = write_file(f"{who}/weights.bin", bytes(range(256)) * 64 + os.urandom(200_000))
        mlflow.log_artifact(small)
        mlflow.log_artifact(big, artifact_path="model")
        listing = sorted((f.path, f.is_dir) for f in client.list_artifacts(run_id))
        expect_eq(listing, [("model", True), ("notes.txt", False)], "root listing")
        inner = {f.path: f.file_size for f in client.list_artifacts(run_id, "model")}
        expect_eq(inner, {"model/weights.bin": os.path.getsize(big)}, "model/ listing")
        dst = os.path.join(WORK, f"{who}-download")
        os.makedirs(dst)
        local = client.download_artifacts(run_id, "model/weights.bin", dst)
        expect(filecmp.cmp(local, big, shallow=False), "downloaded weights.bin differs")
        everything = mlflow.artifacts.download_artifacts(run_id=run_id, dst_path=os.path.join(WORK, f"{who}-all"))
        expect_eq(sorted(files_under(everything)), ["model/weights.bin", "notes.txt"], "whole-run download")
        expect(filecmp.cmp(os.path.join(everything, "notes.txt"), small, shallow=False), "notes.txt differs")

    @check(f"{who}_end_run_search_runs_get_metric_history")
    def _():
        client = use(**creds, keep_run=True)
        run_id = state.get("run_id")
        active = mlflow.active_run()
        expect(active is not None and active.info.run_id == run_id, "the run from start_run is not active")
        mlflow.end_run()
        expect_eq(client.get_run(run_id).info.status, "FINISHED", "status after end_run")
        found = client.search_runs(
            [state["exp_id"]],
            filter_string="metrics.acc > 0.5 and params.lr = '0.01' and attributes.status = 'FINISHED'",
            order_by=["metrics.acc DESC"],
        )
        expect_eq([r.info.run_id for r in found], [run_id], "search_runs")
        expect_eq(found[0].data.metrics.get("acc"), ACC[-1], "acc in the search result")
        none = client.search_runs([state["exp_id"]], filter_string="metrics.acc > 0.9")
        expect_eq(len(none), 0, "search_runs with a filter nothing matches")
        points = sorted(client.get_metric_history(run_id, "acc"), key=lambda m: m.step)
        expect_eq([(m.step, m.value) for m in points], list(enumerate(ACC)), "acc history")
        setattr(S, f"{who}_exp_id", state["exp_id"])
        setattr(S, f"{who}_run_id", run_id)

    return state


lifecycle("token", {"token": WRITE_TOKEN})
lifecycle("basic", {"username": USER, "password": PASSWORD})


# ---------------------------------------------------------------- (c), (d) refused sign-ins


@check("no_credentials_unauthenticated")
def _():
    client = use()
    expect_refused(lambda: client.search_experiments(), "UNAUTHENTICATED", 401, "search_experiments")
    expect_refused(lambda: client.get_run(S.token_run_id), "UNAUTHENTICATED", 401, "get_run")
    expect_refused(lambda: mlflow.start_run(experiment_id=S.token_exp_id), "UNAUTHENTICATED", 401, "start_run")
    expect(mlflow.active_run() is None, "a refused start_run left an active run")
    expect_wire(
        wire("GET", BASE_URI, "/api/2.0/mlflow/experiments/search?max_results=1"),
        401, "UNAUTHENTICATED", "GET experiments/search without credentials",
    )
    expect_wire(
        wire("GET", BASE_URI, f"/api/2.0/mlflow-artifacts/artifacts/{S.token_exp_id}/{S.token_run_id}/artifacts/notes.txt"),
        401, "UNAUTHENTICATED", "artifact download without credentials",
    )


@check("wrong_password_unauthenticated")
def _():
    # two failures: below the lockout threshold (5 by default), and the sign-in below clears them,
    # so the script can run again against the same server
    client = use(username=USER, password=PASSWORD + "-wrong")
    expect_refused(lambda: client.search_experiments(), "UNAUTHENTICATED", 401, "search_experiments")
    expect_wire(
        wire("GET", BASE_URI, "/api/2.0/mlflow/experiments/search?max_results=1", username=USER, password=PASSWORD + "-wrong"),
        401, "UNAUTHENTICATED", "GET experiments/search with a wrong password",
    )
    time.sleep(1.2)  # past auth.cache_ms, so the right password is verified (and the failures reset) again
    client = use(username=USER, password=PASSWORD)
    expect_eq(client.get_experiment(S.basic_exp_id).experiment_id, S.basic_exp_id, "right password afterwards")


@check("unknown_token_unauthenticated")
def _():
    client = use(token="capstan_" + "A" * 43)
    expect_refused(lambda: client.search_experiments(), "UNAUTHENTICATED", 401, "made-up capstan_ token")
    client = use(token="not-a-token-at-all")
    expect_refused(lambda: client.search_experiments(), "UNAUTHENTICATED", 401, "garbage bearer token")


# ---------------------------------------------------------------- (e) a read-only token


@check("read_token_reads")
def _():
    client = use(token=READ_TOKEN)
    run_id = S.token_run_id
    exp = client.get_experiment(S.token_exp_id)
    expect_eq(exp.name, f"{PREFIX}-token", "experiment name")
    names = [e.name for e in client.search_experiments(filter_string=f"name LIKE '{PREFIX}%'")]
    expect_eq(sorted(names), [f"{PREFIX}-basic", f"{PREFIX}-token"], "search_experiments")
    expect_eq(client.get_run(run_id).data.params.get("lr"), "0.01", "param lr")
    found = client.search_runs([S.token_exp_id], filter_string="metrics.acc > 0.5")
    expect_eq([r.info.run_id for r in found], [run_id], "search_runs")
    points = sorted(client.get_metric_history(run_id, "acc"), key=lambda m: m.step)
    expect_eq([m.value for m in points], ACC, "get_metric_history")
    expect_eq(sorted(f.path for f in client.list_artifacts(run_id)), ["model", "notes.txt"], "list_artifacts")
    dst = os.path.join(WORK, "reader-download")
    os.makedirs(dst)
    local = client.download_artifacts(run_id, "notes.txt", dst)
    with open(local, "rb") as f:
        expect_eq(f.read(), b"signed in with token\n", "downloaded notes.txt")


@check("read_token_cannot_write")
def _():
    client = use(token=READ_TOKEN)
    exp_id = S.token_exp_id
    before = len(client.search_runs([exp_id]))
    expect_refused(lambda: client.create_run(exp_id), "PERMISSION_DENIED", 403, "create_run")
    expect_refused(lambda: mlflow.start_run(experiment_id=exp_id), "PERMISSION_DENIED", 403, "start_run")
    expect(mlflow.active_run() is None, "a refused start_run left an active run")
    expect_refused(lambda: client.log_metric(S.token_run_id, "acc", 0.0, step=99), "PERMISSION_DENIED", 403, "log_metric")
    expect_refused(lambda: client.log_param(S.token_run_id, "new", "x"), "PERMISSION_DENIED", 403, "log_param")
    expect_refused(lambda: client.create_experiment(f"{PREFIX}-by-reader"), "PERMISSION_DENIED", 403, "create_experiment")
    expect_eq(len(client.search_runs([exp_id])), before, "number of runs after the refusals")
    expect_eq(client.get_run(S.token_run_id).data.metrics.get("acc"), ACC[-1], "acc after a refused log_metric")
    expect_wire(
        wire("POST", BASE_URI, "/api/2.0/mlflow/runs/create", token=READ_TOKEN, json={"experiment_id": exp_id}),
        403, "PERMISSION_DENIED", "POST runs/create with a read token",
    )
    upload = wire(
        "PUT", BASE_URI, f"/api/2.0/mlflow-artifacts/artifacts/{exp_id}/{S.token_run_id}/artifacts/sneaky.txt",
        token=READ_TOKEN, data=b"nope",
    )
    expect_wire(upload, 403, "PERMISSION_DENIED", "artifact upload with a read token")
    expect("sneaky.txt" not in [f.path for f in client.list_artifacts(S.token_run_id)], "refused upload was stored")


# ---------------------------------------------------------------- (f) a project chosen by the tracking URI


@check("project_prefix_create_experiment")
def _():
    name = f"{PREFIX}-in-{PROJECT}"
    inside = use(username=USER, password=PASSWORD, uri=PROJECT_URI)
    exp_id = inside.create_experiment(name)
    expect(isinstance(exp_id, str) and exp_id.isdigit(), f"experiment_id {exp_id!r}")
    got = inside.get_experiment_by_name(name)
    expect(got is not None and got.experiment_id == exp_id, f"get_experiment_by_name with the prefix: {got!r}")
    listed = [e.name for e in inside.search_experiments(filter_string=f"name LIKE '{PREFIX}%'")]
    expect_eq(listed, [name], f"search_experiments in project {PROJECT}")
    outside = use(username=USER, password=PASSWORD)
    listed = [e.name for e in outside.search_experiments(filter_string=f"name LIKE '{PREFIX}%'")]
    expect(name not in listed, f"the {PROJECT} experiment is listed in the default project: {listed}")
    expect_eq(sorted(listed), [f"{PREFIX}-basic", f"{PREFIX}-token"], "search_experiments in the default project")
    expect(outside.get_experiment_by_name(name) is None, "get_experiment_by_name finds it without the prefix")
    S.project_exp_id = exp_id
    S.project_exp_name = name


@check("project_prefix_names_are_per_project")
def _():
    outside = use(username=USER, password=PASSWORD)
    same_name = outside.create_experiment(S.project_exp_name)
    expect(same_name != S.project_exp_id, "the default project's experiment reused the other project's id")
    inside = use(username=USER, password=PASSWORD, uri=PROJECT_URI)
    expect_eq(inside.get_experiment_by_name(S.project_exp_name).experiment_id, S.project_exp_id, "name in the project")
    outside = use(username=USER, password=PASSWORD)
    expect_eq(outside.get_experiment_by_name(S.project_exp_name).experiment_id, same_name, "name in default")


@check("project_prefix_run_with_artifacts")
def _():
    client = use(username=USER, password=PASSWORD, uri=PROJECT_URI)
    src = write_file(f"{PROJECT}/labels.txt", b"cat\ndog\n")
    with mlflow.start_run(experiment_id=S.project_exp_id, run_name="in-project") as run:
        mlflow.log_param("backbone", "resnet")
        mlflow.log_metric("map", 0.5, step=0)
        mlflow.log_metric("map", 0.7, step=1)
        mlflow.log_artifact(src, artifact_path="meta")
    run_id = run.info.run_id
    found = client.search_runs([S.project_exp_id], filter_string="params.backbone = 'resnet'")
    expect_eq([r.info.run_id for r in found], [run_id], "search_runs in the project")
    expect_eq([m.value for m in sorted(client.get_metric_history(run_id, "map"), key=lambda m: m.step)], [0.5, 0.7], "history")
    dst = os.path.join(WORK, f"{PROJECT}-download")
    os.makedirs(dst)
    local = client.download_artifacts(run_id, "meta/labels.txt", dst)
    expect(filecmp.cmp(local, src, shallow=False), "downloaded labels.txt differs")
    S.project_run_id = run_id


@check("project_prefix_non_members_refused")
def _():
    # the viewer and CI accounts belong only to the default project
    reader = use(token=READ_TOKEN, uri=PROJECT_URI)
    expect_refused(lambda: reader.search_experiments(), "PERMISSION_DENIED", 403, "read token, search in the project")
    writer = use(token=WRITE_TOKEN, uri=PROJECT_URI)
    expect_refused(lambda: writer.create_experiment(f"{PREFIX}-ci-in-{PROJECT}"), "PERMISSION_DENIED", 403, "write token, create in the project")
    # objects are checked against their own project, whichever project the request names
    reader = use(token=READ_TOKEN)
    expect_refused(lambda: reader.get_run(S.project_run_id), "PERMISSION_DENIED", 403, "read token, get_run of a project run")
    expect_refused(lambda: reader.get_experiment(S.project_exp_id), "PERMISSION_DENIED", 403, "read token, get_experiment of a project experiment")


# ---------------------------------------------------------------- done

shutil.rmtree(WORK, ignore_errors=True)
finish()
