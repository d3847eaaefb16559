"""Evaluate: keeps the candidate with the best validation AUC and scores it on the held-out rows,
overall and per slice (mean radius below/above the median); metrics go to MLflow and to Capstan."""
import argparse
import json
import os
import shutil

import mlflow
import numpy as np
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

parser = argparse.ArgumentParser()
parser.add_argument("--data", required=True)
parser.add_argument("--models", required=True, help="a directory, or a JSON list of them (one per matrix instance)")
parser.add_argument("--scores", required=True, help="their validation AUCs, in the same form")
parser.add_argument("--out", required=True)
args = parser.parse_args()

as_list = lambda v: json.loads(v) if v.strip().startswith("[") else [v]
dirs, scores = as_list(args.models), [float(s) for s in as_list(args.scores)]
best = int(np.argmax(scores))
params = json.load(open(os.path.join(dirs[best], "model.json")))
table = np.loadtxt(args.data, delimiter=",", skiprows=1)
rows = table[params["test"]]
x, y = rows[:, :-1], rows[:, -1].astype(int)
z = ((x - np.array(params["mean"])) / np.array(params["std"])) @ np.array(params["coef"]) + params["intercept"]
p1 = 1 / (1 + np.exp(-z))
pred = (p1 >= 0.5).astype(int)
small = x[:, 0] < np.median(x[:, 0])
slice_f1 = [f1_score(y[m], pred[m]) for m in (small, ~small)]
metrics = {
    "accuracy": accuracy_score(y, pred), "f1": f1_score(y, pred), "roc_auc": roc_auc_score(y, p1),
    "worst_slice_f1": min(slice_f1), "slice_f1_gap": max(slice_f1) - min(slice_f1),
}
os.makedirs(args.out, exist_ok=True)
shutil.copy(os.path.join(dirs[best], "model.onnx"), os.path.join(args.out, "model.onnx"))
with open(os.path.join(args.out, "card.json"), "w") as f:
    json.dump({
        "intended_use": "An example of Capstan pipelines with Python steps. Not for clinical use.",
        "training_data": "Breast Cancer Wisconsin (Diagnostic), UCI (CC BY 4.0); 20% held out, stratified, seed 42.",
        "metrics_summary": f"Held-out: accuracy {metrics['accuracy']:.3f}, F1 {metrics['f1']:.3f}, ROC AUC {metrics['roc_auc']:.3f}.",
        "fairness": f"F1 by mean radius below/above the median: {slice_f1[0]:.3f} / {slice_f1[1]:.3f}.",
    }, f, indent=2)
with mlflow.start_run():
    mlflow.log_metrics(metrics)
    mlflow.log_param("candidate", best)
print("::metric " + " ".join(f"{k}={v}" for k, v in metrics.items()))
