"""The ModelRollout traffic-splitting router (data plane).

Modules: `config` (the config model), `selection` (which variant serves), `upstream` (calls to
model servers), `proxy` (the data port), `mirror` (shadow calls), `compare` (predictions and
agreement), `measure` and `stats` (counters and the `/stats` model), `metrics` (Prometheus),
`feedback` (accuracy from labels), `admin` (the admin port), `state` and `sources` (the config in
force and where it comes from), `app` (the process), `cli`.
"""

__all__: list[str] = []
