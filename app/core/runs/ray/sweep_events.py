"""What sweep.py sends Node besides its own lines: the relay's trial events, in order, and the
end of each trial. A module of its own so that Tune saves its callback by reference (a class
of the main script would be pickled by value, with the lock)."""

import json
import threading

import ray
from bridge import say
from ray import tune

_forward_lock = threading.Lock()


def drain(relay):
    """Forwards what the relay holds; one drainer at a time, so events keep their order."""
    with _forward_lock:
        forward(ray.get(relay.drain.remote()))


relay = None  # this process's relay actor (set by sweep.py)


class Ended(tune.Callback):
    """Tells Node as soon as Tune is done with a trial (completed, stopped by ASHA, or failed),
    after every event the trial sent: Node records its outcome then, not at the sweep's end.
    Stateless: Tune saves it with its state, and a restored sweep's copy uses the new relay."""

    def _ended(self, trial, error):
        drain(relay)
        result = trial.last_result or {}
        say({"key": trial.trial_id, "type": "ended", "evaluations": result.get("evaluation", 0), "error": error})

    def on_trial_complete(self, iteration, trials, trial, **info):
        self._ended(trial, None)

    def on_trial_error(self, iteration, trials, trial, **info):
        self._ended(trial, "the trial failed on Ray (its log is in Ray's session folder)")


def forward(drained):
    for key, lines in drained.items():
        for line in lines:
            if isinstance(line, dict):
                if "trial" in line:
                    say({"key": key, "type": "trial", "params": {k: plain(v) for k, v in line["trial"].items()}, "config": line["config"]})
            else:
                say({"key": key, "type": "event", "event": json.loads(line)})


def plain(v):
    return v.item() if hasattr(v, "item") else v
