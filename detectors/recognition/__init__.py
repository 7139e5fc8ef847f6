"""Learned recognition: image features from the shipped models and the cue detectors, per-kind heads, example bank.

`features` turns one image (and the cue evidence found on it) into named feature blocks; `heads` scores them
with small calibrated linear models stored as JSON in `weights/`; `bank` holds operator-confirmed examples and
votes by nearest neighbours; `stage` is the screener stage that emits the learned evidence; `train` fits the
heads with scikit-learn under grouped cross-validation (training only: run time needs numpy alone).
"""
