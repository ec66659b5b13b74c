"""Anomaly models: which sessions and sequences are unusual, and why.

Two detectors per unit kind (playback sessions, or id / fixed / sliding sequences):

* ``deeplog.py``: an LSTM that predicts the next template; a unit whose observed template falls
  outside the top-k predictions (or outside the vocabulary) is flagged, naming that position;
* ``autoencoder.py``: reconstruction error of the unit's template counts and metrics; the reason
  names the features furthest from what the model expected.

``units.py`` reads the units, ``features.py`` holds the vocabulary and featurizer both share,
``training.py`` feeds torch through petastorm, ``registry.py`` talks to MLflow, ``scoring.py``
scores in parallel; the stages are ``train.py``, ``score.py``, ``evaluate.py`` (with ``labels.py``).
"""
