"""Train: scikit-learn logistic regression on the training split, logged to the step's MLflow run
(MLFLOW_TRACKING_URI and MLFLOW_RUN_ID come from Capstan), exported to ONNX with the onnx package."""
import argparse
import json
import os

import mlflow
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

parser = argparse.ArgumentParser()
parser.add_argument("--data", required=True)
parser.add_argument("--c", type=float, default=1.0)
parser.add_argument("--out", required=True)
args = parser.parse_args()

table = np.loadtxt(args.data, delimiter=",", skiprows=1)
features = open(args.data).readline().strip().split(",")[:-1]
x, y = table[:, :-1], table[:, -1].astype(int)
idx = np.arange(len(y))
train_idx, test_idx = train_test_split(idx, test_size=0.2, random_state=42, stratify=y)
fit_idx, val_idx = train_test_split(train_idx, test_size=0.2, random_state=43, stratify=y[train_idx])

scaler = StandardScaler().fit(x[fit_idx])
model = LogisticRegression(C=args.c, max_iter=5000).fit(scaler.transform(x[fit_idx]), y[fit_idx])
val_auc = roc_auc_score(y[val_idx], model.predict_proba(scaler.transform(x[val_idx]))[:, 1])

# The same graph as the TypeScript example: standardize, linear, sigmoid, both class probabilities.
init = [
    numpy_helper.from_array(scaler.mean_.astype(np.float32), "mean"),
    numpy_helper.from_array(scaler.scale_.astype(np.float32), "std"),
    numpy_helper.from_array(model.coef_.T.astype(np.float32), "weights"),
    numpy_helper.from_array(model.intercept_.astype(np.float32), "intercept"),
    numpy_helper.from_array(np.array([1.0], dtype=np.float32), "one"),
]
nodes = [
    helper.make_node("Sub", ["input", "mean"], ["centered"]),
    helper.make_node("Div", ["centered", "std"], ["scaled"]),
    helper.make_node("MatMul", ["scaled", "weights"], ["product"]),
    helper.make_node("Add", ["product", "intercept"], ["logit"]),
    helper.make_node("Sigmoid", ["logit"], ["p1"]),
    helper.make_node("Sub", ["one", "p1"], ["p0"]),
    helper.make_node("Concat", ["p0", "p1"], ["probabilities"], axis=1),
    helper.make_node("ArgMax", ["probabilities"], ["label"], axis=1, keepdims=0),
]
graph = helper.make_graph(
    nodes, "logistic_regression",
    [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", len(features)])],
    [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 2]), helper.make_tensor_value_info("label", TensorProto.INT64, ["N"])],
    init,
)
onnx_model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="scikit-learn")
onnx.checker.check_model(onnx_model)
os.makedirs(args.out, exist_ok=True)
onnx.save(onnx_model, os.path.join(args.out, "model.onnx"))
with open(os.path.join(args.out, "model.json"), "w") as f:
    json.dump({"mean": scaler.mean_.tolist(), "std": scaler.scale_.tolist(), "coef": model.coef_[0].tolist(), "intercept": float(model.intercept_[0]), "test": test_idx.tolist()}, f)

# The run is Capstan's: mlflow.start_run picks up MLFLOW_RUN_ID.
with mlflow.start_run():
    mlflow.log_params({"C": args.c, "solver": model.solver, "features": len(features)})
    mlflow.log_metrics({"train_accuracy": model.score(scaler.transform(x[fit_idx]), y[fit_idx]), "val_auc": val_auc})
print(f"C={args.c}: validation AUC {val_auc:.4f}")
